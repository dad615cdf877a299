"""A real, private Slurm cluster for the tests (tests/slurm/start.sh): one node, 2 fake GPUs as
GRES, started once per test session in a directory of its own under /tmp (free ports, its own
munge), stopped at the end. ``SLURM_CONF`` is exported for the session, so the code under test
finds Slurm as it would on a cluster.

Use: ``from slurm_support import slurm_cluster  # noqa: F401`` in a test module, then ask for
``slurm_cluster``; a test module that breaks its cluster (a node set DOWN) starts its own with
``private_cluster()``. Skipped, with the reason, only where Slurm cannot be had: not installed and
not root (start.sh installs Debian's packages as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent / "slurm"
GPUS = 2


@dataclass(frozen=True)
class Cluster:
    dir: Path
    conf: Path
    gpus: int
    started_in: float  # seconds start.sh took

    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}


def _installed() -> bool:
    return all(shutil.which(b, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
               for b in ("munged", "slurmctld", "slurmd", "sbatch", "squeue"))


def start_cluster(**settings: str) -> Cluster:
    """Start a one-node cluster in a directory of its own (``settings``: start.sh's JOBFLOW_SLURM_*
    environment); ``RuntimeError`` with start.sh's last words when it does not start."""
    directory = Path(tempfile.mkdtemp(prefix="jobflow-slurm-"))
    env = {**os.environ, "JOBFLOW_SLURM_GPUS": str(GPUS), **settings}
    t0 = time.monotonic()
    proc = subprocess.run([str(SCRIPTS / "start.sh"), str(directory)], capture_output=True, text=True,
                          env=env, timeout=900)  # the first run may install the packages
    cluster = Cluster(directory, directory / "etc" / "slurm.conf", GPUS, time.monotonic() - t0)
    if proc.returncode:
        stop_cluster(cluster)
        raise RuntimeError(f"the private Slurm cluster did not start: {proc.stderr.strip()[-800:]}")
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    subprocess.run([str(SCRIPTS / "stop.sh"), str(cluster.dir)], capture_output=True, timeout=120)
    shutil.rmtree(cluster.dir, ignore_errors=True)


@contextmanager
def private_cluster(**settings: str):
    """Start a cluster of its own (``settings``: start.sh's JOBFLOW_SLURM_* environment, e.g.
    ``JOBFLOW_SLURM_MEMORY="cgroup"``), with ``SLURM_CONF`` pointing at it until it stops; the
    ``SLURM_CONF`` it replaced (the session's cluster) comes back after. Skips where Slurm cannot be had."""
    if os.geteuid() != 0:
        if not _installed():
            pytest.skip("Slurm is not installed, and only root may install it (tests/slurm/install.sh)")
        pytest.skip("the private Slurm cluster runs its daemons as root (tests/slurm/start.sh)")
    try:
        cluster = start_cluster(**settings)
    except RuntimeError as err:
        pytest.fail(str(err))
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
        stop_cluster(cluster)


@pytest.fixture(scope="session")
def slurm_cluster():
    with private_cluster() as cluster:
        yield cluster


def restart_slurmctld(cluster: Cluster, timeout: float = 30.0) -> None:
    """Stop the cluster's slurmctld (SIGTERM: it saves its state) and start it again from its
    state directory, as an admin's restart does; back once it answers."""
    pids = cluster.dir / "pids"
    rows = [line.split() for line in pids.read_text().splitlines() if line.strip()]
    pid = int(next(p for name, p in rows if name == "slurmctld"))
    os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    env = cluster.env()
    env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/sbin"
    pidfile = cluster.dir / "run" / "slurmctld.pid"
    pidfile.unlink(missing_ok=True)
    subprocess.run(["slurmctld", "-f", str(cluster.conf)], env=env, check=True, timeout=timeout,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.monotonic() < deadline:
        if pidfile.exists() and pidfile.read_text().strip() and subprocess.run(
                ["sinfo", "-h"], env=env, capture_output=True, timeout=10).returncode == 0:
            new = pidfile.read_text().strip()
            pids.write_text("".join(f"{name} {new if name == 'slurmctld' else p}\n" for name, p in rows))
            return
        time.sleep(0.1)
    raise AssertionError("slurmctld did not come back")

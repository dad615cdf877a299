"""The tutorials run under nbval (`pytest --nbval-lax notebooks/`) against a private daemon that
the magics start by themselves, in a throw-away state directory; it is stopped at the end.

The environment is set just before the first notebook runs (not at import: the tests in tests/ must
not see it), by a hook rather than a fixture: nbval starts the kernel while setting up the notebook,
before any fixture of its cells, and the kernel inherits the environment it starts with. The daemon
is started by the first notebook's kernel and inherits that environment too, so whatever a later
notebook needs from it (Slurm's configuration for 06-slurm) is there from the first notebook on.

06-slurm needs a reachable Slurm. Where none is configured and this runs as root, a private
one-node cluster is started for it (tests/slurm/start.sh, which installs Slurm where it may), once,
and only when 06-slurm is collected; it is stopped at the end. Elsewhere the notebook says, in one
line, that it skips its cells."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

TUTORIAL_ENV = {"JOBFLOW_SIMULATED_GPUS": "2", "JOBFLOW_URL": None, "JOBFLOW_TOKEN": None}
TESTS = Path(__file__).resolve().parent.parent / "tests"
_saved: dict = {}
_slurm: dict = {}  # "cluster": the private cluster (slurm_support.Cluster)


def _apply(env: dict) -> None:
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _configured_slurm() -> bool:
    conf = os.environ.get("SLURM_CONF") or "/etc/slurm/slurm.conf"
    return os.path.exists(conf) and shutil.which("sbatch") is not None


def _start_private_slurm() -> None:
    """A private one-node cluster for 06-slurm, when there is no Slurm and we may start one."""
    if _configured_slurm() or os.geteuid() != 0:
        return
    sys.path.insert(0, str(TESTS))
    from slurm_support import start_cluster  # the tests' own cluster (tests/slurm/start.sh)

    try:
        _slurm["cluster"] = start_cluster()
    except RuntimeError as err:
        print(f"notebooks/conftest.py: no private Slurm for 06-slurm: {err}", file=sys.stderr)


def pytest_collection_finish(session):
    if any(str(item.fspath).endswith("06-slurm.ipynb") for item in session.items):
        _start_private_slurm()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if _saved or not str(item.fspath).endswith(".ipynb"):
        return
    env = {**TUTORIAL_ENV, "JOBFLOW_HOME": tempfile.mkdtemp(prefix="jobflow-tutorial-")}
    if "cluster" in _slurm:
        env["SLURM_CONF"] = str(_slurm["cluster"].conf)
    _saved.update({key: os.environ.get(key) for key in env})
    _saved["__home__"] = env["JOBFLOW_HOME"]
    _apply(env)


def pytest_sessionfinish(session):
    home = _saved.pop("__home__", None)
    if home is not None:
        subprocess.run([sys.executable, "-m", "jupyter_jobflow.cli", "jobflow", "stop", "--state-dir", home],
                       capture_output=True, timeout=60)
        _apply(_saved)
        _saved.clear()
    if "cluster" in _slurm:
        from slurm_support import stop_cluster

        stop_cluster(_slurm.pop("cluster"))

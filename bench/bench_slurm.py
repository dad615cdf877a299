"""Slurm benchmarks (issue: Slurm). Prints one RESULT line per figure.

    .venv/bin/python bench/bench_slurm.py [--chain 6] [--jobs 500] [--window 60]

a. Hand-off on Slurm, side by side in one run: a chain of ``--chain`` jobs (``true``) submitted
   through jobflow with Slurm's native ``--dependency`` (the engine hands each job over at once),
   the same chain held by us (each job submitted when its parent ended), and Slurm's own
   ``sbatch -d afterok:`` chain without jobflow. Figure: wall time from the first submission to
   the last end, and per link.
b. Controller load: ``--jobs`` Slurm jobs active at once (pending or waiting on a file), watched by
   one SlurmExecutor with the default poll policy (1 s, back-off x2 to 30 s): squeue and sacct
   calls per minute over ``--window`` seconds (target: at most one squeue per poll, whatever the
   number of jobs; SlurmCommands counts every call).

Needs Slurm: ``SLURM_CONF`` of a cluster, else (as root) a private one from tests/slurm/start.sh.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import result  # noqa: E402

from jupyter_jobflow.core.slurmpoll import PollPolicy  # noqa: E402
from jupyter_jobflow.engine.executors import LaunchRequest  # noqa: E402
from jupyter_jobflow.engine.executors.slurm import SlurmExecutor  # noqa: E402
from jupyter_jobflow.engine.executors.slurmcmd import SlurmCommands  # noqa: E402
from jupyter_jobflow.engine.service import JobService  # noqa: E402

FAST = PollPolicy(fastest=0.1, slowest=0.5, watched=0.2)  # what a watched pipeline gets


def until(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("bench_slurm: timed out")
        time.sleep(0.02)


def jobflow_chain(tmp: Path, n: int, native: bool) -> float:
    svc = JobService(tmp / f"state-{native}", simulated_gpus=0, default_executor="slurm", slurm_poll=FAST).start()
    try:
        if not native:  # held by us: the engine never hands a job over before its parents ended
            svc.engine.executors["slurm"].native_dependency = lambda *a, **k: None
        t0 = time.monotonic()
        ids = [svc.submit(["true"], cwd=str(tmp)).id]
        for _ in range(n - 1):
            ids.append(svc.submit(["true"], cwd=str(tmp), dependency=f"afterok:{ids[-1]}").id)
        until(lambda: svc.get(ids[-1]).state.terminal, 60 + 10 * n)
        took = time.monotonic() - t0
        assert all(svc.get(j).state.value == "Finished" for j in ids), [svc.get(j).state for j in ids]
        return took
    finally:
        svc.close()


def sbatch_chain(tmp: Path, n: int) -> float:
    cmd = SlurmCommands()
    script = tmp / "true.sh"
    script.write_text("#!/bin/sh\ntrue\n")
    t0 = time.monotonic()
    ids: list[int] = []
    for _ in range(n):
        dep = [f"--dependency=afterok:{ids[-1]}"] if ids else []
        ids.append(cmd.sbatch(["sbatch", "--parsable", f"--output={tmp}/sb-%j.out", *dep, str(script)]))

    def done() -> bool:
        row = cmd.squeue([ids[-1]]).get(ids[-1])
        return row is not None and row.outcome is not None and row.outcome.ended
    until(done, 60 + 10 * n)
    return time.monotonic() - t0


def controller_load(tmp: Path, jobs: int, window: float) -> None:
    ex = SlurmExecutor(tmp / "state-load")  # the default poll policy
    gate = tmp / "gate"
    ex.bind(lambda event: None)
    t0 = time.monotonic()
    handles = []
    for i in range(1, jobs + 1):
        req = LaunchRequest(i, 1, ("sh", "-c", f"while [ ! -e {gate} ]; do sleep 1; done"), str(tmp),
                            {"PATH": os.environ["PATH"]}, name=f"load{i}")
        handles.append(ex.launch(req))
    result("slurm.load.submit", f"{jobs} jobs in {time.monotonic() - t0:.1f} s", "sbatch, one per job")
    before = dict(ex.cmd.calls)
    polls0 = ex.polls
    t1 = time.monotonic()
    for (i, h) in enumerate(handles, 1):
        ex.watch(i, 1, h)
    time.sleep(window)
    minutes = (time.monotonic() - t1) / 60
    squeue = ex.cmd.calls["squeue"] - before.get("squeue", 0)
    sacct = ex.cmd.calls["sacct"] - before.get("sacct", 0)
    polls = ex.polls - polls0
    result("slurm.load.squeue_per_min", f"{squeue / minutes:.1f}",
           f"{squeue} squeue calls in {window:g} s for {jobs} active jobs; {polls} polls (target: squeue <= polls)")
    result("slurm.load.sacct_per_min", f"{sacct / minutes:.1f}", "sacct only for jobs that left the queue")
    result("slurm.load.squeue_per_poll", f"{squeue / max(1, polls):.2f}", "one batched call per poll")
    ex.close()
    gate.touch()
    ex.cmd.scancel([h["slurm_id"] for h in handles])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--chain", type=int, default=6)
    p.add_argument("--jobs", type=int, default=500)
    p.add_argument("--window", type=float, default=60.0)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="jobflow-bench-slurm-"))
    cluster = None
    if not os.environ.get("SLURM_CONF"):
        cluster = Path(tempfile.mkdtemp(prefix="jobflow-slurm-"))  # beside tmp: munged wants its parents 0755
        out = subprocess.run([str(ROOT / "tests/slurm/start.sh"), str(cluster)], capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"bench_slurm: no Slurm: {out.stderr.strip()[-300:]}")
        os.environ["SLURM_CONF"] = str(cluster / "etc/slurm.conf")
    try:
        n = args.chain
        native, held, plain = jobflow_chain(tmp, n, True), jobflow_chain(tmp, n, False), sbatch_chain(tmp, n)
        for key, took in (("native", native), ("held", held), ("sbatch_d", plain)):
            result(f"slurm.handoff.{key}", f"{took:.2f} s for {n} jobs, {took / n:.2f} s per link",
                   {"native": "jobflow, Slurm's --dependency", "held": "jobflow, held by our scheduler",
                    "sbatch_d": "bare sbatch -d afterok chain"}[key])
        controller_load(tmp, args.jobs, args.window)
    finally:
        if cluster is not None:
            subprocess.run([str(ROOT / "tests/slurm/stop.sh"), str(cluster)], capture_output=True)
            shutil.rmtree(cluster, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Slurm's commands against a REAL private cluster (tests/slurm_support.py): the sbatch argv we
build, one squeue for many jobs, native dependencies honoured by Slurm itself, scancel, sacct and
scontrol for ended and pending jobs, a TIMEOUT, GPUs as GRES.

Slurm's time limits are whole minutes and slurmctld looks at them every 30 s: the one TIMEOUT job
gets its 1-minute limit cut to 0 (``scontrol update TimeLimit=-1``) when this module starts, and a
test at the end waits for what is left of those 30 s."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from slurm_support import slurm_cluster  # noqa: F401  (the session's cluster)

from jupyter_jobflow.core.depspec import parse
from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.model import Job, JobState
from jupyter_jobflow.core.slurmrules import Native, Parent, native_dependency, sbatch_argv
from jupyter_jobflow.engine.executors.slurmcmd import SlurmCommands

pytestmark = pytest.mark.timeout(240)


class Submitter:
    """Jobs of ours submitted through ``sbatch_argv``; ``ids`` maps our ids to Slurm's."""

    def __init__(self, directory: Path):
        self.dir, self.cmd, self.ids, self.next = directory, SlurmCommands(timeout=30), {}, 1

    def submit(self, body: str, *, name: str = "t", extra: tuple[str, ...] = (), dependency: str | None = None,
               auto_cancel: bool = True, **fields) -> int:
        our = self.next
        self.next += 1
        script = self.dir / f"job{our}.sh"
        script.write_text(f"#!/bin/sh\n{body}\n")
        dep = None
        if dependency:
            parents = {o: Parent(s) for o, s in self.ids.items()}
            dep = native_dependency(parse(dependency), parents, auto_cancel=auto_cancel, now=time.time(),
                                    min_job_age=3600)
            assert isinstance(dep, Native), dep
        argv = sbatch_argv(Job(id=our, name=name, command=("sh",), cwd=str(self.dir), **fields), str(script),
                           log_path=str(self.dir / f"job{our}.log"), dependency=dep)
        self.ids[our] = self.cmd.sbatch([*argv[:-1], *extra, argv[-1]])
        return our

    def log(self, our: int) -> str:
        path = self.dir / f"job{our}.log"
        return path.read_text() if path.exists() else ""

    def until_ended(self, ours, timeout: float = 30.0):
        """Poll (one squeue a round) until every job ended; Slurm's rows by our id."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.cmd.squeue(self.ids[o] for o in ours)
            done = {o: rows.get(self.ids[o]) for o in ours}
            if all(r is not None and r.outcome is not None and r.outcome.ended for r in done.values()):
                return done
            assert time.monotonic() < deadline, {o: r and r.state for o, r in done.items()}
            time.sleep(0.2)


@pytest.fixture(scope="module")
def jobs(slurm_cluster, tmp_path_factory):  # noqa: F811
    sub = Submitter(tmp_path_factory.mktemp("slurm-jobs"))
    # submitted first, checked last (Slurm enforces limits on a 30 s tick)
    sub.timeout_job = sub.submit("sleep 600", name="overtime", time_limit=60)
    assert sub.cmd.scontrol_job(sub.ids[sub.timeout_job])["TimeLimit"] == "00:01:00"
    assert sub.cmd.run(["scontrol", "update", f"jobid={sub.ids[sub.timeout_job]}", "TimeLimit=-1"]).returncode == 0
    return sub


def test_a_batch_script_runs_with_our_argv_and_one_squeue_reports_many_jobs(jobs):
    ok = jobs.submit("echo hello from $SLURM_JOB_ID", name="hello")
    bad = jobs.submit("exit 3")
    slow = jobs.submit("sleep 30")
    before = jobs.cmd.calls["squeue"]
    rows = jobs.cmd.squeue([jobs.ids[ok], jobs.ids[bad], jobs.ids[slow]])
    assert jobs.cmd.calls["squeue"] == before + 1 and set(rows) == {jobs.ids[ok], jobs.ids[bad], jobs.ids[slow]}
    ended = jobs.until_ended([ok, bad])
    assert ended[ok].outcome.state is JobState.FINISHED and ended[ok].outcome.exit_code == 0
    assert ended[bad].outcome.state is JobState.FAILED and str(ended[bad].outcome.reason) == "ExitCode:3"
    assert f"hello from {jobs.ids[ok]}" in jobs.log(ok)  # Slurm's --output is our log file
    jobs.cmd.scancel([jobs.ids[slow]])
    gone = jobs.until_ended([slow])[slow].outcome
    assert gone.state is JobState.CANCELLED and str(gone.reason) == "Cancelled"


def test_a_poll_of_50_jobs_is_one_squeue_call_and_one_scancel(jobs):
    many = [jobs.submit("true", extra=("--hold",)) for _ in range(50)]
    before = dict(jobs.cmd.calls)
    rows = jobs.cmd.squeue(jobs.ids[o] for o in many)
    assert jobs.cmd.calls["squeue"] - before.get("squeue", 0) == 1
    assert len(rows) == 50 and {r.outcome.state for r in rows.values()} == {JobState.HOLD}
    jobs.cmd.scancel(jobs.ids[o] for o in many)
    assert jobs.cmd.calls["scancel"] - before.get("scancel", 0) == 1
    assert {r.outcome.state for r in jobs.until_ended(many).values()} == {JobState.CANCELLED}


def test_native_dependencies_are_honoured_by_slurm(jobs):
    ok = jobs.submit("sleep 1; exit 0", name="ok")
    bad = jobs.submit("sleep 1; exit 3", name="bad")
    cases = {
        f"afterok:{ok}": JobState.FINISHED,
        f"afterok:{bad}": JobState.CANCELLED,
        f"afternotok:{bad}": JobState.FINISHED,
        f"afternotok:{ok}": JobState.CANCELLED,
        f"afterany:{bad}": JobState.FINISHED,
        f"afterok:{bad}?afterok:{ok}": JobState.FINISHED,
        f"afterok:{ok},afternotok:{bad}": JobState.FINISHED,
        f"afterok:{ok},afterok:{bad}": JobState.CANCELLED,
    }
    children = {jobs.submit("date +%s.%N", dependency=dep): want for dep, want in cases.items()}
    kept = jobs.submit("true", dependency=f"afterok:{bad}", auto_cancel=False)
    ended = jobs.until_ended([ok, bad, *children])
    parent_end = max(ended[ok].end, ended[bad].end)
    for child, want in children.items():
        got = ended[child].outcome
        assert got.state is want, (child, ended[child])
        if want is JobState.FINISHED:
            assert ended[child].start >= min(ended[ok].end, ended[bad].end)  # not before its parent ended
    assert ended[ok].end <= parent_end
    # the failed parent is named: Slurm's id, which the executor turns back into ours
    show = jobs.cmd.scontrol_job(jobs.ids[list(children)[1]])
    assert show["Reason"] == "DependencyNeverSatisfied" and f"afterok:{jobs.ids[bad]}(failed)" in show["Dependency"]
    # --no-auto-cancel: Slurm keeps it pending, as we do (Queued, DependencyNeverSatisfied)
    waiting = jobs.cmd.squeue([jobs.ids[kept]])[jobs.ids[kept]]
    assert waiting.outcome.state is JobState.QUEUED and waiting.reason == "DependencyNeverSatisfied"
    jobs.cmd.scancel([jobs.ids[kept]])


def test_a_pending_job_tells_its_reason_and_an_ended_one_its_exit_code_after_the_queue(jobs):
    later = jobs.submit("true", extra=("--begin=now+1hour",))
    show = jobs.cmd.scontrol_job(jobs.ids[later])
    assert show["JobState"] == "PENDING" and show["Reason"] == "BeginTime"
    row = jobs.cmd.squeue([jobs.ids[later]])[jobs.ids[later]]
    assert str(row.outcome.reason) == "Slurm:BeginTime"
    jobs.cmd.scancel([jobs.ids[later]])
    bad = jobs.submit("exit 4")
    jobs.until_ended([bad])
    # no slurmdbd here: plain sacct says accounting is off, and `sacct -c` reads the completion file
    acct = jobs.cmd.sacct([jobs.ids[bad]])
    assert acct[jobs.ids[bad]].state == "FAILED" and acct[jobs.ids[bad]].exit_code == 4
    assert jobs.cmd._sacct_mode == "sacct -c"
    assert jobs.cmd.scontrol_job(999_999) is None and jobs.cmd.squeue([999_999]) == {}


def test_gpus_become_gres_and_the_job_sees_its_devices(jobs, slurm_cluster):  # noqa: F811
    one = jobs.submit('echo "CVD=$CUDA_VISIBLE_DEVICES"', gpus=1)
    two = jobs.submit('echo "CVD=$CUDA_VISIBLE_DEVICES"', gpus=2)
    jobs.until_ended([one, two])
    assert "CVD=0\n" in jobs.log(one) and "CVD=0,1\n" in jobs.log(two)
    with pytest.raises(InvalidSpec, match="Slurm refused the job"):
        jobs.submit("true", gpus=slurm_cluster.gpus + 1)


def test_zz_a_slurm_timeout_is_our_timeout_with_its_limit(jobs):
    # named zz_ to run last where the order is the file's: the job has been running meanwhile
    got = jobs.until_ended([jobs.timeout_job], timeout=60)[jobs.timeout_job].outcome
    assert got.state is JobState.TIMEOUT and got.reason.kind == "TimeLimit" and got.reason.args == {"limit": 0}

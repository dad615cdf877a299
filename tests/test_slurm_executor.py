"""Jobs on a REAL private Slurm cluster (tests/slurm_support.py) through the whole service: the
dependency scenarios end in the same states on Slurm as on this machine, a Slurm chain goes on
while the host is stopped (and while slurmctld restarts), what the user sees (SlurmJobId, the
executor, Slurm's pending reason), and the one-line error where Slurm is missing.

No test waits for a time limit or a delay: the host's clock is a FakeClock; the host polls Slurm
fast (a tight PollPolicy); every wait is a bounded loop."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers import stop_everything, until
from slurm_support import restart_slurmctld, slurm_cluster  # noqa: F401  (the session's cluster)

from jupyter_jobflow.cli.render import show
from jupyter_jobflow.core.errors import InvalidSpec, NotFound
from jupyter_jobflow.core.model import JobState
from jupyter_jobflow.core.slurmpoll import PollPolicy
from jupyter_jobflow.core.wire import job_to_json
from jupyter_jobflow.engine.clock import FakeClock
from jupyter_jobflow.engine.executors.slurm import SlurmExecutor
from jupyter_jobflow.engine.executors.slurmcmd import SlurmCommands, SlurmJob
from jupyter_jobflow.engine.service import JobService

pytestmark = pytest.mark.timeout(180)
FAST = PollPolicy(fastest=0.1, slowest=0.5, watched=0.2)
F, X, C, T, Q = JobState.FINISHED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT, JobState.QUEUED


def service(state: Path, executor: str, clock=None) -> JobService:
    return JobService(state, simulated_gpus=2, kill_grace=1.0, default_executor=executor, slurm_poll=FAST,
                      clock=clock or time.time).start()



def started(svc, jid):
    return until(f"job {jid} to start", lambda: svc.get(jid).started_at is not None)


def terminal(svc, ids, timeout=40.0):
    until(f"jobs {ids} to end", lambda: all(svc.get(j).state.terminal for j in ids), timeout)


@pytest.fixture(params=["local", "slurm"])
def executor(request):
    if request.param == "slurm":
        request.getfixturevalue("slurm_cluster")
    return request.param


#: name -> (state, reason kind, exit code): the same on both executors
EXPECTED = {
    "ok": (F, None, 0), "afterok": (F, None, 0), "bad": (X, "ExitCode", 3), "afternotok": (F, None, 0),
    "afterok_bad": (C, "DependencyFailed", None), "afterany": (F, None, 0), "or": (F, None, 0),
    "and": (C, "DependencyFailed", None), "keep": (Q, "DependencyNeverSatisfied", None),
    "slow": (F, None, 0), "after_delay": (F, None, 0), "single1": (F, None, 0), "single2": (F, None, 0),
    "victim": (C, "CancelledByUser", None), "after_cancelled": (C, "DependencyFailed", None),
    "limited": (T, "TimeLimit", None), "after_timeout": (C, "DependencyFailed", None),
    "task0": (F, None, 0), "task1": (F, None, 0), "after_array": (F, None, 0),
    "local": (F, None, 0), "after_local": (F, None, 0),
}


def test_the_dependency_scenarios_end_the_same_on_slurm_as_here(tmp_path, executor):
    clock = FakeClock(time.time())
    svc = service(tmp_path / "state", executor, clock)
    try:
        def sub(cmd, **kw):
            return svc.submit(["sh", "-c", cmd], cwd=str(tmp_path), **kw).id

        def wait(name):
            return f"while [ ! -e {tmp_path / name} ]; do sleep 0.05; done"

        j: dict[str, int] = {}
        j["ok"] = sub("true")
        j["afterok"] = sub("true", dependency=f"afterok:{j['ok']}")
        j["bad"] = sub("exit 3")
        j["afternotok"] = sub("true", dependency=f"afternotok:{j['bad']}")
        j["afterok_bad"] = sub("true", dependency=f"afterok:{j['bad']}")
        j["afterany"] = sub("true", dependency=f"afterany:{j['bad']}")
        j["or"] = sub("true", dependency=f"afterok:{j['bad']}?afterok:{j['ok']}")
        j["and"] = sub("true", dependency=f"afterok:{j['ok']},afterok:{j['bad']}")
        j["keep"] = sub("true", dependency=f"afterok:{j['bad']}", auto_cancel=False)
        j["slow"] = sub(wait("go-slow"))
        j["after_delay"] = sub("true", dependency=f"after:{j['slow']}+10s")
        j["single1"] = sub(wait("go-single"), name="one", dependency="singleton")
        j["single2"] = sub("true", name="one", dependency="singleton")
        j["victim"] = sub(wait("never"))
        j["after_cancelled"] = sub("true", dependency=f"afterok:{j['victim']}")
        j["limited"] = sub(wait("never"), time_limit="1")
        j["after_timeout"] = sub("true", dependency=f"afterok:{j['limited']}")
        array = svc.submit(["sh", "-c", "true"], cwd=str(tmp_path), array="0-1").array_ids
        j["task0"], j["task1"] = array
        j["after_array"] = sub("true", dependency=f"afterok:{array[0]}")  # the array's id: every task
        j["local"] = sub("true", executor="local")
        j["after_local"] = sub("true", dependency=f"afterok:{j['local']}")

        started(svc, j["victim"])
        svc.cancel([j["victim"]])
        started(svc, j["limited"])
        started(svc, j["slow"])
        started(svc, j["single1"])
        assert svc.get(j["single2"]).started_at is None  # one of that name at a time
        clock.advance(61)  # past the 1-minute limit and the 10 s delay, without waiting for either
        started(svc, j["after_delay"])
        (tmp_path / "go-slow").touch()
        (tmp_path / "go-single").touch()
        terminal(svc, [v for k, v in j.items() if k != "keep"])
        until("keep to wait for good", lambda: svc.get(j["keep"]).reason.kind == "DependencyNeverSatisfied")
        assert svc.get(j["single2"]).started_at >= svc.get(j["single1"]).ended_at
        got = {k: (svc.get(v).state, svc.get(v).reason.kind if svc.get(v).reason else None, svc.get(v).exit_code)
               for k, v in j.items()}
        assert got == EXPECTED
        on_slurm = {k for k, v in j.items() if svc.get(v).executor == "slurm"}
        assert on_slurm == (set(j) - {"local"} if executor == "slurm" else set())
    finally:
        stop_everything(svc)


def test_a_dependent_waits_inside_slurm_and_explain_shows_slurms_reason(tmp_path, slurm_cluster):
    svc = service(tmp_path / "state", "slurm")
    try:
        gate = tmp_path / "go"
        a = svc.submit(["sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.05; done"], cwd=str(tmp_path)).id
        b = svc.submit(["sh", "-c", "exit 0"], cwd=str(tmp_path), dependency=f"afterok:{a}").id
        # handed to Slurm at once with a native dependency: launched, not started, Slurm's reason
        until("b to wait inside Slurm", lambda: (svc.get(b).reason or None) and svc.get(b).reason.kind == "Slurm")
        job = svc.get(b)
        assert (job.state, job.started_at, str(job.reason)) == (JobState.RUNNING, None, "Slurm:Dependency")
        slurm_b = job.slurm_job_id
        fields = SlurmCommands().scontrol_job(slurm_b)
        assert fields["Dependency"].startswith(f"afterok:{svc.get(a).slurm_job_id}")
        explained = "\n".join(svc.explain(b))
        assert "Slurm:Dependency" in explained and f"Slurm as job {slurm_b}" in explained
        assert f"SlurmJobId={slurm_b}" in show({"job": job_to_json(job)})
        wire = job_to_json(job)
        assert (wire["executor"], wire["slurm_job_id"]) == ("slurm", slurm_b)
        gate.touch()
        terminal(svc, [a, b])
        assert (svc.get(b).state, svc.get(b).exit_code) == (JobState.FINISHED, 0)
    finally:
        stop_everything(svc)


def _chain(svc, tmp_path):
    gate = tmp_path / "go"
    a = svc.submit(["sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.05; done; echo a"], cwd=str(tmp_path)).id
    b = svc.submit(["sh", "-c", "exit 0"], cwd=str(tmp_path), dependency=f"afterok:{a}").id
    c = svc.submit(["sh", "-c", "exit 5"], cwd=str(tmp_path), dependency=f"afterok:{b}").id
    until("the chain to be in Slurm", lambda: all(svc.get(j).slurm_job_id for j in (a, b, c)))
    return gate, [a, b, c], [svc.get(j).slurm_job_id for j in (a, b, c)]


def _ended_in_slurm(slurm_ids):
    cmd = SlurmCommands()
    until("the chain to end inside Slurm", lambda: all(
        (row := cmd.squeue(slurm_ids).get(s)) is not None and row.outcome and row.outcome.ended for s in slurm_ids))


def test_a_slurm_chain_completes_while_the_host_is_stopped(tmp_path, slurm_cluster):
    svc = service(tmp_path / "state", "slurm")
    gate, ids, slurm_ids = _chain(svc, tmp_path)
    svc.close()  # the host goes away; the pipeline goes on inside Slurm
    gate.touch()
    _ended_in_slurm(slurm_ids)
    svc = service(tmp_path / "state", "slurm")
    try:
        terminal(svc, ids)
        assert [(svc.get(j).state, svc.get(j).exit_code) for j in ids] == [(F, 0), (F, 0), (X, 5)]
    finally:
        stop_everything(svc)


def test_a_restarted_slurmctld_loses_nothing_of_ours(tmp_path, slurm_cluster):
    svc = service(tmp_path / "state", "slurm")
    try:
        gate, ids, slurm_ids = _chain(svc, tmp_path)
        restart_slurmctld(slurm_cluster)
        gate.touch()
        terminal(svc, ids, timeout=60)
        assert [(svc.get(j).state, svc.get(j).exit_code) for j in ids] == [(F, 0), (F, 0), (X, 5)]
    finally:
        stop_everything(svc)


def test_slurm_options_gpus_and_time_reach_sbatch(tmp_path, slurm_cluster):
    svc = service(tmp_path / "state", "local")
    try:
        jid = svc.submit(["sh", "-c", 'echo "gpus=$CUDA_VISIBLE_DEVICES"'], cwd=str(tmp_path), executor="slurm",
                         gpus=1, time_limit="10", slurm={"partition": "debug", "mem": "100M"},
                         output="out-%j.txt").id
        terminal(svc, [jid])
        job = svc.get(jid)
        assert (job.state, job.executor) == (F, "slurm")
        assert (tmp_path / f"out-{jid}.txt").read_text().strip() in ("gpus=0", "gpus=1")  # Slurm's GPU, as GRES
        fields = SlurmCommands().scontrol_job(job.slurm_job_id)
        assert fields["TimeLimit"] == "00:10:00" and fields["Partition"] == "debug"
        assert "gres/gpu=1" in fields.get("TRES", fields.get("ReqTRES", "")) or "gpu:1" in fields.get("TresPerNode", "")
        with pytest.raises(InvalidSpec, match="Slurm gives whole GPUs"):
            svc.submit(["true"], executor="slurm", gpu_memory="1G")
        with pytest.raises(InvalidSpec, match="not passed to Slurm"):
            svc.submit(["true"], executor="slurm", slurm={"exclusive": "yes"})
    finally:
        stop_everything(svc)


def test_asking_for_slurm_where_it_is_missing_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    svc = JobService(tmp_path / "state", simulated_gpus=0).start()
    try:
        with pytest.raises(InvalidSpec) as e:
            svc.submit(["true"], executor="slurm")
        assert str(e.value).startswith("--executor slurm: not available here: Slurm's commands are not on PATH")
        assert "\n" not in str(e.value)
    finally:
        svc.close()


CELL = "import math, os\nvalue = math.sqrt(x)\nresult = {'double': value * 2, 'gpus': os.environ.get('CUDA_VISIBLE_DEVICES')}\n"


def test_a_cell_job_with_in_out_and_a_gpu_runs_on_slurm_and_its_result_comes_back(tmp_path, slurm_cluster):
    import sys

    import cloudpickle

    from jupyter_jobflow.engine import cellvars

    svc = service(tmp_path / "state", "slurm")
    try:
        vars_dir = svc.state_dir / "vars"  # in the state directory, which the nodes share
        inputs = tmp_path / "in.pkl"
        inputs.write_bytes(cloudpickle.dumps({"x": 16.0}))
        argv = [sys.executable, "-m", "jupyter_jobflow.cellrunner", "--name", "nb.ipynb, cell [3]", "--vars-dir",
                str(vars_dir), "--inputs", str(inputs), "--outputs", "result,value"]
        jid = svc.submit(argv, script=CELL, gpus=1, cwd=str(tmp_path),
                         env={"PYTHONPATH": os.environ.get("PYTHONPATH", ""), "PATH": os.environ["PATH"]},
                         export="PYTHONPATH").id
        terminal(svc, [jid], timeout=60)
        job = svc.get(jid)
        assert job.state is JobState.FINISHED and job.slurm_job_id, svc.read_log(jid)[0]
        files = cellvars.output_files(vars_dir, jid, 1)
        saved = {name: cloudpickle.loads(path.read_bytes()) for name, path in files.items()}
        assert saved["value"] == 4.0 and saved["result"]["double"] == 8.0
        assert saved["result"]["gpus"] in ("0", "1")  # Slurm gave it one GPU of its own
    finally:
        stop_everything(svc)


def test_redo_cascade_resubmits_slurm_dependents_with_new_slurm_ids(tmp_path, slurm_cluster):
    svc = service(tmp_path / "state", "slurm")
    try:
        flag = tmp_path / "fixed"
        a = svc.submit(["sh", "-c", f"test -e {flag}"], cwd=str(tmp_path)).id
        b = svc.submit(["sh", "-c", "true"], cwd=str(tmp_path), dependency=f"afterok:{a}").id
        terminal(svc, [a, b])
        assert (svc.get(a).state, svc.get(b).state, svc.get(b).reason.kind) == (X, C, "DependencyFailed")
        flag.touch()
        new_a = svc.redo(a, cascade=True).id
        new_b = until("the dependent's copy", lambda: next((j.id for j in svc.list() if j.redo_of == b), None))
        terminal(svc, [new_a, new_b])
        assert (svc.get(new_a).state, svc.get(new_b).state) == (F, F)
        assert svc.get(new_b).slurm_job_id not in (None, svc.get(b).slurm_job_id)
        assert svc.get(new_b).executor == "slurm"
    finally:
        stop_everything(svc)


def test_executor_and_slurms_options_from_gbatch_words_and_directives():
    from jupyter_jobflow.core.directives import read_directives
    from jupyter_jobflow.core.options import parse_submit_args, to_request

    request = to_request(parse_submit_args(["--executor", "slurm", "-p", "gpu", "--mem", "4G", "-c", "2", "true"]))
    assert (request.executor, request.slurm) == ("slurm", {"partition": "gpu", "mem": "4G", "cpus-per-task": "2"})
    with pytest.raises(InvalidSpec, match='--executor expects local or slurm, got "pbs"'):
        parse_submit_args(["--executor", "pbs", "true"])
    script = "#!/bin/sh\n# GFLOW --executor slurm\n#SBATCH -p gpu\n#SBATCH --mem=1G --time=5\necho hi\n"
    opts, warnings = read_directives(script)
    assert (opts.executor, opts.slurm, opts.time_limit, warnings) == ("slurm", {"partition": "gpu", "mem": "1G"}, 300, [])
    opts, warnings = read_directives("#!/bin/sh\n#SBATCH -p gpu\necho hi\n")  # on this machine: ignored, as before
    assert (opts.slurm, warnings) == ({}, ['Line 2: #SBATCH option "-p" is not used by jobflow and is ignored'])
    assert read_directives("#!/bin/sh\n#SBATCH -p gpu\necho hi\n", "slurm")[0].slurm == {"partition": "gpu"}


@pytest.mark.parametrize("state, reason, ours", [
    ("OUT_OF_MEMORY", "", (X, "OutOfMemory")), ("NODE_FAIL", "", (X, "NodeFail")),
    ("PREEMPTED", "", (X, "Preempted")), ("TIMEOUT", "", (T, "TimeLimit")),
])
def test_slurms_own_verdicts_become_our_states_with_their_reasons(tmp_path, state, reason, ours):
    """Read from the rows squeue prints, with no status file (the job never wrote one)."""
    from jupyter_jobflow.engine.executors.slurm import SlurmExecutor
    from jupyter_jobflow.engine.executors.slurmcmd import SlurmJob

    ex = SlurmExecutor(tmp_path / "state")
    status = ex._status((1, 1), {"slurm_id": 5000, "job": 1, "attempt": 1},
                        SlurmJob(5000, state, reason, None, 9, "00:01:00"))
    assert (status.state, status.reason.kind) == ours
    ex.close()


def test_a_user_cancel_does_not_fire_afternotok_for_a_dependent_slurm_holds(tmp_path, slurm_cluster):
    """Slurm would start B (afternotok:A) when a user cancels A; we take B back first and our rule
    cancels it, with the job behind it and an OR group holding the same clause."""
    svc = service(tmp_path / "state", "slurm")
    try:
        gate = f"while [ ! -e {tmp_path / 'never'} ]; do sleep 0.05; done"
        a = svc.submit(["sh", "-c", gate], cwd=str(tmp_path)).id
        z = svc.submit(["sh", "-c", gate], cwd=str(tmp_path)).id
        b = svc.submit(["sh", "-c", f"touch {tmp_path / 'b-ran'}"], cwd=str(tmp_path), dependency=f"afternotok:{a}").id
        c = svc.submit(["sh", "-c", f"touch {tmp_path / 'c-ran'}"], cwd=str(tmp_path), dependency=f"afterok:{b}").id
        d = svc.submit(["sh", "-c", f"touch {tmp_path / 'd-ran'}"], cwd=str(tmp_path),
                       dependency=f"afternotok:{a}?afterok:{z}").id
        until("b, c and d to wait inside Slurm",
              lambda: all(svc.get(j).reason is not None and svc.get(j).reason.kind == "Slurm" for j in (b, c, d)))
        handed = {j: svc.get(j).slurm_job_id for j in (b, c, d)}
        started(svc, a)
        svc.cancel([a])
        terminal(svc, [a, b, c])
        assert svc.get(a).reason.kind == "CancelledByUser"
        for j in (b, c):
            assert (svc.get(j).state, svc.get(j).reason.kind, svc.get(j).started_at) == (C, "DependencyFailed", None)
        # d still waits, in OUR queue, for z: never handed back to Slurm naming the cancelled a
        assert svc.get(d).state in (Q, JobState.RUNNING) and svc.get(d).started_at is None
        svc.cancel([z])
        terminal(svc, [z, d])
        assert (svc.get(d).state, svc.get(d).reason.kind, svc.get(d).started_at) == (C, "DependencyFailed", None)
        cmd = SlurmCommands()
        rows = cmd.squeue(list(handed.values()))
        assert all(rows.get(s) is None or rows[s].state.startswith("CANCELLED") for s in handed.values()), rows
        assert not any((tmp_path / f"{n}-ran").exists() for n in "bcd")
    finally:
        stop_everything(svc)


def test_a_single_node_cluster_on_this_machine_needs_no_shared_state_directory(tmp_path, slurm_cluster):
    svc = service(tmp_path / "state", "slurm")
    try:
        assert SlurmCommands().node_names() == {os.uname().nodename.split(".")[0]}
        reply = svc.submit(["true"], cwd=str(tmp_path))
        assert reply.warnings == ()  # the state directory is local (tmpfs or overlay), and that is fine here
        terminal(svc, [reply.id])
    finally:
        stop_everything(svc)


class PendingSqueue:
    """Slurm's commands where the poll's rhythm is what is tested: the job stays pending (waiting
    for Resources) and each ``squeue`` is noted at the clock's time."""

    timeout = 1.0

    def __init__(self, clock):
        self.clock, self.at = clock, []

    def sbatch(self, argv, env=None):
        return 500

    def node_names(self):
        return {"localhost"}

    def scancel(self, ids, **how):
        pass

    def squeue(self, ids):
        self.at.append(self.clock())
        return {i: SlurmJob(i, "PENDING", "Resources") for i in ids}


def test_the_slurm_poll_backs_off_idle_and_polls_at_its_fastest_while_someone_watches(tmp_path):
    clock = FakeClock()
    t0, cmd = clock(), PendingSqueue(clock)
    ex = SlurmExecutor(tmp_path / "state", commands=cmd, clock=clock,
                       policy=PollPolicy(fastest=1, slowest=16, factor=2, watched=1))
    ex.watch(7, 1, {"slurm_id": 500, "job": 7, "attempt": 1, "parents": {}})

    def settled():  # the poller polled whatever was due and set its next poll
        return until("the poller to settle", lambda: ex._due > clock())

    def run_for(seconds):
        for _ in range(seconds):
            settled()
            clock.advance(1)
        settled()

    def gaps(since):
        at = [t - t0 for t in cmd.at if t - t0 >= since]
        return [b - a for a, b in zip(at, at[1:])]

    try:
        ex.watching([8], seconds=100)  # someone watches another job: this one's poll still backs off
        run_for(40)
        assert gaps(0) == [1, 2, 4, 8, 16]  # idle: each wait twice the last, up to the slowest
        ex.watching([7], seconds=10)  # its log followed (GET jobs/7/log, log:7): the next poll comes at once
        run_for(10)
        assert [t - t0 for t in cmd.at if t - t0 > 31] == [41, 42, 43, 44, 45, 46, 47, 48, 49, 50]
        run_for(40)  # nobody renewed the watch: it backs off again
        assert gaps(50) == [2, 4, 8, 16]
    finally:
        ex.close()


def test_reading_a_slurm_jobs_log_through_the_service_tightens_its_poll(tmp_path):
    clock = FakeClock()
    t0, cmd = clock(), PendingSqueue(clock)
    ex = SlurmExecutor(tmp_path / "state", commands=cmd, clock=clock,
                       policy=PollPolicy(fastest=1, slowest=16, factor=2, watched=1))
    svc = JobService(tmp_path / "state", simulated_gpus=0, executors={"slurm": ex}, clock=clock).start()
    try:
        jid = svc.submit(["true"], executor="slurm").id
        until("the job to reach Slurm", lambda: cmd.at)
        for _ in range(30):
            until("the poller to settle", lambda: ex._due > clock())
            clock.advance(1)
        before = len(cmd.at)  # backed off: the next poll is 16 s away
        with pytest.raises(NotFound):  # GET jobs/{id}/log: no log while pending, but someone follows it
            svc.read_log(jid)
        for _ in range(3):
            until("the poller to settle", lambda: ex._due > clock())
            clock.advance(1)
        until("the poller to settle", lambda: ex._due > clock())
        assert len(cmd.at) - before >= 3, [t - t0 for t in cmd.at]
    finally:
        svc.close()  # the job stays pending in the fake Slurm: nothing to wait for
        ex.close()

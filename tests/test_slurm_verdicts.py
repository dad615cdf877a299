"""Slurm's own verdicts produced for real, through the executor and our poller, and shown as a user
sees them (``gjob show``, the API's job): PREEMPTED (a job in the high-priority partition takes
the node), NODE_FAIL (the node set DOWN under a running job: not requeued, as we pass
``--no-requeue``) and OUT_OF_MEMORY (over ``--mem``, where the cluster can enforce memory with
cgroups). TIMEOUT is not produced here: slurmctld checks time limits about every 30 s, a wait the
tests do not make (docs/slurm.md); core/slurmstates.py's tests read it from squeue's rows.

These tests break their node, so they run on a cluster of their own (``private_cluster``), with
memory enforcement asked for and Slurm ids of its own."""

from __future__ import annotations

import random
import subprocess
import sys
from contextlib import ExitStack

import pytest
from helpers import stop_everything, until
from slurm_support import private_cluster

from jupyter_jobflow.cli.render import show
from jupyter_jobflow.core.model import JobState
from jupyter_jobflow.core.slurmpoll import PollPolicy
from jupyter_jobflow.core.wire import job_to_json, shown_to_json
from jupyter_jobflow.engine.executors.slurmcmd import SlurmCommands
from jupyter_jobflow.engine.service import JobService

pytestmark = pytest.mark.timeout(120)
FAST = PollPolicy(fastest=0.1, slowest=0.5, watched=0.2)
NODE_CPUS = 8  # start.sh's default


@pytest.fixture(scope="module")
def cluster():
    ids = {"JOBFLOW_SLURM_FIRST_JOB_ID": str(random.randrange(10_000, 900_000, 1000))}  # cgroup paths: no clash
    with ExitStack() as stack:
        try:
            c = stack.enter_context(private_cluster(JOBFLOW_SLURM_MEMORY="cgroup", **ids))
        except pytest.fail.Exception:  # cgroups mounted, but Slurm could not use them: without
            c = stack.enter_context(private_cluster(**ids))
        yield c


@pytest.fixture
def svc(tmp_path, cluster):
    s = JobService(tmp_path / "state", simulated_gpus=0, default_executor="slurm", slurm_poll=FAST).start()
    yield s
    stop_everything(s)



def ended(svc, jid):
    until(f"job {jid} to end", lambda: svc.get(jid).state.terminal)
    return svc.get(jid)


def gjob_show(svc, jid) -> str:
    """What ``gjob show`` prints: the API's reply (server/handlers.py), rendered."""
    return show(shown_to_json(svc.show(jid)))


def slurm_state(slurm_id: int) -> str:
    return SlurmCommands().squeue([slurm_id])[slurm_id].state


def forever(tmp_path):
    return ["sh", "-c", f"while [ ! -e {tmp_path / 'never'} ]; do sleep 0.05; done"]


def test_a_job_preempted_by_a_higher_priority_partition_fails_as_preempted(svc, tmp_path):
    low = svc.submit(forever(tmp_path), cwd=str(tmp_path), slurm={"cpus-per-task": str(NODE_CPUS)}).id  # the node
    until("the low-priority job to start", lambda: svc.get(low).started_at)
    high = svc.submit(["true"], cwd=str(tmp_path), slurm={"partition": "urgent"}).id
    job = ended(svc, low)
    assert (job.state, str(job.reason), slurm_state(job.slurm_job_id)) == (JobState.FAILED, "Preempted", "PREEMPTED")
    assert job_to_json(job)["reason"] == "Preempted"
    text = gjob_show(svc, low)
    assert "State=Failed" in text and "Reason=Preempted" in text and f"SlurmJobId={job.slurm_job_id}" in text
    assert ended(svc, high).state is JobState.FINISHED  # it took the node


def test_a_node_failure_under_a_running_job_fails_it_as_nodefail_without_a_requeue(svc, tmp_path):
    (node,) = SlurmCommands().node_names()
    jid = svc.submit(forever(tmp_path), cwd=str(tmp_path)).id
    until("the job to start", lambda: svc.get(jid).started_at)
    sid = svc.get(jid).slurm_job_id
    try:
        subprocess.run(["scontrol", "update", f"NodeName={node}", "State=DOWN", "Reason=jobflow-test"], check=True,
                       capture_output=True, timeout=10)
        job = ended(svc, jid)
    finally:  # the node back for the next test (ReturnToService=2 may have done it already)
        subprocess.run(["scontrol", "update", f"NodeName={node}", "State=RESUME"], capture_output=True, timeout=10)
        until("the node to be up", lambda: subprocess.run(
            ["sinfo", "-h", "-N", "-n", node, "-o", "%T"], capture_output=True, text=True, timeout=10
        ).stdout.strip().startswith(("idle", "mixed", "allocated")))
    assert (job.state, str(job.reason)) == (JobState.FAILED, "NodeFail")
    assert slurm_state(sid) == "NODE_FAIL"  # not requeued (PENDING) under the same id: we passed --no-requeue
    assert svc.get(jid).attempt == 1 and svc.get(jid).slurm_job_id == sid
    text = gjob_show(svc, jid)
    assert "State=Failed" in text and "Reason=NodeFail" in text


def test_a_job_over_its_memory_fails_as_out_of_memory(svc, tmp_path):
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=10).stdout
    if "task/cgroup" not in config:
        pytest.skip("the test cluster cannot enforce memory here: no writable cgroup v1 memory controller "
                    "(tests/slurm/start.sh, JOBFLOW_SLURM_MEMORY=cgroup)")
    jid = svc.submit([sys.executable, "-c", "x = b'x' * (300 << 20); import time; time.sleep(30)"],
                     cwd=str(tmp_path), slurm={"mem": "20M"}).id
    job = ended(svc, jid)
    assert (job.state, str(job.reason), slurm_state(job.slurm_job_id)) == (
        JobState.FAILED, "OutOfMemory", "OUT_OF_MEMORY")
    text = gjob_show(svc, jid)
    assert "State=Failed" in text and "Reason=OutOfMemory" in text

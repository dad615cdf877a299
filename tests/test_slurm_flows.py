"""A flow whose tasks run on a REAL private Slurm cluster (tests/slurm_support.py) is resumed:
the failed task and its dependent get new Slurm jobs (Slurm never revives a dependent), the
finished task is kept and not run again. Each task writes a marker named after the Slurm job id it
ran under, which proves Slurm ran it and which Slurm job that was.

No test waits for a time limit: the host polls Slurm fast (a tight PollPolicy); every wait is a
bounded loop."""

from __future__ import annotations

import time

import pytest
from helpers import stop_everything, until
from slurm_support import slurm_cluster  # noqa: F401  (the session's cluster)

from jupyter_jobflow.cli import render
from jupyter_jobflow.core.slurmpoll import PollPolicy
from jupyter_jobflow.core.wire import job_to_json
from jupyter_jobflow.engine.executors.slurmcmd import SlurmCommands
from jupyter_jobflow.engine.service import JobService

pytestmark = pytest.mark.timeout(120)
FAST = PollPolicy(fastest=0.1, slowest=0.5, watched=0.2)



def wait_run(svc, run_id, timeout=40.0):
    deadline = time.monotonic() + timeout
    while (shown := svc.run(run_id))["state"] not in ("Finished", "Failed", "Cancelled"):
        assert time.monotonic() < deadline, f"run {run_id} is still {shown['state']}: {shown['tasks']}"
        time.sleep(0.05)
    return shown


@pytest.mark.usefixtures("slurm_cluster")
def test_resuming_a_flow_on_slurm_resubmits_the_failed_task_and_its_dependent_with_new_slurm_ids(tmp_path):
    marks, fixed, go = tmp_path / "marks", tmp_path / "fixed", tmp_path / "go"
    marks.mkdir()
    mark = f"touch {marks}/$JOBFLOW_TASK-$SLURM_JOB_ID"  # the Slurm job that ran it, in the file's name
    yaml = (f"tasks:\n"
            f"  prep: {{command: 'JOBFLOW_TASK=prep; {mark}'}}\n"
            f"  train: {{command: 'JOBFLOW_TASK=train; {mark}; test -e {fixed} && while [ ! -e {go} ]; do sleep 0.05; done', depends: prep}}\n"
            f"  report: {{command: 'JOBFLOW_TASK=report; {mark}', depends: train}}\n")
    svc = JobService(tmp_path / "state", simulated_gpus=0, default_executor="slurm", slurm_poll=FAST).start()
    try:
        svc.save_flow("pipe", yaml)
        run_id = svc.create_run("pipe")["run_id"]
        run = wait_run(svc, run_id)
        ids = {t["name"]: t["job_id"] for t in run["tasks"]}
        assert (run["state"], run["reason"]) == ("Failed", "TaskFailed:train")
        assert [(t["state"], t["reason"]) for t in run["tasks"]] == [
            ("Finished", None), ("Failed", "ExitCode:1"), ("Cancelled", f"DependencyFailed:{ids['train']}")]
        before = {n: svc.get(j).slurm_job_id for n, j in ids.items()}
        assert all(svc.get(j).executor == "slurm" for j in ids.values()) and all(before.values())
        assert sorted(p.name for p in marks.iterdir()) == sorted([f"prep-{before['prep']}", f"train-{before['train']}"])

        fixed.touch()
        assert svc.resume_run(run_id)["run_id"] == run_id
        # the dependent goes back to Slurm at once, with a native dependency on its parent's NEW Slurm job
        until("both to be in Slurm again", lambda: svc.get(ids["report"]).slurm_job_id not in (None, before["report"])
              and svc.get(ids["train"]).slurm_job_id not in (None, before["train"]))
        new_train = svc.get(ids["train"]).slurm_job_id
        dependency = SlurmCommands().scontrol_job(svc.get(ids["report"]).slurm_job_id)["Dependency"]
        assert dependency.startswith(f"afterok:{new_train}"), dependency
        go.touch()
        done = wait_run(svc, run_id)
        assert done["state"] == "Finished", done
        assert [(t["name"], t["state"], t["job_id"]) for t in done["tasks"]] == [
            ("prep", "Finished", ids["prep"]), ("train", "Finished", ids["train"]),
            ("report", "Finished", ids["report"])]  # resumed in place: the same jobs, new attempts
        after = {n: svc.get(j).slurm_job_id for n, j in ids.items()}
        assert after["prep"] == before["prep"]  # kept, not submitted again
        assert after["train"] not in (None, before["train"]) and after["report"] not in (None, before["report"])
        # Slurm really ran the new jobs (and prep only once): one marker per Slurm job that ran
        assert sorted(p.name for p in marks.iterdir()) == sorted([
            f"prep-{before['prep']}", f"train-{before['train']}", f"train-{after['train']}",
            f"report-{after['report']}"])
        states = {n: SlurmCommands().squeue([s])[s].state for n, s in after.items()}
        assert states == {"prep": "COMPLETED", "train": "COMPLETED", "report": "COMPLETED"}
    finally:
        stop_everything(svc)


@pytest.mark.usefixtures("slurm_cluster")
def test_a_flow_task_names_its_executor_and_slurm_options_and_the_others_run_here(tmp_path):
    yaml = ("tasks:\n"
            "  prep: {command: 'echo prep on ${SLURM_JOB_ID:-here}'}\n"
            "  train: {command: 'echo train on $SLURM_JOB_ID in $SLURM_JOB_PARTITION', depends: prep,\n"
            "          executor: slurm, slurm: {partition: debug, cpus-per-task: '2'}}\n")
    svc = JobService(tmp_path / "state", simulated_gpus=0, slurm_poll=FAST).start()  # the default: local
    try:
        svc.save_flow("mixed", yaml)
        run = wait_run(svc, svc.create_run("mixed")["run_id"])
        assert run["state"] == "Finished", run
        prep, train = (svc.get(t["job_id"]) for t in run["tasks"])
        assert (prep.executor or "local", prep.slurm_job_id) == ("local", None)
        assert svc.read_log(prep.id)[0].strip() == "prep on here"
        assert train.executor == "slurm" and train.slurm == {"partition": "debug", "cpus-per-task": "2"}
        assert svc.read_log(train.id)[0].strip() == f"train on {train.slurm_job_id} in debug"
        assert SlurmCommands().scontrol_job(train.slurm_job_id)["NumCPUs"] == "2"
        # gqueue (the API's job objects, rendered) adds the EXECUTOR column: where each task ran
        listed = [job_to_json(j) for j in (prep, train)]
        table = render.queue(listed, render.default_fields(listed)).splitlines()
        assert table[0].split()[-1] == "EXECUTOR"
        assert [row.split()[-1] for row in table[1:]] == ["local", f"slurm:{train.slurm_job_id}"]
    finally:
        stop_everything(svc)

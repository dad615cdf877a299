"""The engine end to end through JobService: real processes, real SQLite, no sleeps."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
from helpers import stop_everything, wait_job_state, wait_launched, wait_terminal, wait_until

from jupyter_jobflow.core.errors import Conflict, InvalidSpec, NotFound
from jupyter_jobflow.core.model import JobState
from jupyter_jobflow.engine.clock import FakeClock
from jupyter_jobflow.engine.service import JobService

SH = ["sh", "-c"]


def test_submit_returns_submission_line_and_runs(service):
    sub = service.submit(["sh", "-c", "echo hello"], name="greet")
    assert str(sub) == f"Submitted batch job {sub.id} (greet)"
    job = wait_terminal(service, sub.id)
    assert (job.state, job.exit_code) == (JobState.FINISHED, 0)
    assert service.read_log(sub.id)[0] == "hello\n"


def test_ids_increase(service):
    a, b = service.submit(["true"]), service.submit(["true"])
    assert 0 < a.id < b.id


def test_default_name_is_the_script(service):
    assert service.submit(["python3", "-c", "pass"]).name == "python3"
    assert service.submit("python3 train.py --lr 1").name == "train.py"


def test_chain_hands_off_in_order(service):
    first = service.submit(SH + ["sleep 0.2"])
    second = service.submit(SH + ["true"], depends_on="@")
    third = service.submit(SH + ["true"], depends_on="@")
    assert service.get(third.id).dependency == f"afterok:{second.id}"
    done = [wait_terminal(service, j.id) for j in (first, second, third)]
    assert [j.state for j in done] == [JobState.FINISHED] * 3
    assert done[0].ended_at <= done[1].started_at and done[1].ended_at <= done[2].started_at


def test_failure_cascades_transitively_and_afternotok_runs(service):
    prep = service.submit(SH + ["exit 3"], name="prep", hold=True)  # fails only once the chain exists
    train = service.submit(["true"], dependency=f"afterok:{prep.id}", name="train")
    evaluate = service.submit(["true"], dependency=f"afterok:{train.id}", name="eval")
    cleanup = service.submit(["true"], dependency=f"afternotok:{prep.id}", name="cleanup")
    service.release(prep.id)
    assert (wait_terminal(service, prep.id).state, str(service.get(prep.id).reason)) == (JobState.FAILED, "ExitCode:3")
    assert str(wait_terminal(service, train.id).reason) == f"DependencyFailed:{prep.id}"
    assert str(wait_terminal(service, evaluate.id).reason) == f"DependencyFailed:{train.id}"
    assert wait_terminal(service, cleanup.id).state is JobState.FINISHED
    cascade = [e for e in service.events_since(0) if e["kind"] == "cascade"]
    assert cascade[-1]["message"] == f"cascade from job {prep.id}: cancelled {train.id}, {evaluate.id}"


def test_dependency_on_failed_job_is_cancelled_at_submit_with_warning(service):  # §1.17 item 6, S7
    bad = service.submit(SH + ["exit 1"])
    wait_terminal(service, bad.id)
    sub = service.submit(["true"], dependency=f"afterok:{bad.id}")
    assert sub.state is JobState.CANCELLED and service.get(sub.id).state is JobState.CANCELLED
    assert sub.warnings == (f"Warning: job {sub.id} will never start: afterok:{bad.id} cannot be satisfied "
                            f"(job {bad.id} is Failed, exit 1). Job {sub.id} was cancelled; use --no-auto-cancel "
                            f"to keep it queued.",)


def test_no_auto_cancel_keeps_job_queued_with_somefailed(service):  # §1.17 item 7
    bad = service.submit(SH + ["exit 1"])
    wait_terminal(service, bad.id)
    sub = service.submit(["true"], dependency=f"afterok:{bad.id}", auto_cancel=False)
    job = service.get(sub.id)
    assert job.state is JobState.QUEUED and str(job.reason) == f"DependencyNeverSatisfied:afterok:{bad.id}"
    assert service.show(sub.id)["dependency"] == f"Dependency=Status=SomeFailed Failed=afterok:{bad.id}(Failed)"


def test_unknown_dependency_is_refused_and_nothing_stored(service):
    before = service.store.max_job_id()
    with pytest.raises(InvalidSpec, match="^Dependency job 999 not found$"):
        service.submit(["true"], dependency="afterok:999")
    assert service.store.max_job_id() == before


def test_at_refers_to_own_scope_only(service):  # §1.17 item 16
    a1 = service.submit(["true"], scope="kernel-a")
    b1 = service.submit(["true"], scope="kernel-b")
    a2 = service.submit(["true"], scope="kernel-a", depends_on="@")
    b2 = service.submit(["true"], scope="kernel-b", depends_on_all="@")
    assert service.get(a2.id).dependency == f"afterok:{a1.id}"
    assert service.get(b2.id).dependency == f"afterok:{b1.id}"
    a3 = service.submit(["true"], scope="kernel-a", depends_on_any="@,@~1")
    assert service.get(a3.id).dependency == f"afterok:{a2.id}?afterok:{a1.id}"
    with pytest.raises(InvalidSpec, match="4th most recent submission, but this notebook has submitted only 3 jobs"):
        service.submit(["true"], scope="kernel-a", depends_on="@~3")


def test_update_refuses_self_and_cycles(service):
    one = service.submit(["true"], hold=True)
    two = service.submit(["true"], dependency=f"afterok:{one.id}", hold=True)
    three = service.submit(["true"], dependency=f"afterok:{two.id}", hold=True)
    with pytest.raises(InvalidSpec, match="^Job cannot depend on itself$"):
        service.update(one.id, dependency=f"afterok:{one.id}")
    with pytest.raises(InvalidSpec) as err:
        service.update(one.id, dependency=f"afterok:{three.id}")
    assert str(err.value) == (f"Circular dependency detected: job {one.id} -> job {three.id} -> job {two.id} "
                              f"-> job {one.id}")


@pytest.fixture
def clocked(state_dir):
    """A service with real processes (the local executor) on a FakeClock: time limits and graces
    are the clock's, the signals and the ends real."""
    clock = FakeClock()
    svc = JobService(state_dir, kill_grace=30.0, clock=clock).start()
    yield svc, clock
    stop_everything(svc)


def test_time_limit_ends_a_real_process_when_the_clock_passes_it(clocked):
    service, clock = clocked
    sub = service.submit(SH + ["sleep 30"], time_limit=60.0)
    started = wait_until(service, sub.id, lambda j: j.started_at is not None, "started").started_at
    clock.advance(59.9)
    assert service.get(sub.id).stopping is None
    clock.advance(0.1)
    job = wait_terminal(service, sub.id, timeout=10)
    assert job.state is JobState.TIMEOUT and str(job.reason) == "TimeLimit:00:01:00"
    assert (job.signal, job.ended_at - started) == (signal.SIGTERM, 60.0)


def test_timeout_escalates_to_sigkill_after_grace(clocked):
    service, clock = clocked
    sub = service.submit(SH + ["trap '' TERM; echo ready; while :; do sleep 0.1; done"], time_limit=5)
    started = wait_until(service, sub.id, lambda j: j.started_at is not None, "started").started_at
    while "ready" not in service.read_log(sub.id)[0]:  # its trap is set (the job's own output)
        time.sleep(0.005)
    clock.advance(5)
    wait_until(service, sub.id, lambda j: j.stopping == "timeout", "stopping")
    clock.advance(29.9)  # SIGTERM ignored: still running within the grace
    assert service.get(sub.id).state is JobState.RUNNING
    clock.advance(0.1)
    job = wait_terminal(service, sub.id, timeout=10)
    assert (job.state, job.signal, job.ended_at - started) == (JobState.TIMEOUT, signal.SIGKILL, 35.0)


def test_cancel_running_job_kills_whole_tree(service, tmp_path):
    pids = tmp_path / "pids"
    script = f"sleep 60 & echo $! > {pids}; setsid sleep 60 & echo $! >> {pids}; wait"
    sub = service.submit(SH + [script])
    wait_job_state(service, sub.id, JobState.RUNNING)
    deadline = time.monotonic() + 5
    while (not pids.exists() or len(pids.read_text().split()) < 2) and time.monotonic() < deadline:
        time.sleep(0.01)  # waiting for the job's own output file, not for the scheduler
    children = [int(p) for p in pids.read_text().split()]
    service.cancel([sub.id])
    job = wait_terminal(service, sub.id)
    assert job.state is JobState.CANCELLED and str(job.reason) == "Cancelled"
    procs = [psutil.Process(pid) for pid in children if psutil.pid_exists(pid)]
    _, alive = psutil.wait_procs(procs, timeout=3)  # signals are delivered asynchronously
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


def test_cancel_errors(service):
    done = service.submit(["true"])
    wait_terminal(service, done.id)
    with pytest.raises(NotFound, match="^Job 999 not found$"):
        service.cancel([999])
    with pytest.raises(Conflict, match=r"^Job \d+ is already in terminal state \(Finished\)$"):
        service.cancel([done.id])
    with pytest.raises(InvalidSpec, match="^No job IDs specified$"):
        service.cancel([])


def test_cancel_dry_run_lists_each_dependents_fate(service):  # K3
    prep = service.submit(SH + ["sleep 30"], name="prep")
    wait_job_state(service, prep.id, JobState.RUNNING)
    train = service.submit(["true"], name="train", dependency=f"afterok:{prep.id}")
    ev = service.submit(["true"], name="eval", dependency=f"afterok:{train.id}")
    cleanup = service.submit(["true"], name="cleanup", dependency=f"afterany:{prep.id}")
    report = service.submit(["true"], name="report", dependency=f"afterok:{prep.id}", auto_cancel=False)
    text = service.cancel([prep.id], dry_run=True).render()
    p, t, e, c, r = prep.id, train.id, ev.id, cleanup.id, report.id
    assert text.splitlines() == [
        f"Would cancel job {p} (prep) [Running]",
        "Dependents:",
        f"  job {t} (train)     afterok:{p}                  -> will be cancelled (DependencyFailed:{p})",
        f"  job {c} (cleanup)   afterany:{p}                 -> will run",
        f"  job {r} (report)    afterok:{p} --no-auto-cancel -> will stay queued forever (DependencyNeverSatisfied)",
        f"  job {e} (eval)      afterok:{t}                  -> will be cancelled (DependencyFailed:{t})",
        f"To proceed: gcancel {p}        To also cancel dependents that would otherwise stay queued: "
        f"gcancel --cascade {p}",
    ]
    assert service.get(prep.id).state is JobState.RUNNING  # a dry run changes nothing
    service.cancel([prep.id], cascade=True)
    assert wait_terminal(service, report.id).state is JobState.CANCELLED
    assert wait_terminal(service, cleanup.id).state is JobState.FINISHED


def test_hold_and_release(service):
    sub = service.submit(["true"], hold=True)
    assert service.get(sub.id).state is JobState.HOLD and str(service.get(sub.id).reason) == "JobHeldUser"
    service.release(sub.id)
    assert wait_terminal(service, sub.id).state is JobState.FINISHED
    with pytest.raises(Conflict):
        service.hold(sub.id)


def test_held_dependent_is_cancelled_on_release(service):  # §1.17 item 13
    bad = service.submit(SH + ["exit 2"])
    held = service.submit(["true"], dependency=f"afterok:{bad.id}", hold=True)
    wait_terminal(service, bad.id)
    assert service.get(held.id).state is JobState.HOLD
    service.release(held.id)
    assert str(wait_terminal(service, held.id).reason) == f"DependencyFailed:{bad.id}"


def test_retries_keep_every_attempt_log(service, tmp_path):  # §1.17 items 8 and 29
    counter = tmp_path / "n"
    script = f'n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; echo "try $n"; [ $n -ge 3 ]'
    sub = service.submit(SH + [script], retries=3, retry_delay=0)
    after_ok = service.submit(["true"], dependency=f"afterok:{sub.id}")
    after_fail = service.submit(["true"], dependency=f"afternotok:{sub.id}", auto_cancel=False)
    job = wait_terminal(service, sub.id)
    assert (job.state, job.attempt) == (JobState.FINISHED, 3)
    assert [service.read_log(sub.id, attempt=a)[0] for a in (1, 2, 3)] == ["try 1\n", "try 2\n", "try 3\n"]
    assert [a.exit_code for a in service.attempts(sub.id)] == [1, 1, 0]
    assert wait_terminal(service, after_ok.id).state is JobState.FINISHED
    assert service.get(after_fail.id).state is JobState.QUEUED


def test_log_readable_during_retry_backoff(service):  # §1.17 item 29
    sub = service.submit(SH + ["echo attempt-$JOBFLOW_ATTEMPT; exit 1"], retries=1, retry_delay=30)
    job = wait_until(service, sub.id, lambda j: j.reason is not None and j.reason.kind == "RetryBackoff",
                     "waiting to retry")
    assert job.state is JobState.QUEUED
    assert str(job.reason).startswith("Retry 2/2 at ")
    assert service.read_log(sub.id) == ("attempt-1\n", 10, 1)


def test_redo_in_place_with_cascade_revives_dependents(service, tmp_path):
    flag = tmp_path / "ok"
    parent = service.submit(SH + [f"test -f {flag}"])
    child = service.submit(["true"], dependency=f"afterok:{parent.id}")
    wait_terminal(service, child.id)
    assert service.get(child.id).state is JobState.CANCELLED
    flag.touch()
    service.redo(parent.id, in_place=True, cascade=True)
    job = wait_terminal(service, parent.id)
    assert (job.state, job.attempt) == (JobState.FINISHED, 2)
    assert wait_terminal(service, child.id).state is JobState.FINISHED
    assert [a.state for a in service.attempts(parent.id)] == [JobState.FAILED, JobState.FINISHED]


def test_redo_as_new_job_rewires_cancelled_dependents(service, tmp_path):
    flag = tmp_path / "ok"
    parent = service.submit(SH + [f"test -f {flag}"], name="prep")
    child = service.submit(["true"], dependency=f"afterok:{parent.id}", name="train")
    wait_terminal(service, child.id)
    flag.touch()
    new = service.redo(parent.id, cascade=True)
    assert new.id > child.id and new.redo_of == parent.id
    assert wait_terminal(service, new.id).state is JobState.FINISHED
    redone_child = [j for j in service.list() if j.redo_of == child.id]
    assert len(redone_child) == 1 and redone_child[0].dependency == f"afterok:{new.id}"
    assert wait_terminal(service, redone_child[0].id).state is JobState.FINISHED


def test_paused_group_keeps_chain_for_in_place_fix(service, tmp_path):  # §1.17 item 14
    flag = tmp_path / "ok"
    service.set_group("train", paused=True)
    parent = service.submit(SH + [f"test -f {flag}"])
    child = service.submit(["true"], dependency=f"afterok:{parent.id}", group="train")
    wait_terminal(service, parent.id)
    assert service.get(child.id).state is JobState.QUEUED
    flag.touch()
    service.redo(parent.id, in_place=True)
    assert wait_terminal(service, parent.id).state is JobState.FINISHED
    service.set_group("train", paused=False)
    assert wait_terminal(service, child.id).state is JobState.FINISHED


def test_group_limit_runs_one_at_a_time(service):
    service.set_group("one", limit=1)
    a = service.submit(SH + ["sleep 1"], group="one")
    b = service.submit(["true"], group="one")
    wait_until(service, b.id, lambda j: str(j.reason) == "GroupLimit:one=1", "GroupLimit:one=1")
    assert service.get(a.id).state is JobState.RUNNING
    job_a, job_b = wait_terminal(service, a.id), wait_terminal(service, b.id)
    assert job_b.started_at >= job_a.ended_at


def test_gpu_jobs_get_distinct_devices(gpu_service):
    subs = [gpu_service.submit(SH + ["echo $CUDA_VISIBLE_DEVICES; sleep 0.3"], gpus=1) for _ in range(3)]
    cpu = gpu_service.submit(SH + ["echo \"[$CUDA_VISIBLE_DEVICES]\""])
    wait_terminal(gpu_service, cpu.id)  # considered after every GPU job, while two of them hold the GPUs
    assert gpu_service.read_log(cpu.id)[0] == "[]\n"  # asked for no GPU: sees none
    assert str(gpu_service.get(subs[2].id).reason) == "Resources(GPU)"
    explain = "\n".join(gpu_service.explain(subs[2].id))
    assert "wants 1 GPU(s); free: none; busy: GPU 0: job" in explain
    for s in subs:
        wait_terminal(gpu_service, s.id)
    assert sorted(gpu_service.read_log(s.id)[0].strip() for s in subs[:2]) == ["0", "1"]
    assert gpu_service.get(subs[2].id).state is JobState.FINISHED


def test_gpu_requests_this_machine_cannot_meet_are_refused(gpu_service, service):
    with pytest.raises(InvalidSpec, match=r"^--gpus 3: this machine has 2 GPUs \(simulated\)$"):
        gpu_service.submit(["true"], gpus=3)
    with pytest.raises(InvalidSpec, match="^--gpus 1: this machine has no GPUs"):
        service.submit(["true"], gpus=1)


def test_explain_names_every_gate(service):
    parent = service.submit(SH + ["sleep 30"], name="prep")
    wait_job_state(service, parent.id, JobState.RUNNING)
    child = service.submit(["true"], dependency=f"afterok:{parent.id}+10m")
    lines = service.explain(child.id)
    assert lines[0] == f"Job {child.id} (true) is Queued (Dependency)"
    assert lines[1] == f"Dependency=PendingDependencies=afterok:{parent.id}+00:10:00 Status=WaitForAll"
    assert lines[2] == f"  afterok:{parent.id}+00:10:00: waiting, job {parent.id} (prep) is Running"


def test_events_are_ordered_and_stored(service):
    seen = []
    unsubscribe = service.subscribe(seen.append)
    sub = service.submit(["true"])
    wait_terminal(service, sub.id)
    unsubscribe()
    mine = [e for e in seen if e["job_id"] == sub.id]
    assert [e["state"] for e in mine][0] == "Queued" and mine[-1]["state"] == "Finished"
    assert [e["seq"] for e in seen] == sorted(e["seq"] for e in seen)
    assert [e["seq"] for e in service.events_since(seen[0]["seq"] - 1)][: len(seen)] == [e["seq"] for e in seen]


def test_restart_readopts_running_job_and_marks_vanished_one_lost(state_dir):  # §1.17 item 30
    svc = JobService(state_dir, kill_grace=1.0).start()
    survivor = svc.submit(SH + ["sleep 1; echo done"])
    victim = svc.submit(SH + ["sleep 60"])
    wait_job_state(svc, survivor.id, JobState.RUNNING)
    wait_job_state(svc, victim.id, JobState.RUNNING)
    victim_pid = wait_launched(svc, victim.id)["pid"]
    svc.close()  # the host goes away; its jobs do not
    os.killpg(victim_pid, signal.SIGKILL)  # ... but this one dies while nobody watches
    svc = JobService(state_dir, kill_grace=1.0).start()
    try:
        assert svc.get(victim.id).state is JobState.FAILED and str(svc.get(victim.id).reason) == "Lost"
        assert svc.get(survivor.id).state is JobState.RUNNING
        job = wait_terminal(svc, survivor.id)
        assert (job.state, job.exit_code) == (JobState.FINISHED, 0)
        assert svc.read_log(survivor.id)[0] == "done\n"
    finally:
        stop_everything(svc)


def test_job_that_ended_while_host_was_down_gets_its_exit_status(state_dir):
    svc = JobService(state_dir).start()
    sub = svc.submit(SH + ["sleep 0.3; exit 4"])
    wait_job_state(svc, sub.id, JobState.RUNNING)
    pid = wait_launched(svc, sub.id)["pid"]
    svc.close()
    psutil.Process(pid).wait(10)  # (it is our child: reap it as the dead host would have)
    svc = JobService(state_dir).start()
    try:
        job = svc.get(sub.id)
        assert (job.state, job.exit_code, str(job.reason)) == (JobState.FAILED, 4, "ExitCode:4")
    finally:
        stop_everything(svc)


def test_delay_crosses_restart(state_dir):  # §1.17 item 15
    clock = FakeClock()
    svc = JobService(state_dir, clock=clock).start()
    parent = svc.submit(["true"])
    child = svc.submit(["true"], dependency=f"afterok:{parent.id}+2m")
    wait_terminal(svc, parent.id)
    ready_at = svc.get(parent.id).ended_at + 120
    clock.advance(60)
    svc.close()
    svc = JobService(state_dir, clock=clock).start()
    try:
        assert str(svc.get(child.id).reason).startswith("ReadyAfter ")
        clock.advance(59.99)
        assert svc.get(child.id).state is JobState.QUEUED
        clock.advance(0.01)
        job = wait_terminal(svc, child.id)
        assert job.started_at == ready_at
    finally:
        stop_everything(svc)


def test_second_scheduler_on_same_state_dir_is_refused(service, state_dir):
    from jupyter_jobflow.core.errors import Unavailable

    with pytest.raises(Unavailable, match=rf"^{state_dir} is already scheduled by process {os.getpid()} \("):
        JobService(state_dir).start()
    assert service.submit(["true"]).id  # the first one goes on


# --- job arrays -------------------------------------------------------------------------------------


def test_array_tasks_get_their_index_in_env_and_name(service):
    sub = service.submit(SH + ['echo "$JOBFLOW_ARRAY_TASK_ID $SLURM_ARRAY_TASK_ID $JOBFLOW_ARRAY_JOB_ID '
                               '$SLURM_ARRAY_JOB_ID"'], name="sweep", array="1-3")
    first = sub.id
    assert sub.array_ids == (first, first + 1, first + 2) and str(sub) == f"Submitted batch job {first} (sweep)"
    for index, jid in zip((1, 2, 3), sub.array_ids):
        job = wait_terminal(service, jid)
        assert (job.name, job.array_of, job.state) == (f"sweep[{index}]", first, JobState.FINISHED)
        assert service.read_log(jid)[0] == f"{index} {index} {first} {first}\n"
    assert service.store.get_job(first + 2).array_of == first  # stored, not only in the mirror
    plain = service.submit(["true"])
    assert plain.array_ids == () and service.get(plain.id).array_of is None


def test_array_step_list_and_bad_specs(service):
    assert [service.get(j).name for j in service.submit(["true"], name="s", array="0-6:3").array_ids] == \
        ["s[0]", "s[3]", "s[6]"]
    assert [service.get(j).name for j in service.submit(["true"], name="l", array="5,1,3").array_ids] == \
        ["l[1]", "l[3]", "l[5]"]
    before = service.store.max_job_id()
    for bad in ("1-", "3-1", "1-3%0"):
        with pytest.raises(InvalidSpec):
            service.submit(["true"], array=bad)
    with pytest.raises(InvalidSpec, match="--array with %N cannot be combined with --group"):
        service.submit(["true"], array="1-3%1", group="g")
    assert service.store.max_job_id() == before  # nothing stored


def test_array_percent_limit_runs_tasks_one_at_a_time(service):
    sub = service.submit(SH + ["sleep 0.3"], name="one", array="1-3%1")
    group = f"array-{sub.id}"
    assert all(service.get(j).group == group for j in sub.array_ids)
    assert service.engine.groups[group].limit == 1
    done = [wait_terminal(service, j) for j in sub.array_ids]
    assert [j.state for j in done] == [JobState.FINISHED] * 3
    assert done[0].ended_at <= done[1].started_at and done[1].ended_at <= done[2].started_at


def test_depends_on_at_after_an_array_waits_for_every_task(service):
    arr = service.submit(SH + ['sleep 0.2; [ "$JOBFLOW_ARRAY_TASK_ID" != 2 ] || sleep 0.5'], array="1-3")
    after = service.submit(["true"], depends_on="@")
    assert service.get(after.id).dependency == "afterok:" + ":".join(map(str, arr.array_ids))
    done = wait_terminal(service, after.id)
    assert done.state is JobState.FINISHED
    assert done.started_at >= max(wait_terminal(service, j).ended_at for j in arr.array_ids)
    # an explicit id of the array's first task means the whole array too, with its delay
    again = service.submit(["true"], dependency=f"afterany:{arr.id}+1s", hold=True)
    assert service.get(again.id).dependency == "afterany:" + ":".join(f"{j}+00:00:01" for j in arr.array_ids)


def test_a_failing_array_task_cascades_to_the_dependent(service):
    arr = service.submit(SH + ['[ "$JOBFLOW_ARRAY_TASK_ID" != 2 ]'], array="1-3", hold=True)
    after = service.submit(["true"], depends_on="@")
    for j in arr.array_ids:
        service.release(j)
    assert wait_terminal(service, arr.array_ids[1]).state is JobState.FAILED
    job = wait_terminal(service, after.id)
    assert job.state is JobState.CANCELLED and str(job.reason) == f"DependencyFailed:{arr.array_ids[1]}"


def test_history_counts_an_array_as_one_entry(service):  # spec §1.3 R3
    arr = service.submit(["true"], scope="k", array="1-3", hold=True)
    one = service.submit(["true"], scope="k", hold=True)
    assert service.store.recent_ids(scope="k", limit=5) == [one.id, arr.id]
    dep = service.submit(["true"], scope="k", depends_on="@~1", hold=True)
    assert service.get(dep.id).dependency == "afterok:" + ":".join(map(str, arr.array_ids))
    any_of = service.submit(["true"], scope="k", depends_on_any="@~1,@~2", hold=True)
    assert service.get(any_of.id).dependency == f"afterok:{one.id}?" + "?".join(
        f"afterok:{j}" for j in arr.array_ids)


def test_changing_retries_keeps_the_rest_of_the_retry_policy(service):
    sub = service.submit(SH + ["exit 1"], retries=0, retry_delay=5, retry_backoff=2, retry_max_delay=60)
    wait_terminal(service, sub.id)
    redone = service.redo(sub.id, retries=2)
    assert (redone.retry.retries, redone.retry.delay, redone.retry.backoff, redone.retry.max_delay) == (2, 5, 2, 60)
    held = service.submit(["true"], hold=True, retry_delay=7)
    assert service.update(held.id, retries=4).retry == service.get(held.id).retry
    assert (service.get(held.id).retry.retries, service.get(held.id).retry.delay) == (4, 7)


def test_a_finished_job_still_says_which_gpus_it_used(tmp_path):
    from jupyter_jobflow.core.wire import job_to_json

    svc = JobService(tmp_path / "state", simulated_gpus=2, kill_grace=1.0).start()
    try:
        sub = svc.submit(SH + ["echo $CUDA_VISIBLE_DEVICES"], gpus=1)
        done = job_to_json(wait_terminal(svc, sub.id))
        seen = int(svc.read_log(sub.id)[0])
        assert (done["allocated_gpus"], done["used_gpus"]) == ([], [seen])
        assert job_to_json(svc.redo(sub.id))["used_gpus"] == []  # a new job has used nothing yet
    finally:
        stop_everything(svc)
    again = JobService(tmp_path / "state", simulated_gpus=2, kill_grace=1.0).start()
    try:  # read back from the attempts table after a restart
        assert job_to_json(again.get(sub.id))["used_gpus"] == [seen]
    finally:
        stop_everything(again)


def test_aftercorr_pairs_task_i_with_task_i_and_a_failed_task_cancels_only_its_child(service):  # spec C-5
    parent = service.submit(SH + ['[ "$JOBFLOW_ARRAY_TASK_ID" != 2 ] || exit 3; '
                                  '[ "$JOBFLOW_ARRAY_TASK_ID" != 3 ] || sleep 0.5'], array="1-3", hold=True)
    child = service.submit(SH + ["echo child $JOBFLOW_ARRAY_TASK_ID"], array="1-4", dependency=f"aftercorr:{parent.id}")
    p1, p2, p3 = parent.array_ids
    c1, c2, c3, c4 = child.array_ids
    # each child task waits for the parent task of its own index; index 4 has none: it waits for every task
    assert [service.get(c).dependency for c in child.array_ids] == \
        [f"aftercorr:{p1}", f"aftercorr:{p2}", f"aftercorr:{p3}", f"aftercorr:{p1}:{p2}:{p3}"]
    for p in parent.array_ids:
        service.release(p)
    done1 = wait_terminal(service, c1)
    assert done1.state is JobState.FINISHED
    assert done1.started_at < wait_terminal(service, p3).ended_at  # it did not wait for task 3 (nor 2)
    assert wait_terminal(service, p2).state is JobState.FAILED
    cancelled = wait_terminal(service, c2)
    assert cancelled.state is JobState.CANCELLED and str(cancelled.reason) == f"DependencyFailed:{p2}"
    done3 = wait_terminal(service, c3)
    assert done3.state is JobState.FINISHED and done3.started_at >= wait_terminal(service, p3).ended_at
    assert service.read_log(c3)[0] == "child 3\n"
    assert wait_terminal(service, c4).state is JobState.CANCELLED  # it needed task 2 too
    # stored per task: a restarted host reads the same pairs back
    assert service.store.get_job(c3).dependency == f"aftercorr:{p3}"


def test_aftercorr_at_submit_cancels_only_the_tasks_whose_parent_failed(service):
    parent = service.submit(SH + ['[ "$JOBFLOW_ARRAY_TASK_ID" != 1 ]'], array="0-1")
    for p in parent.array_ids:
        wait_terminal(service, p)
    child = service.submit(["true"], array="0-1", dependency=f"aftercorr:{parent.id}")
    assert service.get(child.array_ids[1]).state is JobState.CANCELLED  # decided at submit (S7), its sibling not
    assert child.warnings == (f"Warning: 1 more task(s) of array {child.id} will never start (aftercorr: their "
                              f"parent task failed) and were cancelled: {child.array_ids[1]}",)
    assert wait_terminal(service, child.array_ids[0]).state is JobState.FINISHED


def test_aftercorr_without_arrays_is_e12_and_on_a_plain_job_is_afterok(service):
    plain = service.submit(["true"], hold=True)
    with pytest.raises(InvalidSpec, match="^aftercorr requires the submitted job to be an array job$"):
        service.submit(["true"], dependency=f"aftercorr:{plain.id}")
    arr = service.submit(["true"], array="0-2", dependency=f"aftercorr:{plain.id}", hold=True)
    assert {service.get(t).dependency for t in arr.array_ids} == {f"aftercorr:{plain.id}"}
    # a plain job on an array waits for every task (as Slurm does)
    one = service.submit(["true"], dependency=f"aftercorr:{arr.id}", hold=True)
    assert service.get(one.id).dependency == "aftercorr:" + ":".join(map(str, arr.array_ids))


def test_a_job_that_cannot_start_settles_its_dependents_at_once(service):
    """A spawn error ends the attempt outside a scheduler step: the loop must wake for the
    dependents it marked, not wait for the next unrelated event."""
    parent = service.submit(["true"], cwd="/nonexistent-dir", hold=True)
    child = service.submit(["true"], dependency=f"afterok:{parent.id}")
    service.release(parent.id)
    assert wait_job_state(service, child.id, JobState.CANCELLED).reason.args == {"job": parent.id,
                                                                                 "condition": f"afterok:{parent.id}"}
    assert service.get(parent.id).reason.kind == "SpawnError"

"""The scheduler's decision as a pure function: built snapshots, no processes, no sleeps."""

from __future__ import annotations

from collections import defaultdict

from jupyter_jobflow.core.decide import Snapshot, decide
from jupyter_jobflow.core.depspec import parse
from jupyter_jobflow.core.model import Group, Job, JobState, Reason, RetryPolicy

NOW = 1_000_000.0
Q, H, R, CD, F, CA, TO = (JobState.QUEUED, JobState.HOLD, JobState.RUNNING, JobState.FINISHED, JobState.FAILED,
                          JobState.CANCELLED, JobState.TIMEOUT)


def job(id: int, state: JobState = Q, dep: str | None = None, **kw) -> Job:
    ended = kw.pop("ended_at", NOW - 10 if state.terminal else None)
    started = kw.pop("first_started_at", NOW - 20 if state in (R, CD, F, TO) else None)
    return Job(id=id, name=kw.pop("name", f"j{id}"), command=("true",), state=state, dependency=dep,
               ended_at=ended, first_started_at=started, started_at=kw.pop("started_at", started), **kw)


def snapshot(*jobs: Job, now: float = NOW, **kw) -> Snapshot:
    specs = {j.id: parse(j.dependency) for j in jobs if j.dependency}
    dependents: dict[int, set[int]] = defaultdict(set)
    for jid, spec in specs.items():
        for cond in spec.conditions:
            dependents[int(cond.target)].add(jid)
    return Snapshot(jobs={j.id: j for j in jobs}, now=now, specs=specs, dependents=dependents,
                    running=[j.id for j in jobs if j.state is R], **kw)


def started(d) -> list[int]:
    return [s.job_id for s in d.starts]


def test_decide_starts_job_without_dependencies():
    assert started(decide(snapshot(job(1)))) == [1]


def test_decide_waits_while_parent_runs():
    d = decide(snapshot(job(1, R), job(2, dep="afterok:1")))
    assert started(d) == [] and d.reasons[2].kind == "Dependency"


def test_decide_or_with_one_branch_finished_starts_now():  # §1.17 item 5
    d = decide(snapshot(job(1, CD), job(2, R), job(3, dep="afterok:1?afterok:2")))
    assert started(d) == [3]


def test_decide_delay_waits_until_ready_time_then_starts():
    snap = snapshot(job(1, CD, ended_at=NOW - 30), job(2, dep="afterok:1+1m"))
    d = decide(snap)
    assert started(d) == [] and d.reasons[2] == Reason("DependencyReadyAfter", {"at": NOW + 30})
    assert d.wake_at == NOW + 30
    assert started(decide(snapshot(*snap.jobs.values(), now=NOW + 30))) == [2]


def test_decide_retrying_parent_fires_nothing_until_final_attempt():  # §1.17 item 8
    retrying = job(1, Q, retry_at=NOW + 5, attempt=3, retry=RetryPolicy(retries=3), retry_count=2)
    d = decide(snapshot(retrying, job(2, dep="afternotok:1"), job(3, dep="afterok:1")), [2, 3])
    assert started(d) == [] and not d.cancels
    done = job(1, CD, attempt=4)
    d = decide(snapshot(done, job(2, dep="afternotok:1"), job(3, dep="afterok:1")), [2, 3])
    assert started(d) == [3]
    assert [c.job_id for c in d.cancels] == [2]


def test_decide_parent_timeout_fires_afternotok_and_cascades_afterok():  # §1.17 item 9
    d = decide(snapshot(job(1, TO), job(2, dep="afternotok:1"), job(3, dep="afterok:1")))
    assert started(d) == [2]
    assert [(c.job_id, str(c.reason)) for c in d.cancels] == [(3, "DependencyFailed:1")]


def test_decide_user_cancel_of_queued_parent_fires_after_and_cascades_afternotok():  # §1.17 item 10
    parent = job(1, CA, reason=Reason("CancelledByUser"), first_started_at=None)
    d = decide(snapshot(parent, job(2, dep="after:1"), job(3, dep="afternotok:1")))
    assert started(d) == [2]
    assert [c.job_id for c in d.cancels] == [3]


def test_decide_cascade_cancelled_parent_fires_afternotok():  # §1.17 item 11
    parent = job(1, CA, reason=Reason("DependencyFailed", {"job": 9, "condition": "afterok:9"}))
    d = decide(snapshot(job(9, F), parent, job(2, dep="afternotok:1")), [2])
    assert started(d) == [2] and not d.cancels


def test_decide_three_level_cascade_in_one_step():  # §1.17 item 12
    d = decide(snapshot(job(100, F), job(101, dep="afterok:100"), job(102, dep="afterok:101"),
                        job(103, dep="afterok:102")), [101])
    assert [(c.job_id, str(c.reason), c.root) for c in d.cancels] == [
        (101, "DependencyFailed:100", 100), (102, "DependencyFailed:101", 100), (103, "DependencyFailed:102", 100)]


def test_decide_cascade_spares_dependents_that_accept_the_outcome():  # C2
    d = decide(snapshot(job(1, F), job(2, dep="afterok:1"), job(3, dep="afterany:2"), job(4, R),
                        job(5, dep="afterok:2?afterok:4")))
    assert [c.job_id for c in d.cancels] == [2]
    assert started(d) == [3]
    assert d.reasons[5].kind == "Dependency"


def test_decide_held_dependent_is_not_cascaded():  # §1.17 item 13, C4
    d = decide(snapshot(job(1, F), job(2, H, dep="afterok:1")), [2])
    assert not d.cancels and not d.starts


def test_decide_released_dependent_is_cancelled_or_kept_by_no_auto_cancel():  # §1.17 item 13, 7
    d = decide(snapshot(job(1, F), job(2, dep="afterok:1"), job(3, dep="afterok:1", auto_cancel=False)))
    assert [c.job_id for c in d.cancels] == [2]
    assert str(d.reasons[3]) == "DependencyNeverSatisfied:afterok:1"


def test_decide_paused_group_suspends_the_cascade():  # §1.17 item 14, H4
    d = decide(snapshot(job(1, F), job(2, dep="afterok:1", group="g"), groups={"g": Group("g", paused=True)}))
    assert not d.cancels
    assert d.reasons[2].kind == "DependencyNeverSatisfied"


def test_decide_timeouts_running_job_at_its_limit():
    d = decide(snapshot(job(1, R, started_at=NOW - 60, time_limit=60), job(2, R, started_at=NOW - 59, time_limit=60)))
    assert d.timeouts == [1]
    assert d.wake_at == NOW + 1


def test_decide_gives_distinct_gpus_and_waits_for_more():
    d = decide(snapshot(job(1, gpus=1), job(2, gpus=2), job(3, gpus=1), gpus=(0, 1, 2)))
    assert [(s.job_id, s.gpus) for s in d.starts] == [(1, (0,)), (2, (1, 2))]
    assert str(d.reasons[3]) == "Resources(GPU)" and 3 in d.waiting_for_resources


def test_decide_gpus_held_by_running_jobs_are_not_free():
    d = decide(snapshot(job(1, R, allocated_gpus=(0,)), job(2, gpu_ids=(0,), gpus=1), job(3, gpus=1), gpus=(0, 1)))
    assert [(s.job_id, s.gpus) for s in d.starts] == [(3, (1,))]


def test_decide_higher_priority_starts_first():
    d = decide(snapshot(job(1, gpus=1), job(2, gpus=1, priority=5), gpus=(0,)))
    assert started(d) == [2]


def test_decide_group_limit():
    d = decide(snapshot(job(1, R, group="g"), job(2, group="g"), job(3, group="h"),
                        groups={"g": Group("g", limit=1)}))
    assert started(d) == [3] and str(d.reasons[2]) == "GroupLimit:g=1"


def test_decide_singleton_waits_for_same_name():
    d = decide(snapshot(job(1, R, name="train"), job(2, dep="singleton", name="train")))
    assert started(d) == [] and str(d.reasons[2]) == "Singleton"


def test_decide_retry_backoff_waits_until_its_time():
    j = job(1, retry_at=NOW + 20, retry=RetryPolicy(retries=2), retry_count=1)
    d = decide(snapshot(j))
    assert started(d) == [] and d.reasons[1].kind == "RetryBackoff" and d.wake_at == NOW + 20
    assert started(decide(snapshot(j, now=NOW + 20))) == [1]


def test_decide_max_running_slots():
    d = decide(snapshot(job(1, R), job(2), job(3), max_running=2))
    assert started(d) == [2] and str(d.reasons[3]) == "Resources(Slots)"

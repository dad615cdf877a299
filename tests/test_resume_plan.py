"""Resume planning (R4-R6) and a run's state from its tasks (F4): pure, over a task graph."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_jobflow.core.errors import Conflict, InvalidSpec
from jupyter_jobflow.core.flowdef import Flow
from jupyter_jobflow.core.resume import TaskStatus, descendants, plan_resume, run_state

# t1 -> t2 -> t3 -> t4 -> t5, and side <- t1
CHAIN = {"t1": (), "t2": ("t1",), "t3": ("t2",), "t4": ("t3",), "t5": ("t4",), "side": ("t1",)}
OK, FAILED = TaskStatus("Finished", source_hash="aaaa1111"), TaskStatus("Failed")
UPSTREAM = TaskStatus("Cancelled", upstream=True)


def failed_at_t3() -> dict[str, TaskStatus]:
    return {"t1": OK, "t2": OK, "t3": FAILED, "t4": UPSTREAM, "t5": UPSTREAM, "side": OK}


def plan(states=None, **kw):
    return plan_resume(CHAIN, states or failed_at_t3(), run_id="etl__manual__x__1", flow="etl", **kw)


def test_resume_requeues_the_failure_and_its_descendants_and_keeps_what_finished():
    p = plan()
    assert p.requeue == ("t3", "t4", "t5") and p.keep == ("t1", "t2", "side") and p.warnings == ()
    timed_out = {**failed_at_t3(), "t3": TaskStatus("Timeout"), "side": TaskStatus("Skipped", upstream=True)}
    assert plan(timed_out).requeue == ("t3", "t4", "t5", "side")


def test_a_kept_task_whose_source_changed_is_named_and_from_reruns_it():  # edge case 26
    hashes = {"t1": "aaaa1111", "t2": "bbbb2222"}
    p = plan(hashes=hashes)
    assert p.requeue == ("t3", "t4", "t5")
    assert p.warnings == ('Task "t2" changed since it succeeded in this run (source hash aaaa… -> bbbb…); it will NOT '
                          "be rerun. Use --from t2 to rerun it.",)
    forced = plan(hashes=hashes, from_task="t2")
    assert forced.requeue == ("t2", "t3", "t4", "t5") and forced.warnings == ()


def test_from_only_and_as_new_run():
    finished = {n: OK for n in CHAIN}
    assert plan(finished, from_task="t4").requeue == ("t4", "t5")
    assert plan(only="t4").requeue == ("t4",)
    memo = plan(as_new_run=True)
    assert memo.as_new_run and memo.keep == ("t1", "t2", "side") and memo.requeue == ("t3", "t4", "t5")


def test_resume_errors():
    finished = {n: OK for n in CHAIN}
    with pytest.raises(Conflict, match=r"^Nothing to resume: run etl__manual__x__1 finished successfully\. "
                                       r"Use --from <task> to force a rerun$"):
        plan(finished)
    with pytest.raises(Conflict, match=r"^Run etl__manual__x__1 is still running; cancel it or wait before resuming$"):
        plan({**failed_at_t3(), "t5": TaskStatus("Running")})
    with pytest.raises(InvalidSpec, match=r'^Task "t33" not in flow "etl" \(did you mean "t3"\?\)$'):
        plan(from_task="t33")
    with pytest.raises(InvalidSpec, match="--from and --only cannot be combined"):
        plan(from_task="t3", only="t3")


def test_every_terminal_task_moves_the_run_on():  # edge case 18
    assert run_state({"a": OK, "b": TaskStatus("Running")}) == ("Running", "")
    assert run_state({"a": OK, "b": TaskStatus("Queued")}, cancelled=True) == ("Cancelled", "CancelledByUser")
    assert run_state({"a": OK, "b": OK, "c": TaskStatus("Skipped")}) == ("Finished", "")
    assert run_state(failed_at_t3()) == ("Failed", "TaskFailed:t3")
    assert run_state({"a": OK, "b": TaskStatus("Timeout")}) == ("Failed", "TaskTimeout:b")
    assert run_state({"a": UPSTREAM}) == ("Failed", "DependencyFailed:a")
    assert run_state({"a": OK, "b": TaskStatus("Cancelled")}) == ("Cancelled", "TaskCancelled:b")


def test_two_runs_of_one_flow_are_planned_from_their_own_states():  # edge case 17, the pure part
    graph = Flow("etl").task("prep", command="p").task("train", command="t", depends="prep").build().graph()
    run_a = {"prep": OK, "train": FAILED}
    run_b = {"prep": OK, "train": OK}
    assert run_state(run_a) == ("Failed", "TaskFailed:train") and run_state(run_b) == ("Finished", "")
    assert plan_resume(graph, run_a, run_id="a", flow="etl").requeue == ("train",)
    with pytest.raises(Conflict):
        plan_resume(graph, run_b, run_id="b", flow="etl")


STATES = st.sampled_from([OK, FAILED, UPSTREAM, TaskStatus("Timeout"), TaskStatus("Cancelled"),
                          TaskStatus("Skipped"), TaskStatus("Skipped", upstream=True)])


@st.composite
def dags(draw):
    n = draw(st.integers(1, 12))
    names = [f"t{i}" for i in range(n)]
    graph = {name: tuple(draw(st.sets(st.sampled_from(names[:i]))) if i else ()) for i, name in enumerate(names)}
    return graph, {name: draw(STATES) for name in names}, draw(st.sampled_from([None, *names]))


@given(dags())
def test_a_resume_plan_is_downward_closed_and_keeps_finished_tasks(case):
    graph, states, from_task = case
    try:
        p = plan_resume(graph, states, run_id="r", flow="f", from_task=from_task)
    except Conflict:
        assert from_task is None and all(s.state in ("Finished", "Skipped") and not s.upstream for s in states.values())
        return
    requeued = set(p.requeue)
    assert descendants(graph, requeued) == requeued
    assert requeued | set(p.keep) == set(graph) and not requeued & set(p.keep)
    assert all(states[n].state in ("Finished", "Skipped") for n in p.keep)
    if from_task:
        assert from_task in requeued

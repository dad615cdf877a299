"""A run's state from its tasks (F4), and what ``gpipe resume`` re-queues (R4-R6).

Pure: the engine passes the run's task graph (task -> its upstream tasks, in definition order,
``FlowDef.graph()``) and each task's ``TaskStatus`` (selected by the run key, never by template or
task name), and stores what the plan says.

Resume, in place (same run id, attempts keep counting) or ``as_new_run`` (finished tasks are
copied into the new run as memoized):

- default: Failed, Timeout and Cancelled tasks and Skipped-because-of-a-failure tasks, and all
  their descendants, are re-queued; Finished tasks are kept with their outputs. Decision: a task
  the user cancelled is re-queued too (R4 names only upstream-cancelled ones; resuming a run the
  user stopped should carry on where it stopped, and nothing that succeeded runs again);
- ``from_task``: that task and its descendants as well, even if Finished (Argo #7534: rerun from a
  step whose output was wrong); whatever failed elsewhere is re-queued too, so the run can finish;
- ``only``: that task alone, no descendants.

A kept Finished task whose source hash changed since it succeeded gets warning W7 (R5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from .errors import Conflict, InvalidSpec
from .templates import did_you_mean

ACTIVE = frozenset({"Queued", "Hold", "Running"})
FAILED = frozenset({"Failed", "Timeout"})


@dataclass(frozen=True)
class TaskStatus:
    """One task of a run. ``state``: a job state's name (Finished, Failed, ...) or ``Skipped``;
    ``upstream``: Cancelled or Skipped because an upstream task failed (reason DependencyFailed,
    Omitted); ``source_hash``: the hash of the source it last succeeded with."""

    state: str
    upstream: bool = False
    source_hash: str | None = None


@dataclass(frozen=True)
class ResumePlan:
    requeue: tuple[str, ...]  # in definition order
    keep: tuple[str, ...]  # Finished (or Skipped) and left alone; copied as memoized in a new run
    as_new_run: bool = False
    warnings: tuple[str, ...] = ()


def run_state(states: Mapping[str, TaskStatus], *, cancelled: bool = False) -> tuple[str, str]:
    """F4: ``(state, reason)`` of a run, from its tasks in definition order. Every terminal task
    state moves the run on (Volcano #4134, #4442): nothing but an active task keeps it Running."""
    if cancelled:
        return "Cancelled", "CancelledByUser"
    if any(s.state in ACTIVE for s in states.values()):
        return "Running", ""
    for name, s in states.items():
        if s.state in FAILED:
            return "Failed", f"Task{s.state}:{name}"
    for name, s in states.items():
        if s.state == "Cancelled" and s.upstream:
            return "Failed", f"DependencyFailed:{name}"
    for name, s in states.items():
        if s.state == "Cancelled":  # a task cancelled alone, the run not: it did not finish
            return "Cancelled", f"TaskCancelled:{name}"
    return "Finished", ""


def plan_resume(graph: Mapping[str, Sequence[str]], states: Mapping[str, TaskStatus], *, run_id: str, flow: str,
                from_task: str | None = None, only: str | None = None, as_new_run: bool = False,
                hashes: Mapping[str, str] | None = None) -> ResumePlan:
    """What ``gpipe resume RUN`` does. ``hashes``: each task's source hash now (for W7).
    Raises ``Conflict`` (run still active; nothing to resume) or ``InvalidSpec`` (unknown task)."""
    missing = [n for n in graph if n not in states]
    if missing:
        raise ValueError(f"no state for task(s) {', '.join(missing)} of run {run_id}")
    if from_task is not None and only is not None:
        raise InvalidSpec("--from and --only cannot be combined: --from reruns a task and its descendants, "
                          "--only the task alone")
    for task in (from_task, only):
        if task is not None and task not in graph:
            raise InvalidSpec(f'Task "{task}" not in flow "{flow}"{did_you_mean(task, graph)}')
    if any(s.state in ACTIVE for s in states.values()):
        raise Conflict(f"Run {run_id} is still running; cancel it or wait before resuming")
    seeds = {n for n, s in states.items() if _unfinished(s)}
    if only is not None:
        chosen = {only}
    else:
        chosen = descendants(graph, seeds | ({from_task} if from_task else set()))
    if not chosen:
        raise Conflict(f"Nothing to resume: run {run_id} finished successfully. Use --from <task> to force a rerun")
    order = list(graph)
    requeue = tuple(n for n in order if n in chosen)
    keep = tuple(n for n in order if n not in chosen)
    warnings = []
    for name in keep:
        before, now = states[name].source_hash, (hashes or {}).get(name)
        if states[name].state == "Finished" and before and now and before != now:
            warnings.append(f'Task "{name}" changed since it succeeded in this run (source hash {before[:4]}… -> '
                            f"{now[:4]}…); it will NOT be rerun. Use --from {name} to rerun it.")
    return ResumePlan(requeue, keep, as_new_run, tuple(warnings))


def _unfinished(s: TaskStatus) -> bool:
    return s.state in FAILED or s.state == "Cancelled" or (s.state == "Skipped" and s.upstream)


def descendants(graph: Mapping[str, Sequence[str]], roots: set[str]) -> set[str]:
    """``roots`` and every task downstream of them."""
    children: dict[str, list[str]] = {n: [] for n in graph}
    for name, parents in graph.items():
        for p in parents:
            children.setdefault(p, []).append(name)
    seen, todo = set(roots), list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen

"""Runtime dependency evaluation: CraneSched's ready-time algebra (docs/rules.md, When the dependency is judged).

Each condition collapses to an event time (satisfied at ``t``), PENDING or NEVER; its ready time is
event time + delay. AND takes the max and is NEVER if any part is; OR takes the min over the
satisfied parts and is NEVER only when every part is. Only a parent's *final* outcome counts: a job
waiting to retry is not terminal, so it stays PENDING for its dependents (Airflow's up_for_retry).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from .depspec import Condition, DepSpec
from .model import Job, JobState, format_clock

PENDING = None
NEVER = math.inf

#: Cancel reasons that mean "did not run because of the system" (docs/rules.md: they fire ``afternotok``).
UPSTREAM_REASONS = frozenset({"DependencyFailed", "Expired", "Superseded"})


def is_upstream_cancel(job: Job) -> bool:
    return job.state is JobState.CANCELLED and job.reason is not None and job.reason.kind in UPSTREAM_REASONS


def event_time(cond: Condition, parent: Job | None) -> float | None:
    """When ``cond`` was satisfied (a time), ``PENDING`` (None) or ``NEVER`` (+inf)."""
    if parent is None:  # purged from history: nothing will ever happen to it
        return NEVER
    state, end = parent.state, parent.ended_at
    if cond.type == "after":
        if parent.first_started_at is not None:
            return parent.first_started_at
        return end if state is JobState.CANCELLED else PENDING
    if not state.terminal:
        return PENDING
    if cond.type == "afterany":
        return end
    if cond.type in ("afterok", "aftercorr"):  # aftercorr on a non-array parent is afterok
        return end if state is JobState.FINISHED else NEVER
    if cond.type == "afternotok":
        failed = state in (JobState.FAILED, JobState.TIMEOUT) or is_upstream_cancel(parent)
        return end if failed else NEVER
    raise ValueError(f"unknown dependency type {cond.type!r}")  # depspec never produces one


@dataclass(frozen=True)
class Verdict:
    """The state of one job's dependency expression at one moment.

    ``status`` is one of Crane's strings: WaitForAll, WaitForAny, ReadyAfter, SomeFailed, AllFailed.
    ``ready_at`` is set only for ReadyAfter (-inf when there is nothing to wait for).
    """

    status: str
    ready_at: float | None
    pending: tuple[Condition, ...]
    failed: tuple[tuple[Condition, Job | None], ...]
    op: str = "and"

    @property
    def never(self) -> bool:
        return self.status in ("SomeFailed", "AllFailed")

    def runnable(self, now: float) -> bool:
        return self.status == "ReadyAfter" and self.ready_at is not None and self.ready_at <= now

    def describe(self) -> str:
        """``Dependency=PendingDependencies=afterok:100 Status=WaitForAll`` (Crane's format)."""
        pending = str(DepSpec(op=self.op, conditions=self.pending)) if self.pending else ""
        head = f"Dependency=PendingDependencies={pending} " if pending else "Dependency="
        status = self.status
        if status == "ReadyAfter":
            status = f"ReadyAfter {format_clock(self.ready_at)}" if self.ready_at != -math.inf else "ReadyAfter now"
        text = f"{head}Status={status}"
        if self.failed:
            text += " Failed=" + ",".join(f"{c.type}:{c.target}({_outcome(p)})" for c, p in self.failed)
        return text


def _outcome(parent: Job | None) -> str:
    if parent is None:
        return "Purged"
    if is_upstream_cancel(parent):
        return f"Cancelled:{parent.reason}"
    return parent.state.value


NOTHING_TO_WAIT_FOR = Verdict("ReadyAfter", -math.inf, (), ())


def evaluate(spec: DepSpec | None, lookup: Callable[[int], Job | None]) -> Verdict:
    """Evaluate ``spec`` against the current parents (``lookup(id)``). ``singleton`` is a
    scheduling gate, not a condition on parents, so it is checked by the scheduler."""
    if spec is None or not spec.conditions:
        return NOTHING_TO_WAIT_FOR
    pending: list[Condition] = []
    failed: list[tuple[Condition, Job | None]] = []
    ready: list[float] = []
    for cond in spec.conditions:
        parent = lookup(int(cond.target))
        t = event_time(cond, parent)
        if t is PENDING:
            pending.append(cond)
        elif t == NEVER:
            failed.append((cond, parent))
        else:
            ready.append(t + cond.delay)
    if spec.op == "and":
        if failed:
            return Verdict("SomeFailed", None, tuple(pending), tuple(failed), "and")
        if pending:
            return Verdict("WaitForAll", None, tuple(pending), (), "and")
        return Verdict("ReadyAfter", max(ready), (), (), "and")
    if ready:  # OR: the first satisfied branch is enough, other branches may still be pending
        return Verdict("ReadyAfter", min(ready), tuple(pending), tuple(failed), "or")
    if pending:
        return Verdict("WaitForAny", None, tuple(pending), tuple(failed), "or")
    return Verdict("AllFailed", None, (), tuple(failed), "or")

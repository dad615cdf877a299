"""The one table of legal state changes (docs/rules.md, What moves a job), and the two functions
every state change goes through: ``initial`` for a job not yet stored, ``transition`` for one that is.

Each edge is named by its causes, the words the docs' table uses. A change the table does not
allow is a bug in jobflow, not a user's mistake: user actions are checked first with their own
message (``Conflict("Job 3 is Running; only queued jobs can be held")``), so ``IllegalTransition``
only ever reports a broken invariant, in one line.
"""

from __future__ import annotations

from typing import Any

from .errors import IllegalTransition
from .model import Job, JobState

Q, H, R = JobState.QUEUED, JobState.HOLD, JobState.RUNNING
F, X, C, T = JobState.FINISHED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT

#: (from, to) -> the causes of that change. ``None`` as "from": a job entering the queue (submitted,
#: or a new job made by redo or an array), which ``initial`` checks.
TRANSITIONS: dict[tuple[JobState | None, JobState], tuple[str, ...]] = {
    (None, Q): ("submit", "redo", "array-task"),
    (None, H): ("hold-at-submit",),
    (None, C): ("never-satisfied-at-submit",),
    (None, F): ("memoized",),
    (Q, R): ("start",),
    (Q, H): ("hold",),
    (Q, C): ("cancel", "cascade"),
    (Q, X): ("unreadable",),
    (H, Q): ("release",),
    (H, C): ("cancel", "skip"),
    (H, X): ("unreadable",),
    (R, F): ("finish",),
    (R, Q): ("retry", "unlaunch"),
    (R, X): ("fail", "lost", "spawn-error", "unreadable"),
    (R, T): ("timeout",),
    (R, C): ("cancel",),
    **{(end, Q): ("redo-in-place", "revive") if end is C else ("redo-in-place",) for end in (F, X, C, T)},
}


def allowed(from_state: JobState | None) -> list[JobState]:
    """The states a job in ``from_state`` may move to, in the enum's order."""
    return [s for s in JobState if (from_state, s) in TRANSITIONS]


def _check(job: Job, from_state: JobState | None, to: JobState, cause: str | None) -> None:
    causes = TRANSITIONS.get((from_state, to))
    if causes is not None and (cause is None or cause in causes):
        return
    origin = "a new job" if from_state is None else from_state.value
    if causes is None:
        what = f"from {origin} it may go to {', '.join(s.value for s in allowed(from_state))}"
    else:
        what = f"{origin} to {to.value} happens only by {', '.join(causes)}"
    by = f" by {cause}" if cause else ""
    raise IllegalTransition(f"Job {job.id or '(new)'} cannot go from {origin} to {to.value}{by}; {what} "
                            f"(a jobflow bug: please report it)")


def transition(job: Job, to: JobState, *, cause: str | None = None, **changes: Any) -> Job:
    """``job`` in state ``to`` with ``changes``; ``IllegalTransition`` when the table has no such
    edge (or, with ``cause``, not for that cause)."""
    _check(job, job.state, to, cause)
    return job.evolve(state=to, **changes)


def initial(job: Job, state: JobState, *, cause: str | None = None, **changes: Any) -> Job:
    """A job not yet stored (``job`` is its template: a submission, a redo's copy, an array's task)
    entering ``state``: Queued, Hold or Cancelled."""
    _check(job, None, state, cause)
    return job.evolve(state=state, **changes)

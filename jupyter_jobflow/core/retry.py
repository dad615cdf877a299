"""What an attempt's end means for its job: final state, or another attempt after a wait (docs/rules.md, Retries)."""

from __future__ import annotations

import math
import signal as _signal
from dataclasses import dataclass

from .limits import MAX_SECONDS
from .model import Job, JobState, Reason, RetryPolicy


def retry_wait(policy: RetryPolicy, failed_attempt: int) -> float:
    """Seconds to wait before the attempt after ``failed_attempt`` (1-based), rule Y1.

    delay 10, backoff 2, cap 60 gives 10, 20, 40, 60, 60. Airflow floors exponential waits at 1 s.
    Never more than ``limits.MAX_SECONDS``, whatever the stored policy says.
    """
    try:
        wait = policy.delay * policy.backoff ** (failed_attempt - 1)
    except OverflowError:  # a stored back-off of 1e300: the cap below applies
        wait = math.inf
    if not wait >= 0:  # NaN from a bad stored value
        wait = 0.0
    if policy.backoff != 1 and wait < MAX_SECONDS:
        wait = max(1.0, math.ceil(wait))
    if policy.max_delay is not None and policy.max_delay >= 0:
        wait = min(wait, policy.max_delay)
    return min(wait, float(MAX_SECONDS))  # never a timer no clock can show or OS can arm


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, classified once. ``kind`` is what ``retry_on`` matches:
    failure (exit != 0 or a signal), error (lost, could not spawn), timeout, cancel, success."""

    kind: str
    state: JobState
    reason: Reason | None


def classify(*, exit_code: int | None, signal: int | None, stopping: str | None,
             time_limit: float | None = None, lost: bool = False, spawn_error: str | None = None) -> Outcome:
    """Classify an attempt's end. ``stopping`` is why *we* signalled it, if we did."""
    if stopping == "cancel":
        return Outcome("cancel", JobState.CANCELLED, Reason("CancelledByUser"))
    if stopping == "timeout":
        return Outcome("timeout", JobState.TIMEOUT, Reason("TimeLimit", {"limit": time_limit}))
    if spawn_error is not None:
        return Outcome("error", JobState.FAILED, Reason("SpawnError", {"message": spawn_error}))
    if lost:
        return Outcome("error", JobState.FAILED, Reason("Lost"))
    if signal:
        name = _signal.Signals(signal).name if signal in _signal.Signals._value2member_map_ else str(signal)
        return Outcome("failure", JobState.FAILED, Reason("Signal", {"signal": name}))
    if exit_code == 0:
        return Outcome("success", JobState.FINISHED, None)
    return Outcome("failure", JobState.FAILED, Reason("ExitCode", {"code": exit_code}))


def should_retry(job: Job, outcome: Outcome) -> bool:
    """Retry when attempts remain and ``retry_on`` covers the outcome (Y3: never a user cancel)."""
    policy = job.retry
    if outcome.kind in ("success", "cancel") or job.retry_count >= policy.retries:
        return False
    return "always" in policy.retry_on or outcome.kind in policy.retry_on

"""Slurm's job states and exit codes in our words: a ``JobState`` and a ``Reason``
(docs/rules.md, States and Reasons). Pure: the executor feeds it what ``squeue``, ``sacct`` or
``scontrol`` printed.

Slurm's ends that are the system's fault (OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, BOOT_FAIL,
DEADLINE) are ``Failed`` with their own reason: for dependencies they are failures, as in Slurm
(``afternotok`` fires). A job that Slurm requeued is ``Queued`` again under the same Slurm id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidSpec
from .model import DEPENDENCY, HELD_BY_USER, JobState, Reason
from .timespec import parse_time_limit

_QUEUED = {"PENDING", "REQUEUED", "REQUEUE_FED", "RESV_DEL_HOLD"}
_RUNNING = {"RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"}
#: system ends: Failed, with a reason of their own
_SYSTEM_FAIL = {"OUT_OF_MEMORY": Reason("OutOfMemory"), "NODE_FAIL": Reason("NodeFail"),
                "PREEMPTED": Reason("Preempted"), "BOOT_FAIL": Reason("BootFail"), "DEADLINE": Reason("Deadline"),
                "SPECIAL_EXIT": Reason("SpecialExit")}
_PARENT = re.compile(r"(after\w*|singleton):?(\d*)[^(]*\((failed|unfulfilled)\)")


@dataclass(frozen=True)
class Outcome:
    """One Slurm job in our words. ``exit_code``/``signal`` only for an ended job that reported them."""

    state: JobState
    reason: Reason | None
    exit_code: int | None = None
    signal: int | None = None

    @property
    def ended(self) -> bool:
        return self.state.terminal


def split_exit(text: str) -> tuple[int | None, int | None]:
    """sacct's/scontrol's ``ExitCode=2:0`` -> (2, None); ``0:9`` -> (None, 9); '' -> (None, None)."""
    m = re.fullmatch(r"\s*(\d+):(\d+)\s*", text or "")
    if not m:
        return None, None
    code, sig = int(m.group(1)), int(m.group(2))
    return (None, sig) if sig else (code, None)


def split_wait_status(status: int | str | None) -> tuple[int | None, int | None]:
    """squeue's ``exit_code`` is the raw wait status: 768 -> (3, None); 9 -> (None, 9)."""
    try:
        raw = int(status)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None, None
    return (None, raw & 0x7F) if raw & 0x7F else (raw >> 8, None)


def failed_parents(dependency: str | None) -> list[int]:
    """Slurm ids of the parents that broke a dependency, from scontrol's
    ``Dependency=afterok:5000(failed),afterany:5001(unfulfilled)`` -> [5000]."""
    return [int(job) for _type, job, how in _PARENT.findall(dependency or "") if how == "failed" and job]


def _seconds(limit: str) -> float | None:
    """Slurm's printed time limit in seconds; 0 where it was cut to nothing; None: unknown/unlimited."""
    if re.fullmatch(r"[0:-]+", limit or ""):
        return 0
    try:
        return parse_time_limit(limit) if limit else None
    except InvalidSpec:  # Slurm prints N/A, NOT_SET...
        return None


def outcome(state: str, *, reason: str = "", exit_code: int | None = None, signal: int | None = None,
            time_limit: str = "", dependency: str | None = None) -> Outcome | None:
    """Map Slurm's ``state`` (``CANCELLED by 0`` and ``RUNNING+`` flags allowed) and its pending
    ``reason``; None for a state this Slurm invented after us (the caller keeps what it had).

    ``time_limit`` (Slurm's format) fills TimeLimit's reason; ``dependency`` (scontrol's text)
    names the parent of ``DependencyFailed``: its Slurm id, which the executor turns into ours.
    """
    base = (state or "").strip().split()[0].rstrip("+").upper() if (state or "").strip() else ""
    reason = (reason or "").strip()
    if base in _QUEUED:
        if reason in ("JobHeldUser",):
            return Outcome(JobState.HOLD, HELD_BY_USER)
        if reason == "Dependency":
            return Outcome(JobState.QUEUED, DEPENDENCY)
        if reason == "DependencyNeverSatisfied":
            return Outcome(JobState.QUEUED, Reason("DependencyNeverSatisfied", {"condition": dependency or "Slurm"}))
        return Outcome(JobState.QUEUED, Reason("Slurm", {"reason": reason or base}))
    if base == "REQUEUE_HOLD":
        return Outcome(JobState.HOLD, HELD_BY_USER)
    if base in _RUNNING:
        return Outcome(JobState.RUNNING, None)
    if base == "COMPLETED":
        return Outcome(JobState.FINISHED, None, exit_code if exit_code is not None else 0, None)
    if base == "TIMEOUT":
        limit = _seconds(time_limit)
        return Outcome(JobState.TIMEOUT, Reason("TimeLimit", {"limit": limit}), exit_code, signal)
    if base == "CANCELLED":
        if reason == "DependencyNeverSatisfied":
            parents = failed_parents(dependency)
            return Outcome(JobState.CANCELLED, Reason("DependencyFailed", {"job": parents[0] if parents else "Slurm"}))
        return Outcome(JobState.CANCELLED, Reason("CancelledByUser"), exit_code, signal)
    if base == "FAILED":
        if signal:
            return Outcome(JobState.FAILED, Reason("Signal", {"signal": signal}), exit_code, signal)
        return Outcome(JobState.FAILED, Reason("ExitCode", {"code": exit_code if exit_code is not None else 1}),
                       exit_code, signal)
    if base in _SYSTEM_FAIL:
        return Outcome(JobState.FAILED, _SYSTEM_FAIL[base], exit_code, signal)
    if base == "REVOKED":  # federation: the job runs on another cluster, not this one
        return Outcome(JobState.CANCELLED, Reason("Revoked"))
    return None

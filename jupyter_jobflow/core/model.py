"""Plain data: job states with gflow's codes, reasons, jobs and attempts.

Nothing here touches the disk, the clock or a process. The core speaks plain English
(``JobState.QUEUED``); gflow's codes (``PD``) are kept for the edges (views, CLI).
"""

from __future__ import annotations

import enum
import json as _json
import time as _time
from dataclasses import dataclass, field, replace
from pathlib import Path as _Path
from typing import Any


class JobState(str, enum.Enum):
    """The seven states of gflow (docs/rules.md, States). The value is the display name."""

    QUEUED = "Queued"
    HOLD = "Hold"
    RUNNING = "Running"
    FINISHED = "Finished"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    TIMEOUT = "Timeout"

    @property
    def code(self) -> str:
        return _CODES[self]

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @classmethod
    def parse(cls, text: str) -> "JobState":
        """Accept a name (``Queued``, ``queued``) or a code (``PD``, ``pd``)."""
        key = text.strip().lower()
        for state in cls:
            if key in (state.value.lower(), state.code.lower(), state.name.lower()):
                return state
        names = ", ".join(f"{s.value} ({s.code})" for s in cls)
        from .errors import InvalidSpec

        raise InvalidSpec(f'Unknown job state "{text}": expected one of {names}')

    def __str__(self) -> str:  # str(JobState.QUEUED) == "Queued"
        return self.value


_CODES = {
    JobState.QUEUED: "PD",
    JobState.HOLD: "H",
    JobState.RUNNING: "R",
    JobState.FINISHED: "CD",
    JobState.FAILED: "F",
    JobState.CANCELLED: "CA",
    JobState.TIMEOUT: "TO",
}

#: each state code's colour, from states.json: the one definition, which the panel's build
#: (labextension/src/view/css.ts) imports too, so the notebook's tables and the panel agree
STATE_COLOURS: dict[str, str] = {
    code: style["colour"]
    for code, style in _json.loads(_Path(__file__).with_name("states.json").read_text()).items()}

TERMINAL = frozenset({JobState.FINISHED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT})
ACTIVE = frozenset({JobState.QUEUED, JobState.HOLD, JobState.RUNNING})


def format_clock(ts: float) -> str:
    """Local time the way Slurm and Crane print it: ``2025-06-01 10:32:00``."""
    return _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(ts))


@dataclass(frozen=True)
class Reason:
    """Why a job is in its state: a machine-readable ``kind`` plus its arguments (docs/rules.md, Reasons).

    ``str(reason)`` is what ``gqueue`` shows in ``NODELIST(REASON)``, without the parentheses.
    """

    kind: str
    args: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        show = _REASON_DISPLAY.get(self.kind)
        return show(self.args) if show else self.kind

    def to_row(self) -> tuple[str, dict[str, Any]]:
        return self.kind, dict(self.args)


def _hms(at: float) -> str:
    return _time.strftime("%H:%M:%S", _time.localtime(at))


def _limit(seconds: float | None) -> str:
    from .timespec import format_duration  # timespec imports errors only; keep model import-light

    return format_duration(seconds)


#: How each reason kind with arguments reads in NODELIST(REASON) (docs/rules.md, Reasons); others read as the kind.
_REASON_DISPLAY: dict[str, Any] = {
    "DependencyReadyAfter": lambda a: f"ReadyAfter {format_clock(a['at'])}",
    "DependencyNeverSatisfied": lambda a: f"DependencyNeverSatisfied:{a['condition']}",
    "DependencyFailed": lambda a: f"DependencyFailed:{a['job']}",
    "Resources": lambda a: f"Resources({a.get('resource', 'GPU')})",
    "GroupLimit": lambda a: f"GroupLimit:{a['group']}={a['limit']}",
    "GroupPaused": lambda a: f"GroupPaused:{a['group']}",
    "RetryBackoff": lambda a: f"Retry {a['attempt']}/{a['of']} at {_hms(a['at'])}",
    "CancelledByUser": lambda a: "Cancelled",
    "ExitCode": lambda a: f"ExitCode:{a['code']}",
    "Signal": lambda a: f"Signal:{a['signal']}",
    "SpawnError": lambda a: f"SpawnError:{a['message']}",
    "TimeLimit": lambda a: f"TimeLimit:{_limit(a['limit'])}",
    "OutputNotSaved": lambda a: f"OutputNotSaved:{a['name']} ({a['type']})",
    "Slurm": lambda a: f"Slurm:{a['reason']}",  # a Slurm job's own pending reason (core/slurmstates.py)
    "Skipped": lambda a: f"Skipped:{a['rule']}",
    "Trigger": lambda a: f"Trigger:{a['rule']}",
    "Memoized": lambda a: f"Memoized:{a['run']}",
}

#: Reasons a notebook cell's job reports itself (cellrunner.py): its code ran, its --out did not save.
CELL_REASONS = frozenset({"OutputNotSaved"})

# Reasons that need no arguments, shared so that comparisons read well.
DEPENDENCY = Reason("Dependency")
HELD_BY_USER = Reason("JobHeldUser")


@dataclass(frozen=True)
class RetryPolicy:
    """Per-job retry settings (docs/rules.md, Retries). ``retries`` extra attempts: total = retries + 1."""

    retries: int = 0
    delay: float = 0.0
    backoff: float = 1.0
    max_delay: float | None = None
    retry_on: frozenset[str] = frozenset({"failure", "error"})


@dataclass(frozen=True)
class Job:
    """One submission. Frozen: the engine replaces a job with ``evolve`` on every change.

    ``attempt`` counts attempts started so far (0 while it never ran). ``first_started_at`` is
    the start of attempt 1, the event time of ``after`` dependencies (docs/rules.md, Dependencies).
    """

    id: int
    name: str
    command: tuple[str, ...]
    state: JobState = JobState.QUEUED
    reason: Reason | None = DEPENDENCY
    script: str | None = None
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    gpus: int = 0
    gpu_ids: tuple[int, ...] | None = None  # explicit devices asked for (--gpus 0,2)
    allocated_gpus: tuple[int, ...] = ()
    time_limit: float | None = None  # seconds; None = unlimited
    priority: int = 0
    group: str | None = None
    dependency: str | None = None  # canonical string, ids only, ``@`` resolved at submit
    auto_cancel: bool = True
    retry: RetryPolicy = RetryPolicy()
    attempt: int = 0
    submitted_at: float = 0.0
    first_started_at: float | None = None
    started_at: float | None = None  # of the current/last attempt
    ended_at: float | None = None
    retry_at: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    user: str = ""
    scope: str = ""
    redo_of: int | None = None
    #: why we are stopping the running attempt ("cancel" or "timeout"), and when SIGKILL follows
    stopping: str | None = None
    kill_at: float | None = None
    #: retries used since the job was submitted or last redone (``retries`` caps it)
    retry_count: int = 0
    #: MiB of GPU memory declared with ``--gpu-memory`` (shared mode); None: whole GPUs
    gpu_memory: int | None = None
    #: the id of the first task of the job array this job is a task of (itself for the first); None: no array
    array_of: int | None = None
    #: the GPUs its latest attempt held, kept after it ends (``allocated_gpus`` empties then)
    used_gpus: tuple[int, ...] = ()
    #: ``--output``/``--error`` file names with their %j/%x/%A/%a patterns (``outfiles.py``); None: the log only
    output: str | None = None
    error: str | None = None
    #: the executor that runs its attempts (engine/executors/): "local", the processes of this machine
    executor: str = "local"
    #: Slurm's own options passed through to ``sbatch`` (``{"partition": "gpu"}``); empty elsewhere
    slurm: dict[str, str] = field(default_factory=dict)
    #: the Slurm job id of its latest attempt (what its executor's handle names), None elsewhere
    slurm_job_id: int | None = None
    #: the flow run this job is a task of (``<flow>__<run_type>__<timestamp>__<uuid>``), and its task name
    run_id: str | None = None
    task: str | None = None

    @property
    def flow(self) -> str | None:
        """The flow of its run: the run id's first part (a flow name may itself hold ``__``)."""
        return self.run_id.rsplit("__", 3)[0] if self.run_id else None

    def evolve(self, **changes: Any) -> "Job":
        return replace(self, **changes)

    @property
    def code(self) -> str:
        return self.state.code


@dataclass(frozen=True)
class Attempt:
    """One run of a job: its own process, log and exit status; each attempt has its own log."""

    job_id: int
    attempt: int
    started_at: float  # when it was recorded as starting, then when it really began (``started``)
    #: what its executor finds it again by (opaque, JSON); None while it is being launched
    handle: dict[str, Any] | None = None
    gpus: tuple[int, ...] = ()
    ended_at: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    state: JobState | None = None
    reason: Reason | None = None


@dataclass(frozen=True)
class Group:
    """A named queue (pueue's groups): at most ``limit`` running jobs (0 = no limit)."""

    name: str
    limit: int = 0
    paused: bool = False

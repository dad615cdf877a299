"""What every executor (local now, Slurm later) offers the engine.

An executor starts one *attempt* of a job and afterwards finds it again from a ``Handle`` alone,
also from a new process after the scheduler restarted (docs/architecture.md, "Jobs outlive their host"). The engine records the
attempt as starting *before* ``launch`` and its ``Handle`` right after; an attempt recorded without
a handle is found again by ``find`` (adopted), or was never ``started`` (started now, once).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, Union, runtime_checkable


@dataclass(frozen=True)
class LaunchRequest:
    job_id: int
    attempt: int
    argv: tuple[str, ...]  # the command, exec'd as is (no shell unless argv says so)
    cwd: str
    env: dict[str, str]  # the FULL environment for the job
    output: str | None = None  # --output file (patterns expanded; relative to cwd): stdout, and stderr unless error
    error: str | None = None  # --error file: stderr. Both also go to the log


@dataclass(frozen=True)
class Handle:
    """What the engine stores to find the attempt again after a restart."""

    job_id: int
    attempt: int
    pid: int  # the supervisor's pid (= its pgid and sid)
    proc_start: float  # psutil create_time of the supervisor, guards against pid reuse
    started_at: float  # wall clock when launched


@dataclass(frozen=True)
class ExitStatus:
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    ended_at: float  # wall clock of the end (mtime of the status file)


#: What ``reconcile`` answers: still running, ended (with its status), or gone without a status.
Reconciled = Union[ExitStatus, Literal["running", "lost"]]


@runtime_checkable
class Executor(Protocol):
    def launch(self, req: LaunchRequest) -> Handle:
        """Start the attempt detached from this process. Raises ``OSError``/``JobflowError``."""

    def watch(self, handle: Handle) -> int | None:
        """A file descriptor that becomes readable when the attempt ends; the caller selects on
        it and closes it (``unwatch``). ``None``: nothing to wait on (already ended, or this
        executor cannot give one): call ``reconcile``/``collect`` now or poll."""

    def unwatch(self, fd: int) -> None:
        """Close a descriptor that ``watch`` returned."""

    def collect(self, handle: Handle) -> ExitStatus | None:
        """After the end: release what the attempt held and read its status. ``None``: no status
        was recorded (yet, or ever: see ``reconcile``)."""

    def is_alive(self, handle: Handle) -> bool:
        """The attempt's supervisor still runs (and is really that one, not a reused pid)."""

    def reconcile(self, handle: Handle) -> Reconciled:
        """After a restart, for one attempt: ``"running"``, its ``ExitStatus``, or ``"lost"``."""

    def find(self, job_id: int, attempt: int) -> Handle | None:
        """The running attempt whose launch was recorded but whose handle was not (a crash or a
        failed commit in between), identified by what the launch put in its command line."""

    def started(self, job_id: int, attempt: int) -> bool:
        """Whether the attempt ever began. False means it never ran and may be started again."""

    def read_status(self, job_id: int, attempt: int) -> ExitStatus | None:
        """The attempt's recorded end, without a handle; ``None`` if there is none."""

    def kill(self, handle: Handle) -> None:
        """End the attempt and everything it started at once, its supervisor included."""

    def signal(self, handle: Handle, sig: int) -> None:
        """Send ``sig`` to the attempt's whole process tree. Escalation (SIGTERM, grace
        ``kill_wait``, SIGKILL; docs/rules.md, Cancelling and Time limits) is the engine's: it calls this twice."""

    def log_path(self, job_id: int, attempt: int) -> Path:
        """The attempt's log file (stdout and stderr merged)."""

    def read_log(
        self, job_id: int, attempt: int, offset: int = 0, limit: int = 1 << 20
    ) -> tuple[bytes, int]:
        """Up to ``limit`` bytes of the log from ``offset``, and the offset to read on from."""

"""What every executor (local now, Slurm later; a fake in tests) offers the engine.

An executor starts one *attempt* of a job and returns a **handle**: an opaque, JSON-serialisable
dict that the store keeps on the attempt's row (local: ``{"pid", "start", "job", "attempt"}``;
later Slurm: ``{"slurm_id"}``). The engine never looks inside it: whatever it needs to know about the
attempt, it asks the executor, handing the handle back, also from a new process after a restart
(docs/architecture.md, "Jobs outlive their host").

What happens to an attempt comes back as **events** the executor pushes into the engine's sink
(``bind``), which wakes the scheduler: ``started`` (the process really began: its time limit
counts from here, so a job queued inside Slurm never times out while it waits), ``ended`` (with
its ``ExitStatus``) and ``lost`` (gone without a status). Nothing is inferred from silence. A
batch executor also says why a launched attempt has not begun yet (``waiting``, with its reason).

Exactly once: the engine records the attempt as starting *before* ``launch`` and its handle right
after; an attempt recorded without a handle is looked for with ``adopt`` (running or ended: a
handle to watch) or was never begun (``None``: it may start now, once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Protocol, runtime_checkable

from ...core.jobenv import launch_env

#: The opaque, JSON-serialisable record of one attempt that its executor finds it again by.
Handle = dict[str, Any]


@dataclass(frozen=True)
class LaunchRequest:
    job_id: int
    attempt: int
    argv: tuple[str, ...]  # the command, exec'd as is (no shell unless argv says so)
    cwd: str
    env: Mapping[str, str]  # the job's stored environment; the executor builds the full one (job_env)
    output: str | None = None  # --output file (patterns expanded; relative to cwd): stdout, and stderr unless error
    error: str | None = None  # --error file: stderr. Both also go to the log
    name: str = ""
    gpus: tuple[int, ...] = ()  # the devices allocated to this attempt
    #: ``CUDA_VISIBLE_DEVICES`` is set (to ``gpus``, maybe empty: a job that asked for none sees none)
    visible_devices: bool = False
    pci_order: bool = False  # number the devices as NVML does (real GPUs, not simulated ones)
    runtime_env: Mapping[str, str] = field(default_factory=dict)  # how the job reaches its host
    #: the job itself, for executors that hand it to a batch system (its time limit, GPU count, options)
    job: Any = None
    #: the native dependency a batch system keeps for us (``slurmrules.Native``), None: none
    dependency: Any = None
    #: our parent job id by the batch system's id, for the parents named in ``dependency``
    parents: Mapping[int, int] = field(default_factory=dict)


def job_env(req: LaunchRequest, host: Mapping[str, str] | None = None) -> dict[str, str]:
    """The full environment the attempt runs with (core/jobenv.py's rules), for executors to use."""
    env = {**launch_env(req.env, req.runtime_env, host), "JOBFLOW_JOB_ID": str(req.job_id),
           "JOBFLOW_ATTEMPT": str(req.attempt), "JOBFLOW_JOB_NAME": req.name}
    if req.visible_devices:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, req.gpus))
        if req.pci_order:
            env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    return env


@dataclass(frozen=True)
class ExitStatus:
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    ended_at: float | None = None  # wall clock of the end; None: now, by the engine's clock
    #: the executor's own verdict where the exit status does not tell (Slurm's OUT_OF_MEMORY,
    #: NODE_FAIL, PREEMPTED, TIMEOUT, a dependency it found broken): a ``JobState`` and ``Reason``
    state: Any = None
    reason: Any = None


@dataclass(frozen=True)
class AttemptEvent:
    """What an executor tells the engine about one attempt."""

    kind: Literal["started", "ended", "lost", "waiting"]
    job_id: int
    attempt: int
    status: ExitStatus | None = None  # for ``ended``
    at: float | None = None  # when (``started``); None: now, by the engine's clock
    #: for ``waiting``: why a launched attempt has not begun (a batch system's pending reason)
    reason: Any = None


Sink = Callable[[AttemptEvent], None]


@runtime_checkable
class Executor(Protocol):
    name: str

    def bind(self, sink: Sink) -> None:
        """Where to push events from now on. The sink never blocks and may be called from any thread."""

    def launch(self, req: LaunchRequest) -> Handle:
        """Start (or submit) the attempt, detached from this process. Raises ``OSError``/``JobflowError``."""

    def watch(self, job_id: int, attempt: int, handle: Handle) -> None:
        """Report this attempt's events from now on: ``started`` once it began (again after a
        restart: the engine keeps the first), then ``ended`` or ``lost``; at once for one that
        ended or vanished already. Watching an attempt watched already changes nothing."""

    def adopt(self, job_id: int, attempt: int) -> Handle | None:
        """The attempt whose launch was recorded but whose handle was not (a crash or a failed
        commit in between): its handle if it ever began (running or ended), ``None`` if it
        never began and may be started again."""

    def signal(self, handle: Handle, sig: int) -> None:
        """Send ``sig`` to the attempt's whole process tree. Escalation (SIGTERM, grace
        ``kill_wait``, SIGKILL; docs/rules.md, Cancelling and Time limits) is the engine's: it calls this twice."""

    def kill(self, handle: Handle) -> None:
        """End an attempt the store could not record, leaving nothing behind; no event follows."""

    def leader_pid(self, handle: Handle) -> int | None:
        """The local process that leads the attempt's tree (GPU attribution); None if none is local."""

    def read_log(self, job_id: int, attempt: int, offset: int = 0, limit: int = 1 << 20
                 ) -> tuple[bytes, int]:
        """Up to ``limit`` bytes of the log from ``offset``, and the offset to read on from."""

    def close(self) -> None:
        """Stop watching (the engine stopped); a later ``watch`` starts again."""

"""JobService: the one facade that the server handlers, the CLI and the magics call.

It validates requests (dependency grammar, ids, cycles, resources), turns them into jobs and
hands them to the engine; it answers questions (list, show, explain, logs, cancel dry runs) from
the engine's mirror. Every method is synchronous and thread-safe, and fast: the store is local.

    >>> svc = JobService("/tmp/jf")
    >>> svc.start()
    >>> job = svc.submit(["python", "train.py"], gpus=1, dependency="afterok:12")
"""

from __future__ import annotations

import errno
import heapq
import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ..core import wire
from ..core.errors import NotFound, Unavailable
from ..core.evaluate import Verdict, evaluate
from ..core.gpumodel import GpuInventory
from ..core.model import ACTIVE, CELL_REASONS, Group, Job, JobState, Reason
from ..core.privacy import create_private, secure_state_dir
from ..core.request import executor_name
from ..core.timespec import format_duration
from ..gpu.attribution import KernelLookup
from ..gpu.sources import inventory_from_env
from . import retention as retention_
from .arrays import ArrayVerbs
from .control import CancelReport, ControlVerbs, Fate  # noqa: F401 (public)
from .executors.local import LocalExecutor
from .explain import ExplainVerbs
from .gpuservice import GpuServiceMixin
from .hostlock import HostLock
from .redo import RedoVerbs
from .scheduler import Engine, EngineConfig
from .schedules import ScheduleVerbs
from .store import Store, open_failure
from .submit import Submitted, SubmitVerbs, default_name  # noqa: F401 (public)

log = logging.getLogger("jupyter_jobflow")
#: the event stream's snapshot: finished jobs that ended within this many seconds, at most so many
SNAPSHOT_RECENT = 86400.0
SNAPSHOT_LIMIT = 1000
PURGE_BATCH = 500  # jobs purged per hold of the engine's lock (~10 ms each)


class JobService(SubmitVerbs, ArrayVerbs, ControlVerbs, RedoVerbs, ExplainVerbs, GpuServiceMixin, ScheduleVerbs):
    """The engine of one state directory, with validation and views on top.

    GPUs: ``gpus`` (a source) or ``simulated_gpus=N``, else ``gpu_source`` (``auto``, ``nvml``,
    ``none``; default ``$JOBFLOW_GPU_SOURCE`` or ``auto``: see ``gpus.inventory_from_env``); one
    sampler every ``gpu_sample_interval`` seconds keeping ``gpu_history_seconds`` of history; a
    GPU whose memory used by processes that are not our jobs reaches
    ``external_memory_threshold_mib`` is not free; ``kernel_lookup(pid)`` names the notebook of a
    kernel of this server (see ``gpuservice.py``).
    """

    def __init__(self, state_dir: str | os.PathLike[str], *, gpus: GpuInventory | None = None,
                 simulated_gpus: int | None = None, kill_grace: float = 30.0, max_running: int | None = None,
                 default_time_limit: float | None = None, clock: Callable[[], float] = time.time,
                 executor: Any = None, gpu_sample_interval: float = 1.0, gpu_history_seconds: float = 600.0,
                 external_memory_threshold_mib: int = 1024, kernel_lookup: KernelLookup | None = None,
                 gpu_source: str | None = None, retention: str | float | None = None,
                 purge_every: float = retention_.PURGE_EVERY, purge_poll: float = 60.0,
                 executors: Mapping[str, Any] | None = None, default_executor: str | None = None,
                 slurm_poll: Any = None):
        try:
            self.state_dir = secure_state_dir(state_dir)  # 0700: jobs, logs and tokens are private
            self.executor = executor or LocalExecutor(self.state_dir)
        except OSError as e:
            raise _unusable(Path(state_dir), e) from None
        #: opened by ``start`` once the host lock is held: a losing host never touches the database
        self.store: Store = None  # type: ignore[assignment]
        #: seconds a finished job is kept (None: forever); see ``retention.py``
        self.retention = retention_.parse_retention(retention)
        self._owns_gpus = gpus is None
        self.gpus = gpus or inventory_from_env(simulated_gpus, source=gpu_source)
        self.default_time_limit = default_time_limit
        self.clock = clock
        #: more executors by name (default: Slurm's where it is reachable, executors/slurm.py),
        #: why one is missing here (a job asking for it gets that line), and the one a job gets
        #: when it names none (``default_executor``, else ``$JOBFLOW_EXECUTOR``, else local)
        if executors is None:
            from .executors.slurm import host_executors

            executors, self.executor_problems = host_executors(self.state_dir, slurm_poll)
        else:
            self.executor_problems = {}
        self.default_executor = executor_name("default executor", default_executor
                                              or os.environ.get("JOBFLOW_EXECUTOR") or "local")
        self.engine = Engine(self.store, {"local": self.executor, **executors} if executors else self.executor,
                             self.gpus,
                             EngineConfig(kill_grace, max_running, external_memory_threshold_mib), clock)
        self._init_gpus(gpu_sample_interval, gpu_history_seconds, kernel_lookup)
        # taken before the engine lock, never after it (redo takes both: see submitting_atomic)
        self._submit_lock = threading.RLock()
        self._lock_file: HostLock | None = None
        self._arrays_in_flight: dict[int, threading.Event] = {}  # first id -> set once stored (or not)
        self._secrets: tuple[str, ...] = ()  # values no stored environment may hold (the host's tokens)
        self.engine.runtime_env = {"JOBFLOW_HOME": str(self.state_dir)}
        self.engine.explain_exit = self._cell_reason
        self._purger = retention_.Purger(self._auto_purge, clock, purge_every, purge_poll)

    def _cell_reason(self, job_id: int, attempt: int) -> Reason | None:
        """A cell job's own account of its failed attempt (cellvars.py): only the kinds a cell
        may report, so a job cannot dress its exit up as something the scheduler did."""
        from . import cellvars

        told = cellvars.read_reason(self.state_dir / "vars", job_id, attempt)
        if told is None or told.get("kind") not in CELL_REASONS:
            return None
        return Reason(told["kind"], {k: str(v) for k, v in told["args"].items()})

    def set_endpoint(self, url: str, token: str, *, secrets: Iterable[str] = ()) -> None:
        """The host that serves this service: its jobs get ``JOBFLOW_URL``/``JOBFLOW_TOKEN`` at
        launch (never stored), and no job may store ``token`` or any of ``secrets``."""
        self._secrets = tuple(s for s in (token, *secrets) if s)
        self.engine.runtime_env = {**self.engine.runtime_env, "JOBFLOW_URL": url, "JOBFLOW_TOKEN": token}

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "JobService":
        """Take the state directory's lock (one scheduler per directory), re-adopt what ran
        through the last stop, and start scheduling. ``Unavailable`` names the holder, or what
        is wrong with the state directory or its database, in one line."""
        try:
            self._lock_file = HostLock.acquire(self.state_dir / "scheduler.lock")
        except OSError as e:
            raise _unusable(self.state_dir, e) from None
        try:
            if self.store is None:  # only now: a second host fails on the lock, naming its holder
                self.store = self.engine.store = _open_store(self.state_dir / "jobflow.db")
            self.gpu_monitor.start()  # its first sample comes before the first decision
            self.engine.start()
            self._start_flows()  # after the engine: the held trigger tasks are in its mirror
            self._start_schedules()  # the tick loop (schedules.py, ticker.py)
            self._purger.start()  # a first purge now (in its thread), then every hour of the clock
        except BaseException:
            self._stop_schedules()
            self._purger.stop()
            self.gpu_monitor.stop()
            self._lock_file.release()
            raise
        return self

    def stop(self) -> None:
        """Stop scheduling; running jobs go on and are re-adopted by the next start."""
        self._purger.stop()
        self._stop_schedules()
        self._stop_flows()
        self.gpu_monitor.stop()
        self.engine.stop()
        if self._lock_file is not None:
            self._lock_file.release()
            self._lock_file = None

    def close(self) -> None:
        self.stop()
        if self.store is not None:
            self.store.close()
        if self._owns_gpus:
            self.gpus.close()

    def health(self) -> dict[str, Any]:
        """The scheduler's state (running, restarting, failed, stopped), its last failure and restarts."""
        return self.engine.health()

    def _accepting(self) -> None:
        """Refuse new work the scheduler cannot run (503 naming the cause), never a silent 201."""
        if self.engine.given_up:
            raise Unavailable(f"The scheduler has stopped after repeated failures ({self.engine.failure}); "
                              f"restart the host (jobflow stop, then jobflow daemon, or the Jupyter server)")

    def subscribe(self, fn: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``fn(event)`` after every stored change; returns the unsubscribe function."""
        return self.engine.subscribe(fn)

    def events_since(self, seq: int = 0) -> list[dict[str, Any]]:
        return self.store.events_since(seq)

    def stream_snapshot(self, recent: float = SNAPSHOT_RECENT,
                        limit: int = SNAPSHOT_LIMIT) -> tuple[int, list[Job], int]:
        """``(seq, jobs, total)`` for the event stream: every active job and the finished ones
        that ended within ``recent`` seconds (the ``limit`` newest of those), by id; ``total``
        counts every retained job, so a client knows how many to page with ``GET jobs``."""
        with self.engine.lock:
            cutoff = self.clock() - recent
            active, finished = [], []
            for job in self.engine.jobs.values():
                if not job.state.terminal:
                    active.append(job)
                elif (job.ended_at or job.submitted_at) >= cutoff:
                    finished.append(job)
            finished = heapq.nlargest(limit, finished, key=lambda j: (j.ended_at or j.submitted_at, j.id))
            return self.store.last_event_seq(), sorted(active + finished, key=lambda j: j.id), len(self.engine.jobs)

    # -- retention ------------------------------------------------------------------------
    def purge(self, older_than: str | float | None = None, *, dry_run: bool = False) -> retention_.PurgeReport:
        """Forget the finished jobs that ended more than ``older_than`` ago (default: the
        retention), with their attempts, events, logs, status files, scripts and saved
        variables; never one that an active job needs (see ``retention.select``)."""
        age = self.retention if older_than is None else retention_.parse_retention(older_than)
        if age is None:
            return retention_.PurgeReport([], [], None, dry_run)
        with self.engine.lock:
            cutoff = self.clock() - age
            chosen = retention_.select(self.engine.jobs, self.engine.dependents, cutoff)
        report = retention_.PurgeReport(chosen.ids, chosen.kept, age, dry_run)
        if dry_run:
            return report
        report.ids, counts = [], Counter()
        for start in range(0, len(chosen.ids), PURGE_BATCH):  # short holds of the lock: the scheduler goes on
            if self._purger.stopping:  # the host stops: the rest waits for the next purge
                break
            batch = chosen.ids[start:start + PURGE_BATCH]
            # the submit lock first (the one order): a submission between its check that a parent
            # exists and its insertion cannot lose that parent; an array being stored holds its
            # parents until it is whole, so the purge leaves the rest for its next round
            with self._submit_lock, self.engine.lock:
                if self._arrays_in_flight:
                    break
                again = retention_.select(self.engine.jobs, self.engine.dependents, cutoff, batch)
                batch = again.ids
                report.kept += again.kept
                gone = [self.engine.jobs[i] for i in batch]
                counts.update(self.engine.forget(batch, job_events=False))  # their events: below, at once
                wire.forget(batch)
            counts["files"] += retention_.remove_files(self.state_dir, gone)
            report.ids += batch
        counts["events"] += self.store.purge_events(cutoff)  # theirs, and any older than the retention
        if report.ids or counts["events"]:
            self.store.checkpoint()  # give the WAL's pages back; the database's own free pages are reused
        report.counts = dict(counts)
        return report

    def _auto_purge(self) -> None:
        report = self.purge()
        if report.ids:
            log.info("jobflow: purged %d finished jobs older than %s", len(report.ids),
                     format_duration(report.older_than))

    # -- submit ---------------------------------------------------------------------------


    # -- lookups --------------------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        job = self.engine.jobs.get(int(job_id))
        if job is None:
            raise NotFound(f"Job {job_id} not found")
        return job

    def list(self, *, states: Iterable[JobState | str] | None = None, ids: Iterable[int] | None = None,
             name: str | None = None, group: str | None = None, all: bool = True,
             limit: int | None = None, offset: int = 0) -> list[Job]:
        """Jobs by id, filtered. ``all=False`` keeps only active jobs (gqueue without ``-a``)."""
        wanted = {s if isinstance(s, JobState) else JobState.parse(s) for s in states} if states else None
        idset = {int(i) for i in ids} if ids is not None else None
        # no engine lock: a read must not wait while the scheduler starts many jobs. Jobs are immutable
        # and replaced whole, and copying a dict's values is atomic under the GIL (as ``get`` reads).
        mirror = self.engine.jobs
        jobs = [j for j in map(mirror.get, sorted(idset)) if j is not None] if idset is not None else \
            sorted(list(mirror.values()), key=lambda j: j.id)
        out = [j for j in jobs if (wanted is None or j.state in wanted) and (all or j.state in ACTIVE)
               and (name is None or name in j.name) and (group is None or j.group == group)
               and (idset is None or j.id in self.engine.jobs)]
        return out[offset: None if limit is None else offset + limit]

    def verdict(self, job_id: int) -> Verdict:
        job = self.get(job_id)
        return evaluate(self.engine.specs.get(job.id), self.engine.jobs.get)

    def show(self, job_id: int) -> dict[str, Any]:
        """Everything about one job: its fields, attempts and the Crane-style dependency line."""
        job = self.get(job_id)
        return {"job": job, "attempts": self.store.attempts(job.id), "dependency": self.verdict(job.id).describe()
                if job.dependency else None, "dependents": sorted(self.engine.dependents.get(job.id, ()))}

    def attempts(self, job_id: int):
        return self.store.attempts(self.get(job_id).id)

    def read_log(self, job_id: int, *, attempt: int | None = None, offset: int = 0,
                 limit: int = 1 << 20) -> tuple[str, int, int]:
        """``(text, next_offset, attempt)`` of an attempt's log (default: the latest)."""
        job = self.get(job_id)
        attempt = attempt or job.attempt
        if attempt <= 0:
            return "", 0, 0
        if attempt > job.attempt:
            raise NotFound(f"Job {job.id} has no attempt {attempt} (it has {job.attempt})")
        self.watching([job.id])  # a log read: someone follows it (the Slurm poll tightens)
        data, nxt = self.engine.executor_of(job).read_log(job.id, attempt, offset, limit)
        return data.decode("utf-8", "replace"), nxt, attempt

    def watching(self, job_ids: list[int] | None = None, seconds: float = 5.0) -> None:
        """Someone watches these jobs (None: all) for ``seconds``: executors that poll (Slurm's)
        poll them at their fastest until then. Callers renew it while they watch."""
        for ex in self.engine.executors.values():
            if hasattr(ex, "watching"):
                ex.watching(job_ids, seconds)

    # -- verbs ----------------------------------------------------------------------------


    def set_group(self, name: str, *, limit: int | None = None, paused: bool | None = None) -> Group:
        """Create or change a named group: ``limit`` running jobs at once (0 = none), ``paused``."""
        current = self.engine.groups.get(name, Group(name))
        group = Group(name, current.limit if limit is None else int(limit),
                      current.paused if paused is None else bool(paused))
        self.engine.set_group(group)
        return group


def _open_store(path: Path) -> Store:
    try:
        create_private(path)  # before SQLite: its -wal/-shm take this mode
        return Store(path)
    except sqlite3.Error as e:
        raise open_failure(path, e) from None
    except OSError as e:
        raise _unusable(path.parent, e) from None


def _unusable(state_dir: Path, err: OSError) -> Unavailable:
    """One line for a state directory the host cannot use (unwritable, a file, a full disk)."""
    where = err.filename or state_dir
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "the disk is full; free space and start again"
    elif err.errno == errno.EROFS:
        fix = "it is on a read-only file system; choose another (--state-dir or $JOBFLOW_HOME)"
    else:
        fix = "make it a directory this user can write, or choose another (--state-dir or $JOBFLOW_HOME)"
    return Unavailable(f"Cannot use the jobflow state directory {state_dir}: {err.strerror or err} ({where}); {fix}")



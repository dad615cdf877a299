"""JobService: the one facade that the server handlers, the CLI and the magics call.

It validates requests (dependency grammar, ids, cycles, resources), turns them into jobs and
hands them to the engine; it answers questions (list, show, explain, logs, cancel dry runs) from
the engine's mirror. Every method is synchronous and thread-safe, and fast: the store is local.

    >>> svc = JobService("/tmp/jf")
    >>> svc.start()
    >>> job = svc.submit(["python", "train.py"], gpus=1, dependency="afterok:12")
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import getpass
import heapq
import logging
import os
import shlex
import sqlite3
import threading
import time
from collections import ChainMap, Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..core import depspec, limits, outfiles, wire
from ..core.decide import Snapshot, decide
from ..core.depspec import DepSpec
from ..core.errors import Conflict, InvalidSpec, NotFound, Unavailable
from ..core.evaluate import Verdict, evaluate
from ..core.gpumodel import GpuInventory
from ..core.jobenv import stored_env
from ..core.model import ACTIVE, CELL_REASONS, DEPENDENCY, HELD_BY_USER, Group, Job, JobState, Reason, RetryPolicy
from ..core.options import array_indices
from ..core.privacy import create_private, private_dir, secure_state_dir, write_private
from ..core.timespec import format_duration, parse_time_limit
from ..gpu.attribution import KernelLookup
from ..gpu.sources import inventory_from_env
from . import retention as retention_
from .executors.local import LocalExecutor
from .gpuservice import GpuServiceMixin
from .hostlock import HostLock
from .scheduler import Engine, EngineConfig
from .store import Store, open_failure

log = logging.getLogger("jupyter_jobflow")
#: the event stream's snapshot: finished jobs that ended within this many seconds, at most so many
SNAPSHOT_RECENT = 86400.0
SNAPSHOT_LIMIT = 1000
PURGE_BATCH = 500  # jobs purged per hold of the engine's lock (~10 ms each)

INTERPRETERS = {"python", "python3", "bash", "sh", "zsh", "Rscript", "julia", "node", "perl"}


@dataclass(frozen=True)
class Submitted:
    """What a submission returns: the id even when the job was cancelled at once (S7)."""

    id: int
    name: str
    state: JobState
    warnings: tuple[str, ...] = ()
    #: every task's id, in index order, when the submission was a job array (``id`` is the first)
    array_ids: tuple[int, ...] = ()

    def __str__(self) -> str:
        return f"Submitted batch job {self.id} ({self.name})"


@dataclass(frozen=True)
class Fate:
    job: Job
    condition: str
    outcome: str


@dataclass
class CancelReport:
    """What ``cancel`` did, or with ``dry_run`` would do, to each job and its dependents (K3)."""

    targets: list[Job]
    dependents: list[Fate] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    def render(self) -> str:
        lines = [f"Would cancel job {j.id} ({j.name}) [{j.state.value}]" for j in self.targets] if self.dry_run else \
            [f"Cancelled job {i}" for i in self.cancelled]
        if self.dependents:
            lines.append("Dependents:")
            width = max(len(f"job {f.job.id} ({f.job.name})") for f in self.dependents)
            cwidth = max(len(f.condition) for f in self.dependents)
            for f in self.dependents:
                lines.append(f"  {f'job {f.job.id} ({f.job.name})':<{width}}   {f.condition:<{cwidth}} -> {f.outcome}")
        if self.dry_run:
            ids = " ".join(str(j.id) for j in self.targets)
            lines.append(f"To proceed: gcancel {ids}        To also cancel dependents that would otherwise stay "
                         f"queued: gcancel --cascade {ids}")
        return "\n".join(lines + self.warnings)


def _atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run a verb under the engine's lock, so that the state it checks is the state it changes
    (the scheduler thread cannot start a job between ``hold``'s check and its write)."""
    @functools.wraps(method)
    def locked(self: "JobService", *args: Any, **kwargs: Any) -> Any:
        with self.engine.lock:
            return method(self, *args, **kwargs)

    return locked


#: array tasks added to the engine's mirror per lock hold
ADD_BATCH = 100
ARRAY_WAIT = 60.0  # seconds a submission waits for an array it depends on to be stored whole
YIELD_EVERY = 100  # tasks an array builds between two offers of the GIL to other threads
STORE_BATCH = 200  # an array's tasks stored per transaction (a few milliseconds each)


def _submitting_atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    """``_atomic`` for a verb that also inserts jobs (redo): the submit lock first, then the engine's,
    the order ``submit`` takes them in. Requests run on several threads; the other order deadlocks."""
    @functools.wraps(method)
    def locked(self: "JobService", *args: Any, **kwargs: Any) -> Any:
        with self._submit_lock, self.engine.lock:
            return method(self, *args, **kwargs)

    return locked


def default_name(command: Sequence[str]) -> str:
    """``python train.py --lr 1`` is ``train.py``; ``./run.sh`` is ``run.sh``."""
    words = list(command)
    if len(words) > 1 and os.path.basename(words[0]) in INTERPRETERS and not words[1].startswith("-"):
        return os.path.basename(words[1])
    return os.path.basename(words[0]) if words else "job"


class JobService(GpuServiceMixin):
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
                 purge_every: float = retention_.PURGE_EVERY, purge_poll: float = 60.0):
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
        self.engine = Engine(self.store, self.executor, self.gpus,
                             EngineConfig(kill_grace, max_running, external_memory_threshold_mib), clock)
        self._init_gpus(gpu_sample_interval, gpu_history_seconds, kernel_lookup)
        # taken before the engine lock, never after it (redo takes both: see _submitting_atomic)
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
            self._purger.start()  # a first purge now (in its thread), then every hour of the clock
        except BaseException:
            self._purger.stop()
            self.gpu_monitor.stop()
            self._lock_file.release()
            raise
        return self

    def stop(self) -> None:
        """Stop scheduling; running jobs go on and are re-adopted by the next start."""
        self._purger.stop()
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
    def submit(self, command: Sequence[str] | str | None = None, *, script: str | None = None,
               interpreter: str | None = None, name: str | None = None, time_limit: str | float | None = None,
               gpus: int | str = 0, gpu_memory: int | str | None = None, priority: int = 0, group: str | None = None,
               dependency: str | DepSpec | None = None, depends_on: Any = None, depends_on_all: Any = None,
               depends_on_any: Any = None, auto_cancel: bool = True, hold: bool = False, retries: int = 0,
               retry_delay: float = 0.0, retry_backoff: float = 1.0, retry_max_delay: float | None = None,
               retry_on: Iterable[str] | None = None, cwd: str | None = None, env: dict[str, str] | None = None,
               scope: str | None = None, user: str | None = None, scope_name: str = "this notebook",
               redo_of: int | None = None, array: str | None = None, export: str | None = None,
               output: str | None = None, error: str | None = None) -> Submitted:
        """Validate and queue one job; nothing is stored when validation fails (``InvalidSpec``).

        :param command: argv (a string is split like a shell would); or give ``script`` text instead,
            run by ``interpreter`` (default ``/bin/bash``).
        :param gpu_memory: shared mode (``--gpu-memory``): MiB, or a size like ``"8G"``; implies one GPU.
        :param dependency: a Slurm/Crane string or a ``DepSpec``; ``depends_on*`` are gflow's flags.
            ``@`` and ``@~N`` resolve against the submission history of ``scope``.
        :param array: a job array (``"0-9"``, ``"1,3,5"``, ``"0-15:4"``, ``"1-10%2"``): one job per
            index, named ``<name>[<index>]``, with ``JOBFLOW_ARRAY_TASK_ID``/``SLURM_ARRAY_TASK_ID``
            and ``JOBFLOW_ARRAY_JOB_ID``/``SLURM_ARRAY_JOB_ID`` (the first task's id) set; ``%N``
            runs at most N at once (a group ``array-<first id>``). The reply's id is the first task's.
        :param env: the submitter's environment; only what ``export`` (``--export``: ``ALL``, ``NONE``,
            ``NAME``, ``NAME=value``; default: the list in ``jobenv.py``) keeps is stored, and never
            a token (``JOBFLOW_TOKEN``, ``JPY_*``, this host's tokens). Give ``export="ALL"`` to keep
            every variable of ``env``.
        :param output: ``--output``: a file that also gets the job's stdout (and stderr, unless
            ``error``), relative to ``cwd``, with ``%j %x %A %a`` patterns (``outfiles.py``); the log stays.
        """
        self._accepting()
        argv = shlex.split(command) if isinstance(command, str) else list(command or [])
        if not argv and script is None:
            raise InvalidSpec("Nothing to run: give a command, a script, or a cell")
        _check_submit_limits(argv, script, name, group, cwd, env, priority, retries, retry_delay, retry_backoff,
                             retry_max_delay)
        output, error = (outfiles.check(f"--{f}", v) if v is not None else None
                         for f, v in (("output", output), ("error", error)))
        count, ids = self._parse_gpus(gpus)
        count, gpu_memory = self._parse_gpu_memory(gpu_memory, count, ids)
        limit = self._time_limit(time_limit)
        user = user or getpass.getuser()
        scope = scope or f"user:{user}"
        spec = dependency if isinstance(dependency, DepSpec) else depspec.from_flags(
            dependency=dependency, depends_on=depends_on, depends_on_all=depends_on_all, depends_on_any=depends_on_any)
        policy = RetryPolicy(retries=int(retries), delay=float(retry_delay), backoff=float(retry_backoff),
                             max_delay=retry_max_delay, retry_on=frozenset(retry_on or ("failure", "error")))
        if policy.retries < 0:
            raise InvalidSpec(f"--retries must be 0 or more, got {policy.retries}")
        indices, array_limit = array_indices(array) if array is not None else ([], None)
        env = stored_env(env, export, self._secrets)  # the one place a job's environment is filtered
        if array_limit is not None and group is not None:
            raise InvalidSpec("--array with %N cannot be combined with --group: %N uses a group of its own")
        with self._submit_lock:  # @ resolution and insertion must not interleave within one scope
            if spec is not None:
                history = self.store.recent_ids(scope=scope, limit=_history_needed(spec))
                if not history and not scope.startswith("tty:"):  # a new terminal's @ is not another's job
                    history = self.store.recent_ids(user=user, limit=_history_needed(spec))
                spec = self._expand_arrays(depspec.resolve(spec, history, scope_name=scope_name), corr=bool(indices))
                self._check_parents_exist(spec)
                task_specs = self._corr_specs(spec, indices)
                spec = task_specs[indices[0]] if task_specs else spec  # the first task's own
            else:
                task_specs = {}
            now = self.clock()
            base = name or (default_name(argv) if argv else "script")
            job = Job(id=0, name=base, command=tuple(argv),
                      state=JobState.HOLD if hold else JobState.QUEUED, reason=HELD_BY_USER if hold else DEPENDENCY,
                      script=script, cwd=cwd or os.getcwd(), env=dict(env or {}), gpus=count, gpu_ids=ids,
                      gpu_memory=gpu_memory,
                      time_limit=limit, priority=int(priority), group=group, dependency=str(spec) if spec else None,
                      auto_cancel=auto_cancel, retry=policy, submitted_at=now, user=user, scope=scope,
                      redo_of=redo_of, output=output, error=error)
            warnings: list[str] = []
            verdict = evaluate(spec, self.engine.jobs.get)
            if verdict.never and not hold:  # S7: decided now, with the runtime rules, so no race
                job, warning = self._never_at_submit(job, verdict)
                warnings.append(warning)
            edges = [(c.target, c.type, c.delay) for c in (spec.conditions if spec else ())]
            if indices:  # its ids now (the order of submissions), its tasks after, without this lock
                job = job.evolve(id=self.store.reserve_array(job, edges, len(indices)))
                self._arrays_in_flight[job.id] = threading.Event()
            else:
                jobs = [self._store_job(job, edges, argv, script, interpreter)]
                self.engine.add_many(jobs, spec)
        if indices:
            jobs = self._store_array(job, indices, edges, spec, array_limit, base, group, argv, script, interpreter,
                                     task_specs=task_specs)
        job_id, job = jobs[0].id, jobs[0]
        if warnings and job.state is JobState.CANCELLED:
            warnings[0] = warnings[0].replace("job ?", f"job {job_id}").replace("Job ?", f"Job {job_id}")
        never = [t.id for t in jobs[1:] if task_specs and t.state is JobState.CANCELLED]
        if never:
            warnings.append(f"Warning: {len(never)} more task(s) of array {job_id} will never start (aftercorr: "
                            f"their parent task failed) and were cancelled: {', '.join(map(str, never))}")
        return Submitted(job_id, base if array is not None else job.name, job.state, tuple(warnings),
                         tuple(j.id for j in jobs) if array is not None else ())

    def _store_job(self, job: Job, edges: list[tuple[int, str, int]], argv: list[str], script: str | None,
                   interpreter: str | None) -> Job:
        with self.store.transaction():
            job = job.evolve(id=self.store.insert_job(job, edges))
            if script is not None:
                job = self._with_script(job, argv, script, interpreter)
                self.store.update_job(job)
        return job

    def _with_script(self, job: Job, argv: list[str], script: str, interpreter: str | None) -> Job:
        runner = argv or shlex.split(interpreter or "/bin/bash")  # "#!/usr/bin/env bash": two words
        return job.evolve(command=(*runner, str(self._write_script(job.id, script))))

    def _store_array(self, first: Job, indices: list[int], edges: list[tuple[int, str, int]], spec: DepSpec | None,
                     array_limit: int | None, base: str, group: str | None, argv: list[str], script: str | None,
                     interpreter: str | None, task_specs: dict[int, DepSpec] | None = None) -> list[Job]:
        """The tasks of an array whose first task ``reserve_array`` stored: built outside every lock,
        stored in batches (each a short transaction, so other requests pass between them), the
        array made whole by the last one; then into the scheduler's mirror, also in batches. Whole
        or not at all: a failure discards it, and a host that dies meanwhile discards it on start."""
        try:
            tasks = self._stored_tasks(first, indices, edges, array_limit, base, group, argv, script, interpreter,
                                       task_specs)
            if array_limit is not None:
                self.set_group(f"array-{first.id}", limit=array_limit)
            specs = {t.id: task_specs[i] for t, i in zip(tasks, indices)} if task_specs else None
            for n in range(0, len(tasks), ADD_BATCH):  # the mirror in batches: the lock is never held long
                self.engine.add_many(tasks[n:n + ADD_BATCH], spec, specs=specs)
                time.sleep(0)
        finally:
            self._arrays_in_flight.pop(first.id).set()  # a dependent waiting for it looks again
        return tasks

    def _stored_tasks(self, first: Job, indices: list[int], edges: list[tuple[int, str, int]],
                      array_limit: int | None, base: str, group: str | None, argv: list[str], script: str | None,
                      interpreter: str | None, task_specs: dict[int, DepSpec] | None) -> list[Job]:
        """The array's tasks, stored whole, or discarded (nothing of it stays) when that fails."""
        try:
            tasks = []
            for n, index in enumerate(indices):
                task = self._task(first, first.id + n, index, base, array_limit, group)
                tasks.append(self._corr_task(task, task_specs[index]) if task_specs and n else task)
                if n % YIELD_EVERY == 0:
                    time.sleep(0)  # let request threads take the GIL now, not after a 5 ms switch interval
            if script is not None:
                tasks = [self._with_script(t, argv, script, interpreter) for t in tasks]
            # each batch is its own short transaction (its rows are built before it): the array is
            # pending, so what is stored of it stays invisible until the last transaction makes it whole
            self.store.update_job(tasks[0])
            task_edges = {t.id: _edges(task_specs[i]) for t, i in zip(tasks, indices)} if task_specs else None
            for n in range(1, len(tasks), STORE_BATCH):
                self.store.insert_jobs(tasks[n:n + STORE_BATCH], edges, edges_of=task_edges)
                time.sleep(0)
            with self.store.transaction():
                if array_limit is not None:
                    self.store.save_group(Group(f"array-{first.id}", array_limit))
                self.store.finish_array(first.id)
        except BaseException:
            with contextlib.suppress(Exception):
                self.store.discard_pending_arrays(first.id)
            raise
        return tasks

    @staticmethod
    def _task(job: Job, task_id: int, index: int, base: str, array_limit: int | None, group: str | None) -> Job:
        first = job.id  # the array's id: its first task's
        return job.evolve(id=task_id, name=f"{base}[{index}]", array_of=first,
                          group=f"array-{first}" if array_limit is not None else group,
                          env={**job.env, "JOBFLOW_ARRAY_TASK_ID": str(index), "SLURM_ARRAY_TASK_ID": str(index),
                               "JOBFLOW_ARRAY_JOB_ID": str(first), "SLURM_ARRAY_JOB_ID": str(first)})

    def _expand_arrays(self, spec: DepSpec, *, corr: bool = False) -> DepSpec:
        """A dependency on a job array (its first task's id, which ``@`` gives) is a dependency on
        every task of it, with the same type and delay (Slurm; docs/rules.md, Job arrays). With ``corr`` (the
        dependent is an array), ``aftercorr`` on an array stays on the array: ``_corr_specs`` pairs
        the tasks. ``aftercorr`` when neither is an array is E12."""
        conditions: list[depspec.Condition] = []
        changed = False
        for c in spec.conditions:
            tasks = self.store.array_tasks(c.target) if isinstance(c.target, int) else []
            if c.type == "aftercorr" and not tasks and not corr:
                raise InvalidSpec("aftercorr requires the submitted job to be an array job")
            if tasks and corr and c.type == "aftercorr":
                conditions.append(c)
            elif tasks:
                changed = True
                conditions.extend(depspec.Condition(c.type, t, c.delay) for t in tasks)
            else:
                conditions.append(c)
        return _with_conditions(spec, conditions) if changed else spec

    def _corr_specs(self, spec: DepSpec, indices: list[int]) -> dict[int, DepSpec]:
        """``aftercorr`` on a job array, per task (Slurm; docs/rules.md, Job arrays and ``aftercorr``): each task index of the
        submitted array gets its own dependency, on the parent's task of the same index only (a
        parent with no such task: on every task of it). Empty when there is nothing to pair."""
        corr = {c.target: self.store.array_tasks(c.target) for c in spec.conditions
                if c.type == "aftercorr" and indices and isinstance(c.target, int)}
        corr = {first: tasks for first, tasks in corr.items() if tasks}
        if not corr:
            return {}
        every = DepSpec("and", tuple(depspec.Condition("afterok", t) for ts in corr.values() for t in ts))
        self._check_parents_exist(every)  # an array still being stored: wait for all of it
        by_index = {first: {int(self.engine.jobs[t].env.get("JOBFLOW_ARRAY_TASK_ID", -1)): t for t in tasks}
                    for first, tasks in corr.items()}
        out = {}
        for index in indices:
            conditions: list[depspec.Condition] = []
            for c in spec.conditions:
                if c.target not in corr:
                    conditions.append(c)
                elif index in by_index[c.target]:
                    conditions.append(dataclasses.replace(c, target=by_index[c.target][index]))
                else:
                    conditions.extend(dataclasses.replace(c, target=t) for t in corr[c.target])
            out[index] = _with_conditions(spec, conditions)
        return out

    def _corr_task(self, task: Job, spec: DepSpec) -> Job:
        """An array task with its own dependency (``_corr_specs``), decided now as at run time (S7)."""
        task = task.evolve(dependency=str(spec))
        if task.state is JobState.HOLD:
            return task
        task = task.evolve(state=JobState.QUEUED, reason=DEPENDENCY, ended_at=None)
        verdict = evaluate(spec, self.engine.jobs.get)
        return self._never_at_submit(task, verdict)[0] if verdict.never else task

    def _never_at_submit(self, job: Job, verdict: Verdict) -> tuple[Job, str]:
        cond, parent = verdict.failed[0]
        clause = f"{cond.type}:{cond.target}"
        detail = f"job {cond.target} is {parent.state.value}" if parent else f"job {cond.target} was purged"
        if parent is not None and parent.exit_code not in (None, 0) and parent.state is JobState.FAILED:
            detail += f", exit {parent.exit_code}"
        if job.auto_cancel:
            job = job.evolve(state=JobState.CANCELLED, ended_at=job.submitted_at,
                             reason=Reason("DependencyFailed", {"job": int(cond.target), "condition": clause}))
            return job, (f"Warning: job ? will never start: {clause} cannot be satisfied ({detail}). "
                         f"Job ? was cancelled; use --no-auto-cancel to keep it queued.")
        job = job.evolve(reason=Reason("DependencyNeverSatisfied", {"job": int(cond.target), "condition": clause}))
        return job, (f"Warning: job will never start unless job {cond.target} is redone in place: "
                     f"{clause} cannot be satisfied ({detail}).")

    def _write_script(self, job_id: int, script: str) -> Path:
        path = private_dir(self.state_dir / "scripts") / str(job_id)
        write_private(path, script)
        return path

    def _check_parents_exist(self, spec: DepSpec) -> None:
        for jid in spec.job_ids():
            if jid not in self.engine.jobs:
                if self._arrays_in_flight and jid <= self.store.max_job_id():  # a task of an array being stored?
                    for stored in list(self._arrays_in_flight.values()):
                        stored.wait(ARRAY_WAIT)
                if jid not in self.engine.jobs:
                    raise InvalidSpec(f"Dependency job {jid} not found")

    def _parse_gpus(self, gpus: int | str) -> tuple[int, tuple[int, ...] | None]:
        """``2`` is a count; ``"0,2"`` names devices. Refuse what this machine can never give."""
        text = str(gpus).strip()
        devices = self.gpus.device_ids()
        if "," in text or (isinstance(gpus, str) and text.startswith("[")):
            try:
                ids = tuple(sorted({int(x) for x in text.strip("[]").split(",") if x.strip()}))
            except ValueError:
                raise InvalidSpec(f'Invalid --gpus "{gpus}": expected a count (2) or device ids (0,2)') from None
            missing = [i for i in ids if i not in devices]
            if missing:
                raise InvalidSpec(f"--gpus {text}: GPU {missing[0]} does not exist here ({self._gpu_summary()})")
            return len(ids), ids
        try:
            count = int(text or 0)
        except ValueError:
            raise InvalidSpec(f'Invalid --gpus "{gpus}": expected a count (2) or device ids (0,2)') from None
        if count < 0:
            raise InvalidSpec(f"--gpus must be 0 or more, got {count}")
        if count > len(devices):
            raise InvalidSpec(f"--gpus {count}: this machine has {self._gpu_summary()}")
        return count, None

    def _gpu_summary(self) -> str:
        n = len(self.gpus.device_ids())
        if n == 0:
            return self.gpus.reason or "no GPUs"
        return f"{n} GPU{'s' if n != 1 else ''}" + (" (simulated)" if self.gpus.simulated else "")

    def _time_limit(self, value: str | float | None) -> float | None:
        if value is None:
            return self.default_time_limit
        if isinstance(value, (int, float)):
            if value <= 0:
                raise InvalidSpec(f"Time limit must be positive, got {value}")
            return float(limits.seconds("The time limit", value))
        return parse_time_limit(value)

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
        data, nxt = self.executor.read_log(job.id, attempt, offset, limit)
        return data.decode("utf-8", "replace"), nxt, attempt

    # -- verbs ----------------------------------------------------------------------------
    @_atomic
    def hold(self, job_id: int) -> Job:
        job = self.get(job_id)
        if job.state is not JobState.QUEUED:
            raise Conflict(f"Job {job.id} is {job.state.value}; only queued jobs can be held")
        return self.engine.change(job.evolve(state=JobState.HOLD, reason=HELD_BY_USER))

    @_atomic
    def release(self, job_id: int) -> Job:
        self._accepting()
        job = self.get(job_id)
        if job.state is not JobState.HOLD:
            raise Conflict(f"Job {job.id} is {job.state.value}; only held jobs can be released")
        return self.engine.change(job.evolve(state=JobState.QUEUED, reason=DEPENDENCY))

    @_atomic
    def cancel(self, ids: Iterable[int], *, dry_run: bool = False, cascade: bool = False) -> CancelReport:
        """Cancel jobs (K1-K5). With ``dry_run`` nothing changes; the report lists each dependent's fate."""
        ids = [int(i) for i in ids]
        if not ids:
            raise InvalidSpec("No job IDs specified")
        targets, warnings = [], []
        for jid in ids:
            job = self.get(jid) if len(ids) == 1 else self.engine.jobs.get(jid)
            if job is None:
                warnings.append(f"Warning: Job {jid} not found")
            elif job.state.terminal:
                if len(ids) == 1:
                    raise Conflict(f"Job {jid} is already in terminal state ({job.state.value})")
                warnings.append(f"Warning: Job {jid} is already in terminal state ({job.state.value}), skipped")
            else:
                targets.append(job)
        report = CancelReport(targets, self.predict_cancel([j.id for j in targets]), warnings=warnings,
                              dry_run=dry_run)
        if dry_run:
            return report
        doomed = [f.job.id for f in report.dependents if cascade and not f.outcome.startswith(("will run", "waits"))]
        for job in [*targets, *(self.engine.jobs[i] for i in doomed)]:
            self._cancel_one(self.engine.jobs[job.id])
            report.cancelled.append(job.id)
        return report

    def _cancel_one(self, job: Job) -> None:
        if job.state.terminal:
            return
        if job.state is JobState.RUNNING:
            self.engine.stop_running(job.id, "cancel")
        else:
            self.engine.change(job.evolve(state=JobState.CANCELLED, reason=Reason("CancelledByUser",
                               {"user": getpass.getuser()}), ended_at=self.clock()))

    def predict_cancel(self, ids: list[int]) -> list[Fate]:
        """Each transitive dependent's fate if ``ids`` were cancelled now, by the scheduler's own
        decision function run on a what-if snapshot (so the prediction cannot drift from the rule)."""
        now = self.clock()
        with self.engine.lock:
            jobs = self.engine.jobs
            what_if = {i: jobs[i].evolve(state=JobState.CANCELLED, reason=Reason("CancelledByUser"), ended_at=now,
                                         first_started_at=jobs[i].first_started_at) for i in ids}
            order, seen, frontier = [], set(ids), list(ids)
            while frontier:
                for child in sorted(self.engine.dependents.get(frontier.pop(0), ())):
                    if child not in seen and not jobs[child].state.terminal and child in jobs:
                        seen.add(child)
                        order.append(child)
                        frontier.append(child)
            view = ChainMap(what_if, jobs)
            held = [c for c in order if jobs[c].state is JobState.HOLD]
            # a held job is judged as if released, and its fate says it waits for the release
            view = ChainMap({c: jobs[c].evolve(state=JobState.QUEUED) for c in held}, view)
            d = decide(Snapshot(jobs=view, now=now, specs=self.engine.specs, dependents=self.engine.dependents),
                       [c for c in order if view[c].state is JobState.QUEUED])
        cancels = {c.job_id: c.reason for c in d.cancels}
        fates = []
        for child in order:
            job = jobs[child]
            spec = self.engine.specs.get(child)
            cond = next((f"{c.type}:{c.target}" for c in spec.conditions if c.target in seen or c.target in ids),
                        str(spec)) if spec else ""
            if not job.auto_cancel:
                cond += " --no-auto-cancel"
            if job.state is JobState.RUNNING:
                outcome = "is already running; not affected"
            elif child in cancels:
                outcome = f"will be cancelled ({cancels[child]})"
                if child in held:
                    outcome = f"is held; will be cancelled on release ({cancels[child]})"
            elif d.reasons.get(child) and d.reasons[child].kind == "DependencyNeverSatisfied":
                outcome = "will stay queued forever (DependencyNeverSatisfied)"
            elif d.reasons.get(child) == DEPENDENCY:
                outcome = "waits for its other dependencies"
            else:
                outcome = "will run"
            fates.append(Fate(job, cond, outcome))
        return fates

    @_submitting_atomic
    def redo(self, job_id: int, *, in_place: bool = False, cascade: bool = False,
             **overrides: Any) -> Job:
        """gflow's ``gjob redo`` (R1), or with ``in_place`` a new attempt of the same job (R2).
        ``cascade`` also brings back the dependents that were cancelled because of it (R3)."""
        self._accepting()
        job = self.get(job_id)
        if not job.state.terminal:
            raise Conflict(f"Job {job.id} is {job.state.value}; only a finished, failed, cancelled or timed-out "
                           f"job can be redone")
        changes = self._overrides(job, overrides)
        if in_place:
            new = self.engine.change(job.evolve(state=JobState.QUEUED, reason=DEPENDENCY, ended_at=None,
                                                exit_code=None, signal=None, retry_at=None, retry_count=0, **changes),
                                     kind="redo")
            if cascade:
                self._revive_cancelled_dependents(job.id)
            return new
        with self._submit_lock:
            spec = self.engine.specs.get(job.id)
            copy = job.evolve(id=0, state=JobState.QUEUED, reason=DEPENDENCY, attempt=0, submitted_at=self.clock(),
                              first_started_at=None, started_at=None, ended_at=None, retry_at=None, exit_code=None,
                              signal=None, allocated_gpus=(), used_gpus=(), retry_count=0, redo_of=job.id, stopping=None,
                              kill_at=None, array_of=None, **changes)
            new_id = self.store.insert_job(copy, [(c.target, c.type, c.delay) for c in (spec.conditions if spec else ())])
            new = self.engine.add(copy.evolve(id=new_id), spec)
        if cascade:
            self._redo_cancelled_dependents(job.id, new_id)
        return new

    def _cancelled_because_of(self, job_id: int) -> list[Job]:
        return [self.engine.jobs[c] for c in sorted(self.engine.dependents.get(job_id, ()))
                if self.engine.jobs[c].state is JobState.CANCELLED and self.engine.jobs[c].reason is not None
                and self.engine.jobs[c].reason.kind == "DependencyFailed"
                and self.engine.jobs[c].reason.args.get("job") == job_id]

    def _revive_cancelled_dependents(self, job_id: int) -> None:
        # a work list, not recursion: a chain of thousands of jobs is revived whole
        todo = [job_id]
        while todo:
            for child in self._cancelled_because_of(todo.pop()):
                self.engine.change(child.evolve(state=JobState.QUEUED, reason=DEPENDENCY, ended_at=None),
                                   kind="revived")
                todo.append(child.id)

    def _redo_cancelled_dependents(self, old_id: int, new_id: int) -> None:
        todo = [(old_id, new_id)]  # a work list, not recursion (chains of thousands of jobs)
        while todo:
            self._redo_children(*todo.pop(0), todo)

    def _redo_children(self, old_id: int, new_id: int, todo: list[tuple[int, int]]) -> None:
        for child in self._cancelled_because_of(old_id):
            spec = self.engine.specs[child.id]
            rewired = DepSpec(spec.op, tuple(c if c.target != old_id else type(c)(c.type, new_id, c.delay)
                                             for c in spec.conditions), spec.singleton)
            new_child = self.submit(list(child.command), name=child.name, time_limit=child.time_limit,
                                    gpus=",".join(map(str, child.gpu_ids)) if child.gpu_ids else child.gpus,
                                    gpu_memory=child.gpu_memory,
                                    priority=child.priority, group=child.group, dependency=rewired,
                                    auto_cancel=child.auto_cancel, retries=child.retry.retries,
                                    retry_delay=child.retry.delay, retry_backoff=child.retry.backoff,
                                    retry_max_delay=child.retry.max_delay, retry_on=child.retry.retry_on,
                                    cwd=child.cwd, env=child.env, export="ALL", scope=child.scope, user=child.user,
                                    redo_of=child.id)
            todo.append((child.id, new_child.id))

    def _overrides(self, job: Job, fields: dict[str, Any]) -> dict[str, Any]:
        """The ``Job`` fields that ``fields`` (update, redo) change, validated."""
        out: dict[str, Any] = {}
        for key, value in fields.items():
            if value is None:
                continue
            if key == "time_limit":
                out["time_limit"] = self._time_limit(value)
            elif key == "gpus":
                out["gpus"], out["gpu_ids"] = self._parse_gpus(value)
            elif key == "gpu_memory":
                out["gpu_memory"] = self._parse_gpu_memory(value, 1, None)[1]
            elif key in ("priority", "name", "group"):
                out[key] = limits.in_range("--priority", int(value), *limits.PRIORITY_RANGE) if key == "priority" \
                    else limits.length(f"--{key}", str(value), limits.MAX_NAME)
            elif key == "retries":
                retries = limits.in_range("--retries", int(value), 0, limits.MAX_RETRIES)
                out["retry"] = dataclasses.replace(job.retry, retries=retries)  # delay, back-off kept
            else:
                raise InvalidSpec(f'Cannot change "{key}": changeable fields are time_limit, gpus, gpu_memory, '
                                  f"priority, name, group, retries, dependency")
        return out

    @_atomic
    def update(self, job_id: int, *, dependency: str | None = None, **fields: Any) -> Job:
        """Change a job (``gjob update``): most fields only while it waits; the time limit of a
        running job too (T7). A new dependency is checked for unknown ids, self and cycles."""
        job = self.get(job_id)
        if job.state.terminal:
            raise Conflict(f"Job {job.id} is already in terminal state ({job.state.value})")
        changes = self._overrides(job, fields)
        if job.state is JobState.RUNNING and set(changes) - {"time_limit", "priority", "name"}:
            raise Conflict(f"Job {job.id} is Running; only its time limit, priority and name can change")
        if dependency is not None:
            if job.state is JobState.RUNNING:
                raise Conflict(f"Job {job.id} is Running; its dependencies can no longer change")
            spec = None if dependency.strip().lower() in ("", "none") else self._expand_arrays(depspec.resolve(
                depspec.parse(dependency), self.store.recent_ids(scope=job.scope, limit=64)),
                corr=job.array_of is not None)
            if spec is not None:
                self._check_parents_exist(spec)
                if job.array_of is not None:  # aftercorr pairs this task with the parent's of its index
                    index = int(job.env.get("JOBFLOW_ARRAY_TASK_ID", -1))
                    spec = self._corr_specs(spec, [index]).get(index, spec)
                if job.id in spec.job_ids():
                    raise InvalidSpec("Job cannot depend on itself")
                self._check_cycle(job.id, spec)
            return self.engine.set_dependency(job.evolve(dependency=str(spec) if spec else None, **changes), spec)
        return self.engine.change(job.evolve(**changes))

    def _check_cycle(self, job_id: int, spec: DepSpec) -> None:
        """E8: full DFS from the new parents back to ``job_id``; prints the whole path."""
        specs = self.engine.specs
        came_from: dict[int, int] = {}  # node -> the node whose parent it is (an explicit stack, no recursion)
        for start in spec.job_ids():
            if start in came_from:
                continue
            came_from[start] = job_id
            stack = [start]
            while stack:
                node = stack.pop()
                if node == job_id:
                    path = [node]
                    while path[-1] != job_id or len(path) == 1:
                        path.append(came_from[path[-1]])
                    path.reverse()
                    raise InvalidSpec("Circular dependency detected: " + " -> ".join(f"job {j}" for j in path))
                for parent in reversed(specs[node].job_ids() if node in specs else ()):
                    if parent not in came_from:
                        came_from[parent] = node
                        stack.append(parent)

    def set_group(self, name: str, *, limit: int | None = None, paused: bool | None = None) -> Group:
        """Create or change a named group: ``limit`` running jobs at once (0 = none), ``paused``."""
        current = self.engine.groups.get(name, Group(name))
        group = Group(name, current.limit if limit is None else int(limit),
                      current.paused if paused is None else bool(paused))
        self.engine.set_group(group)
        return group

    def explain(self, job_id: int) -> list[str]:
        """Every gate between a job and its start (``gjob explain``), one line each."""
        job = self.get(job_id)
        lines = [f"Job {job.id} ({job.name}) is {job.state.value}" + (f" ({job.reason})" if job.reason else "")]
        if job.state is JobState.HOLD:
            lines.append("Held by the user: it will not start until `gjob release " + str(job.id) + "`")
        if job.state not in (JobState.QUEUED, JobState.HOLD):
            return lines
        now = self.clock()
        spec = self.engine.specs.get(job.id)
        if spec is not None:
            lines.append(self.verdict(job.id).describe())
            for cond in spec.conditions:
                parent = self.engine.jobs.get(int(cond.target))
                lines.append("  " + _explain_condition(cond, parent))
        if job.retry_at and job.retry_at > now:
            lines.append(f"Retry back-off: attempt {job.retry_count + 1}/{job.retry.retries + 1} starts in "
                         f"{format_duration(job.retry_at - now)}")
        with self.engine.lock:
            running = [self.engine.jobs[j] for j in self.engine.running]
        if job.gpus or job.gpu_memory:
            lines.extend(self._explain_gpus(job))  # which GPUs are busy with what (gpuview.py)
        if job.group:
            group = self.engine.groups.get(job.group, Group(job.group))
            n = sum(1 for j in running if j.group == job.group)
            lines.append(f"Group {job.group}: {n} running, limit {group.limit or 'none'}"
                         + (", paused" if group.paused else ""))
        limit = self.engine.config.max_running
        if limit is not None:
            lines.append(f"Slots: {len(running)} of {limit} running")
        return lines


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


def _explain_condition(cond: depspec.Condition, parent: Job | None) -> str:
    from ..core.evaluate import NEVER, event_time

    head = f"{cond.type}:{cond.target}" + (f"+{format_duration(cond.delay)}" if cond.delay else "")
    if parent is None:
        return f"{head}: job {cond.target} no longer exists"
    t = event_time(cond, parent)
    what = f"job {parent.id} ({parent.name}) is {parent.state.value}"
    if t is None:
        return f"{head}: waiting, {what}"
    if t == NEVER:
        return f"{head}: can never be satisfied, {what}"
    from ..core.model import format_clock

    return f"{head}: satisfied at {format_clock(t)}, ready at {format_clock(t + cond.delay)} ({what})"


def _check_submit_limits(argv: list[str], script: str | None, name: str | None, group: str | None,
                         cwd: str | None, env: dict[str, str] | None, priority: int, retries: int,
                         retry_delay: float, retry_backoff: float, retry_max_delay: float | None) -> None:
    """``limits``: the same bounds for in-process callers as the API and the parser apply."""
    limits.argv("The command", argv)
    if script is not None:
        limits.length("The script", script, limits.MAX_SCRIPT_CHARS)
    for what, text, most in (("--name", name, limits.MAX_NAME), ("--group", group, limits.MAX_NAME),
                             ("The working directory", cwd, limits.MAX_PATH)):
        if text is not None:
            limits.length(what, text, most)
    limits.env("The environment", dict(env or {}))
    limits.in_range("--priority", priority, *limits.PRIORITY_RANGE)
    limits.in_range("--retries", retries, 0, limits.MAX_RETRIES)
    limits.in_range("--retry-delay", retry_delay, 0, limits.MAX_SECONDS, unit=" seconds")
    limits.in_range("--retry-backoff", retry_backoff, 1, limits.MAX_BACKOFF)
    if retry_max_delay is not None:
        limits.in_range("--retry-max-delay", retry_max_delay, 0, limits.MAX_SECONDS, unit=" seconds")


def _edges(spec: DepSpec) -> list[tuple[int, str, int]]:
    return [(c.target, c.type, c.delay) for c in spec.conditions]


def _with_conditions(spec: DepSpec, conditions: list[depspec.Condition]) -> DepSpec:
    """``spec`` with these conditions, each target once (a task named on its own as well as
    through its array: its first mention)."""
    unique: dict[int | str, depspec.Condition] = {}
    for c in conditions:
        unique.setdefault(c.target, c)
    return DepSpec(spec.op, tuple(unique.values()), spec.singleton, source=spec.source)


def _history_needed(spec: DepSpec) -> int:
    deepest = 0
    for c in spec.conditions:
        if isinstance(c.target, str) and c.target.startswith("@"):
            deepest = max(deepest, int(c.target[2:] or 0) if c.target.startswith("@~") else 0)
    return deepest + 1

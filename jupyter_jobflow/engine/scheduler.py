"""The engine: keeps a mirror of the store, applies the scheduler's decisions, runs the loop.

One thread, the *scheduler loop*, waits on a wake pipe and on the next timer (a delay, a retry
back-off, a time limit, a kill grace). Anything that may change what should run (a submission, an
executor's event, a cancel, a release) marks the affected jobs dirty or queues the event and
writes one byte to the wake pipe, so hand-offs cost milliseconds, not a poll interval.

Each job names its executor (``Job.executor``; ``executors`` maps names to them). An executor
returns an opaque handle per attempt, which the store keeps, and pushes ``started``, ``ended`` and
``lost`` events (executors/__init__.py): a time limit counts from ``started``; the engine never
looks inside a handle. With a ``FakeClock`` (clock.py) the loop sleeps until the clock moves.

Each wake-up is one ``step``, which only calls named steps: ``take_events``,
``escalate_kills``, ``decide`` (pure, see ``decide.py``) and ``apply``. Every change is written to
the store in the same lock before anyone can see it; the mirror is a cache the store can rebuild
(``recover``), which is also how jobs that ran through a restart are re-adopted.

A job starts exactly once (docs/architecture.md): ``apply`` records each start as an attempt without a handle
(*starting*) and commits; only then ``spawn`` launches the processes, outside the lock, and records
their handles in a second commit. A host killed in between leaves attempts that ``reconcile_attempts``
either finds running (adopts), finds ended (settles) or knows never began (starts them then); a
second commit that fails kills what it launched. A step whose commit the store refuses (disk full,
I/O error) changes nothing: the mirror is reloaded from the store and the step is tried again.

Why a thread and not the host's asyncio loop: spawning processes and committing to SQLite can
block for milliseconds; off the Jupyter server's event loop they never stall a request.

The ``Engine`` is composed: its thread is in ``loop.py``, recovery in ``recovery.py``, the process
side in ``launching.py``. Long because: what stays here (the mirror and the step that changes it)
shares one lock, one dirty set and one outbox of events; apart, each half would reach into the other.
"""

from __future__ import annotations

import logging
import os
import signal as _signal
import sqlite3
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from ..core.decide import Decisions, Snapshot, decide
from ..core.depspec import DepSpec
from ..core.depspec import parse as parse_dependency
from ..core.errors import InvalidSpec
from ..core.gpumodel import DeviceUsage, GpuInventory
from ..core.model import Group, Job, JobState, Reason
from ..core.transitions import transition
from ..core.wire import job_to_json
from .executors import AttemptEvent, Executor, Handle, LaunchRequest
from .launching import LaunchMixin
from .loop import LoopMixin
from .recovery import RecoveryMixin
from .store import Store

log = logging.getLogger("jupyter_jobflow")


Subscriber = Callable[[dict[str, Any]], None]


@dataclass
class EngineConfig:
    kill_grace: float = 30.0  # seconds between SIGTERM and SIGKILL (Slurm's KillWait)
    max_running: int | None = None  # None: as many as resources allow
    #: a GPU whose memory used by processes that are not our jobs reaches this is not free (MiB)
    external_memory_threshold_mib: int = 1024


class Engine(RecoveryMixin, LoopMixin, LaunchMixin):
    def __init__(self, store: Store, executor: Executor | Mapping[str, Executor], gpus: GpuInventory,
                 config: EngineConfig | None = None, clock: Callable[[], float] = time.time):
        """``executor``: name -> executor, or one executor that runs the jobs whose executor is "local"."""
        self.store, self.gpus = store, gpus
        self.executors: dict[str, Executor] = dict(executor) if isinstance(executor, Mapping) else {"local": executor}
        self.executor = self.executors.get("local") or next(iter(self.executors.values()))  # logs of "local" jobs
        self.config = config or EngineConfig()
        self.clock = clock
        self._events: list[AttemptEvent] = []  # pushed by executors from their threads; taken by step()
        self._events_lock = threading.Lock()
        for ex in self.executors.values():
            ex.bind(self.push_event)
        #: a clock that says when it moves (FakeClock): the loop waits for that, not for real seconds
        self._clock_wakes = hasattr(clock, "on_advance")
        if self._clock_wakes:
            clock.on_advance(self.wake)  # type: ignore[attr-defined]
        self.lock = threading.RLock()
        self.runtime_env: dict[str, str] = {}  # what jobs get at launch to reach their host (jobenv.py)
        #: (job id, attempt) -> a Reason the attempt left for a failed exit (a cell's OutputNotSaved), or None
        self.explain_exit: Callable[[int, int], Reason | None] | None = None
        self.jobs: dict[int, Job] = {}
        self.specs: dict[int, DepSpec] = {}
        self.dependents: dict[int, set[int]] = defaultdict(set)
        self.running: set[int] = set()
        self.handles: dict[int, Handle] = {}
        self.groups: dict[str, Group] = {}
        self._dirty: set[int] = set()
        self._waiting_for_resources: set[int] = set()
        self._to_watch: set[int] = set()
        self._native: dict[int, Any] = {}  # this step's jobs handed to their executor's native dependency
        self._timers: dict[int, float] = {}  # waiting job -> when to look at it again
        self._reconcile_needed = False  # the mirror was reloaded: look at the open attempts again
        #: why the last step could not be stored (None once a step is stored again)
        self.store_error: str | None = None
        self._next_wake = float("inf")
        self._subscribers: list[Subscriber] = []
        self._outbox: list[dict[str, Any]] = []
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._stopped = threading.Event()  # set by stop(): cuts a restart back-off short
        #: the scheduler's health (``health()``): why the loop last failed, how often it restarted
        self.failure: str | None = None
        self.given_up = False
        self.restarts = 0
        self._failures_in_a_row = 0
        #: what the GPU sampler measured per device (``GpuMonitor.usage``); empty: nothing known
        self.gpu_usage: Callable[[], Mapping[int, DeviceUsage]] = dict

    # -- mirror ---------------------------------------------------------------------------

    def _remember(self, job: Job) -> None:
        self.jobs[job.id] = job
        if job.dependency and job.id not in self.specs:
            self.specs[job.id] = parse_dependency(job.dependency)
        (self.running.add if job.state is JobState.RUNNING else self.running.discard)(job.id)

    def _save(self, job: Job, kind: str = "job", **extra: Any) -> Job:
        """Write ``job`` to the store and the mirror; queue its event for after the commit."""
        self.store.update_job(job)
        self._remember(job)
        self._event(kind, job, **extra)
        return job

    def _event(self, kind: str, job: Job | None, **extra: Any) -> None:
        data = {**({"job": job_to_json(job), "state": job.state.value} if job else {}), **extra}
        ts = self.clock()
        seq = self.store.append_event(kind, job.id if job else None, data, ts=ts)
        self._outbox.append({"seq": seq, "ts": ts, "kind": kind, "job_id": job.id if job else None, **data})

    def _commit_events(self) -> None:
        events, self._outbox = self._outbox, []
        for event in events:
            for fn in list(self._subscribers):
                try:
                    fn(event)
                except Exception:  # a broken subscriber must not stop the scheduler
                    log.exception("event subscriber failed")

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    # -- changes requested by the service (all under the lock) ---------------------------
    def add(self, job: Job, spec: DepSpec | None) -> Job:
        self.add_many([job], spec)
        return job

    def add_many(self, jobs: list[Job], spec: DepSpec | None, *, specs: Mapping[int, DepSpec] | None = None) -> None:
        """Stored jobs (an array's tasks: one batch) into the mirror in one lock hold and one
        transaction for their events, then one wake-up if any may start. ``specs`` (job id ->
        spec) gives each job its own dependency instead of ``spec`` (``aftercorr``)."""
        waits = any(job.state is JobState.QUEUED for job in jobs)
        with self.lock:
            with self.store.transaction():
                for job in jobs:
                    if specs is not None:
                        spec = specs[job.id]
                    if spec is not None:
                        self.specs[job.id] = spec
                        for parent in spec.job_ids():
                            self.dependents[parent].add(job.id)
                    self._remember(job)
                    self._event("submitted", job)
                    if job.state is JobState.QUEUED:  # a held job waits for its release, which marks it
                        self._dirty.add(job.id)
            self._commit_events()
        if waits:
            self.wake()

    def change(self, job: Job, *, kind: str = "job", touch: Iterable[int] = (), **extra: Any) -> Job:
        """Store a changed job (hold, release, redo, update, cancel of a waiting job) and reconsider it,
        its dependents and ``touch``."""
        with self.lock, self.store.transaction():
            self._save(job, kind, **extra)
            self._dirty.add(job.id)
            self._dirty.update(self.dependents.get(job.id, ()))
            self._dirty.update(touch)
        with self.lock:
            self._commit_events()
        self.wake()
        return job

    def set_dependency(self, job: Job, spec: DepSpec | None) -> Job:
        with self.lock:
            for parent in self.specs.pop(job.id, DepSpec()).job_ids():
                self.dependents[parent].discard(job.id)
            if spec is not None:
                self.specs[job.id] = spec
                for parent in spec.job_ids():
                    self.dependents[parent].add(job.id)
            self.store.replace_dependencies(job.id, [(p.target, p.type, p.delay) for p in (spec.conditions if spec else ())])
            return self.change(job)

    def stop_running(self, job_id: int, why: str) -> None:
        """SIGTERM a running attempt now and SIGKILL it after the grace; it ends as ``why``."""
        with self.lock, self.store.transaction():
            if why == "cancel":
                self._take_back_before_cancel(job_id)
            self._signal_stop(self.jobs[job_id], why, self.clock())
        with self.lock:
            self._commit_events()
        self.wake()

    def set_group(self, group: Group) -> None:
        with self.lock:
            self.store.save_group(group)
            self.groups[group.name] = group
            self._dirty.update(j.id for j in self.jobs.values() if j.group == group.name and j.state is JobState.QUEUED)
        self.wake()

    def forget(self, ids: list[int], *, job_events: bool = True) -> dict[str, int]:
        """Purge finished jobs (``retention.select`` chose them): the store's rows and the mirror's
        entries together, under the lock, with one ``purged`` event naming them."""
        with self.lock, self.store.transaction():
            counts = self.store.purge_jobs(ids, job_events=job_events)
            for jid in ids:
                job = self.jobs.pop(jid, None)
                for parent in self.specs.pop(jid, DepSpec()).job_ids():
                    children = self.dependents.get(parent)
                    if children is not None:
                        children.discard(jid)
                        if not children:
                            del self.dependents[parent]
                self.dependents.pop(jid, None)
                for pending in (self.running, self._dirty, self._waiting_for_resources, self._to_watch):
                    pending.discard(jid)
                self._timers.pop(jid, None)
                if job is not None and job.array_of == jid:
                    self.groups.pop(f"array-{jid}", None)
            if ids:
                self._event("purged", None, ids=list(ids), count=len(ids))
        with self.lock:
            self._commit_events()
        return counts

    # -- the loop -------------------------------------------------------------------------
    def resources_changed(self) -> None:
        """Something outside our jobs changed (a GPU sample): look again if a job waits for resources."""
        if self._waiting_for_resources:
            self.wake()

    def push_event(self, event: AttemptEvent) -> None:
        """What executors call (from any thread) to report an attempt's start, end or loss."""
        with self._events_lock:
            self._events.append(event)
        self.wake()

    def executor_of(self, job: Job) -> Executor:
        executor = self.executors.get(job.executor)
        if executor is None:
            raise InvalidSpec(f"job {job.id}: no executor named {job.executor!r} on this host "
                              f"(there is {', '.join(sorted(self.executors))})")
        return executor

    def leader_pid(self, job_id: int) -> int | None:
        """The local process leading a running job's tree (GPU attribution), as its executor says."""
        handle = self.handles.get(job_id)
        return self.executor_of(self.jobs[job_id]).leader_pid(handle) if handle is not None else None

    def step(self, now: float | None = None) -> Decisions:
        """One wake-up: a table of contents of what the scheduler does."""
        with self.lock:
            now = self.clock() if now is None else now
            try:
                with self.store.transaction():
                    if self._reconcile_needed:
                        self.reconcile_attempts()
                    self.watch_attempts()
                    self.take_events(now)
                    self.escalate_kills(now)
                    decisions = self.decide(now)
                    launches = self.apply(decisions, now)
            except sqlite3.Error as err:
                self._refused(err)
                return Decisions()
            self._commit_events()
        self.spawn(launches)
        return decisions

    def watch_attempts(self) -> None:
        """Ask the executors for the events of attempts launched or adopted since the last step."""
        to_watch, self._to_watch = self._to_watch, set()
        for jid in sorted(to_watch):
            handle = self.handles.get(jid)
            if handle is not None:
                self.executor_of(self.jobs[jid]).watch(jid, self.jobs[jid].attempt, handle)

    def take_events(self, now: float) -> None:
        """Apply what the executors reported: a start (the time limit counts from it), an end
        (its status), a loss. Events of an attempt that is no longer the job's current one are old news."""
        with self._events_lock:
            events, self._events = self._events, []
        for ev in events:
            job = self.jobs.get(ev.job_id)
            if job is None or job.attempt != ev.attempt or ev.job_id not in self.handles:
                continue
            if ev.kind == "waiting":  # launched, not begun: the batch system's own reason (Slurm:Dependency)
                if job.started_at is not None or job.stopping or job.reason == ev.reason:
                    continue
                if ev.reason is not None and ev.reason.args.get("reason") == "DependencyNeverSatisfied":
                    # Slurm keeps it pending forever (--no-auto-cancel): take it back, to wait in
                    # OUR queue as Queued (DependencyNeverSatisfied), as a local job does
                    self.executor_of(job).kill(self.handles.pop(job.id))
                    self._unlaunch(job)
                else:
                    self._save(job.evolve(reason=ev.reason))
            elif ev.kind == "started":
                if job.started_at is None:
                    at = now if ev.at is None else ev.at
                    self.store.record_start(job.id, job.attempt, at)
                    self._save(job.evolve(started_at=at, first_started_at=job.first_started_at or at, reason=None),
                               "started")
                    self._dirty.update(self.dependents.get(job.id, ()))  # ``after`` dependents may go now
            else:
                self._settle(ev.job_id, ev.status if ev.kind == "ended" else None, self.handles[ev.job_id])

    def escalate_kills(self, now: float) -> None:
        for jid in list(self.running):
            job = self.jobs[jid]
            if job.kill_at is not None and now >= job.kill_at and jid in self.handles:
                self.executor_of(job).signal(self.handles[jid], _signal.SIGKILL)
                self._save(job.evolve(kill_at=None), "killed")

    def decide(self, now: float) -> Decisions:
        due = {jid for jid, at in self._timers.items() if at <= now}
        for jid in due:
            del self._timers[jid]
        candidates = self._dirty | self._waiting_for_resources | due
        self._dirty = set()
        self._native = self._native_dependencies(candidates, now)
        snap = Snapshot(jobs=self.jobs, now=now, specs=self.specs, dependents=self.dependents, running=self.running,
                        gpus=self.gpus.device_ids(), gpus_busy_elsewhere=self.gpus.busy_elsewhere(),
                        gpu_usage=self.gpu_usage(),
                        external_memory_threshold_mib=self.config.external_memory_threshold_mib,
                        groups=self.groups, max_running=self.config.max_running, native=frozenset(self._native),
                        remote_executors=frozenset(n for n, ex in self.executors.items() if getattr(ex, "remote", False)))
        return decide(snap, candidates)

    def _native_dependencies(self, candidates: Iterable[int], now: float) -> dict[int, Any]:
        """Queued jobs whose executor can keep their dependency itself (Slurm's ``--dependency``):
        job id -> what to launch them with (``native_dependency``'s ``Native``). A job the executor
        cannot take (``Held``) waits for its parents here, as any job does."""
        found: dict[int, Any] = {}
        for jid in candidates:
            job, spec = self.jobs.get(jid), self.specs.get(jid)
            if job is None or spec is None or job.state is not JobState.QUEUED or job.retry_at is not None:
                continue
            executor = self.executors.get(job.executor)
            rule = getattr(executor, "native_dependency", None)
            if rule is None:
                continue
            parents = {p: (self.jobs.get(p), self.last_handle(p)) for p in spec.job_ids()}
            native = rule(job, spec, parents, now=now)
            if native is not None:
                found[jid] = native
        return found

    def last_handle(self, job_id: int) -> Handle | None:
        """The handle of a job's latest attempt: the live one, else the stored one (ended)."""
        handle = self.handles.get(job_id)
        if handle is None:
            attempts = self.store.attempts(job_id)
            handle = attempts[-1].handle if attempts else None
        return handle

    def apply(self, d: Decisions, now: float) -> list[LaunchRequest]:
        """Store the decisions; the starts are recorded as *starting*, to be spawned after the commit."""
        for jid in d.timeouts:
            self._signal_stop(self.jobs[jid], "timeout", now)
        roots: dict[int, list[int]] = defaultdict(list)
        for c in d.cancels:
            self._save(transition(self.jobs[c.job_id], JobState.CANCELLED, cause="cascade", reason=c.reason,
                                  ended_at=now))
            roots[c.root].append(c.job_id)
        for root, ids in roots.items():  # one grouped event per cascade (C5)
            self._event("cascade", None, root=root, cancelled=ids,
                        message=f"cascade from job {root}: cancelled {', '.join(map(str, ids))}")
        for jid, reason in d.reasons.items():
            job = self.jobs[jid]
            if job.reason != reason and job.state is JobState.QUEUED:
                self._save(job.evolve(reason=reason))
        launches = [self._begin_launch(self.jobs[start.job_id], start.gpus, now) for start in d.starts]
        self._waiting_for_resources = {j for j in d.waiting_for_resources if self.jobs[j].state is JobState.QUEUED}
        self._timers.update(d.timers)
        self._next_wake = min([*self._timers.values(), *self._running_deadlines()], default=float("inf"))
        if self.store_error is not None:
            self.store_error = None
            log.info("jobflow: the database accepts writes again")
        return launches

    def _running_deadlines(self) -> Iterable[float]:
        """Time limits and kill graces of running jobs, including those started just now."""
        for jid in self.running:
            job = self.jobs[jid]
            if job.kill_at is not None:
                yield job.kill_at
            elif job.time_limit is not None and job.started_at is not None and not job.stopping:
                yield job.started_at + job.time_limit

    # -- process side ---------------------------------------------------------------------







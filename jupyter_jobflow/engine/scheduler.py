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
"""

from __future__ import annotations

import logging
import os
import selectors
import signal as _signal
import sqlite3
import threading
import time
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass
from dataclasses import replace as _replace
from typing import Any, Callable, Iterable, Mapping

from ..core import outfiles
from ..core.decide import Decisions, Snapshot, decide
from ..core.depspec import DepSpec
from ..core.depspec import parse as parse_dependency
from ..core.gpumodel import DeviceUsage, GpuInventory
from ..core.model import DEPENDENCY, Attempt, Group, Job, JobState, Reason
from ..core.retry import Outcome, classify, retry_wait, should_retry
from ..core.wire import job_to_json
from ..core.errors import InvalidSpec
from .executors import AttemptEvent, Executor, ExitStatus, Handle, LaunchRequest
from .store import Store

log = logging.getLogger("jupyter_jobflow")

#: The longest the loop sleeps at once: ``epoll`` refuses a timeout past ~24.8 days (int32 ms), so
#: a far timer (``--time 25-0``, ``afterok:N+4w``) is re-armed after this, never handed over whole.
MAX_SLEEP = 86400.0
#: Loop failures in a row that are restarted (with a back-off) before the scheduler gives up loudly.
MAX_RESTARTS = 5

STORE_RETRY_SECONDS = 1.0  # after a commit the database refused, the next try

Subscriber = Callable[[dict[str, Any]], None]


@dataclass
class EngineConfig:
    kill_grace: float = 30.0  # seconds between SIGTERM and SIGKILL (Slurm's KillWait)
    max_running: int | None = None  # None: as many as resources allow
    #: a GPU whose memory used by processes that are not our jobs reaches this is not free (MiB)
    external_memory_threshold_mib: int = 1024


class Engine:
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
    def recover(self) -> None:
        """Load the store; re-adopt attempts still running; settle those that ended meanwhile."""
        with self.lock:
            if self.store.discard_pending_arrays():  # a host died while storing an array: not submitted
                log.warning("jobflow: discarded a job array whose submission was cut short")
            self._load()
            with self.store.transaction():
                self.reconcile_attempts()
                self.watch_attempts()  # what ended or vanished meanwhile reports so at once: settle it now
                self.take_events(self.clock())
            self._commit_events()

    def _load(self) -> None:
        """Rebuild the mirror from the store: at start, and after a commit the store refused (the
        mirror may then hold changes the store does not). It writes only to fail a row it cannot
        read. Handles are kept for ``reconcile_attempts``, which the next step runs."""
        self.jobs, self.specs, self.dependents, self.running = {}, {}, defaultdict(set), set()
        self._outbox.clear()
        self.groups = self.store.groups()
        for job in self.store.load_jobs():
            try:
                self._remember(job)
            except Exception as err:  # a stored value we cannot read must not stop every restart
                self._remember_broken(job, err)
        for child, parent in self.store.load_edges():
            self.dependents[parent].add(child)
        self._dirty.update(j.id for j in self.jobs.values() if j.state is JobState.QUEUED)
        self._reconcile_needed = True

    def reconcile_attempts(self) -> None:
        """Make every open attempt in the store match a process (or its end): the one place an
        attempt is adopted, settled or found never to have begun. In a transaction."""
        self._reconcile_needed = False
        self.handles = {}
        for a in self.store.open_attempts():
            job = self.jobs[a.job_id]
            try:
                executor = self.executor_of(job)
            except InvalidSpec:  # its executor is gone from this host: nothing can find it
                self._settle(a.job_id, None, None)
                continue
            handle = a.handle
            if handle is None:  # launched, handle unrecorded (or never launched)
                handle = executor.adopt(a.job_id, a.attempt)
                if handle is None:  # recorded as starting, never began: it may start now, as the same attempt
                    self._unlaunch(job)
                    continue
                self.store.record_launch(a.job_id, a.attempt, handle)
            # running, ended meanwhile or vanished: its executor's events (watch) say which
            self.handles[a.job_id] = handle
            self._to_watch.add(a.job_id)
        for jid in list(self.running):
            if jid not in self.handles:  # Running in the store without an attempt row: lost
                self._settle(jid, None, None)

    def _unlaunch(self, job: Job) -> None:
        """Back to the queue: a start that was recorded but never reached a process."""
        self.store.delete_attempt(job.id, job.attempt)
        self._save(job.evolve(state=JobState.QUEUED, reason=DEPENDENCY, attempt=job.attempt - 1,
                              started_at=None, first_started_at=job.first_started_at if job.attempt > 1 else None,
                              allocated_gpus=()))
        self._dirty.add(job.id)

    def _remember_broken(self, job: Job, err: Exception) -> None:
        log.error("job %s has a stored value that cannot be read (%s); it fails", job.id, err)
        failed = job.evolve(state=JobState.FAILED if not job.state.terminal else job.state, dependency=None,
                            reason=Reason("SpawnError", {"message": f"unreadable stored job: {err}"}),
                            ended_at=job.ended_at or self.clock())
        with suppress(sqlite3.Error):  # a store that refuses writes: failed in the mirror, and next time
            self.store.update_job(failed)
        self._remember(failed)

    def health(self) -> dict[str, Any]:
        """``scheduler``: running, restarting, failed (gave up) or stopped; the last failure's cause."""
        alive = self._thread is not None and self._thread.is_alive()
        state = "failed" if self.given_up else "restarting" if alive and self._failures_in_a_row else \
            "running" if alive else "stopped"
        return {"scheduler": state, "error": self.failure, "restarts": self.restarts, "database": self.store_error}

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

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:  # the pipe is full: a wake-up is already pending
            pass

    def start(self) -> None:
        """Recover, then run the scheduler loop in a daemon thread."""
        self.recover()
        self._stopping = False
        self._stopped.clear()
        self.given_up, self._failures_in_a_row = False, 0
        self._thread = threading.Thread(target=self._supervise, name="jobflow-scheduler", daemon=True)
        self._thread.start()
        self.wake()

    def stop(self) -> None:
        """Stop scheduling. Running jobs go on; the next start re-adopts them."""
        self._stopping = True
        self._stopped.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        for executor in self.executors.values():  # the next start watches again (reconcile_attempts)
            executor.close()

    def _supervise(self) -> None:
        """Run the loop; when it fails, say so (``health``) and restart it after a short back-off,
        up to ``MAX_RESTARTS`` failures in a row; then give up loudly (submissions answer 503)."""
        while not self._stopping:
            try:
                self._loop()
                return
            except Exception as err:
                self.failure = " ".join(f"{type(err).__name__}: {err}".split())[:500]
                self._failures_in_a_row += 1
                if self._failures_in_a_row > MAX_RESTARTS:
                    self.given_up = True
                    log.critical("the scheduler failed %d times in a row and stopped: %s",
                                 self._failures_in_a_row, self.failure)
                    return
                self.restarts += 1
                self._stopped.wait(min(5.0, 0.05 * 2 ** self._failures_in_a_row))
                with self.lock:  # the failed step was rolled back: the store is the truth again
                    try:
                        self._load()
                    except Exception:
                        log.exception("the scheduler could not reload its jobs; it tries again")
                    self._to_watch.update(self.handles)

    def _loop(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        try:
            while not self._stopping:
                with self.lock:
                    timeout = 0 if self._to_watch else max(0.0, self._next_wake - self.clock())
                    if timeout and self._clock_wakes:  # a FakeClock wakes us when it moves
                        timeout = MAX_SLEEP
                    if not timeout <= MAX_SLEEP:  # far, infinite or NaN: look again within a day
                        timeout = MAX_SLEEP
                for key, _ in selector.select(timeout):
                    os.read(self._wake_r, 4096)
                if not self._stopping:
                    self.step()
                    self._failures_in_a_row = 0
        except Exception:
            log.exception("the scheduler loop failed; jobs keep running and are re-adopted on restart")
            raise
        finally:
            selector.close()

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

    def _refused(self, err: sqlite3.Error) -> None:
        """The store refused a commit: nothing of the step happened. Reload, and try again soon."""
        self.store_error = f"the database refused a write ({err}); jobs wait until it accepts writes again"
        log.error("jobflow: %s", self.store_error)
        self._load()
        self._next_wake = min(self._next_wake, self.clock() + STORE_RETRY_SECONDS)

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
            if ev.kind == "started":
                if job.started_at is None:
                    at = now if ev.at is None else ev.at
                    self.store.record_start(job.id, job.attempt, at)
                    self._save(job.evolve(started_at=at, first_started_at=job.first_started_at or at))
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
        snap = Snapshot(jobs=self.jobs, now=now, specs=self.specs, dependents=self.dependents, running=self.running,
                        gpus=self.gpus.device_ids(), gpus_busy_elsewhere=self.gpus.busy_elsewhere(),
                        gpu_usage=self.gpu_usage(),
                        external_memory_threshold_mib=self.config.external_memory_threshold_mib,
                        groups=self.groups, max_running=self.config.max_running)
        return decide(snap, candidates)

    def apply(self, d: Decisions, now: float) -> list[LaunchRequest]:
        """Store the decisions; the starts are recorded as *starting*, to be spawned after the commit."""
        for jid in d.timeouts:
            self._signal_stop(self.jobs[jid], "timeout", now)
        roots: dict[int, list[int]] = defaultdict(list)
        for c in d.cancels:
            self._save(self.jobs[c.job_id].evolve(state=JobState.CANCELLED, reason=c.reason, ended_at=now))
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
    def _begin_launch(self, job: Job, gpus: tuple[int, ...], now: float) -> LaunchRequest:
        """Record the next attempt as starting (an attempt row without a handle), in the step's
        transaction: after a crash, recovery knows it may have begun. ``started_at`` waits for the
        executor's ``started``: the time limit counts from the moment the job really began."""
        attempt = job.attempt + 1
        self.store.insert_attempt(Attempt(job.id, attempt, now, gpus=gpus))
        self._save(job.evolve(state=JobState.RUNNING, reason=None, attempt=attempt, started_at=None,
                              allocated_gpus=gpus, used_gpus=gpus,
                              retry_at=None, ended_at=None, exit_code=None, signal=None))
        # the executor builds the environment (executors.job_env); a job that asked for no GPU
        # sees none, so it cannot take one behind the scheduler's back
        return LaunchRequest(job.id, attempt, tuple(job.command), job.cwd or os.path.expanduser("~"), job.env,
                             output=outfiles.expand(job.output, job) if job.output else None,
                             error=outfiles.expand(job.error, job) if job.error else None,
                             name=job.name, gpus=gpus, runtime_env=dict(self.runtime_env),
                             visible_devices=bool(job.gpus or job.gpu_ids or self.gpus.device_ids()),
                             pci_order=not self.gpus.simulated)

    def spawn(self, launches: list[LaunchRequest]) -> None:
        """Start what ``apply`` recorded as starting, outside the lock (a spawn costs a millisecond
        or two and nobody need wait for it), then record every handle in one commit. A commit that
        fails kills what was launched: no process runs that the store does not know."""
        if not launches:
            return
        results: list[tuple[LaunchRequest, Handle | None, Exception | None]] = []
        for req in launches:
            try:
                results.append((req, self.executor_of(self.jobs[req.job_id]).launch(req), None))
            except Exception as err:  # cannot spawn: the attempt fails with the reason, maybe retried
                results.append((req, None, err))
        with self.lock:
            try:
                with self.store.transaction():
                    for req, handle, err in results:
                        self._launched(self.jobs[req.job_id], handle, err)
            except sqlite3.Error as err:
                for req, handle, _ in results:
                    if handle is not None:
                        self.executor_of(self.jobs[req.job_id]).kill(handle)
                self._refused(err)
                return
            self._commit_events()

    def _launched(self, job: Job, handle: Handle | None, err: Exception | None) -> None:
        if handle is None:
            outcome = classify(exit_code=None, signal=None, stopping=None, spawn_error=str(err).splitlines()[0])
            self._end_attempt(job, outcome, self.clock(), None, None)
            return
        self.store.record_launch(job.id, job.attempt, handle)
        self.handles[job.id] = handle
        self._to_watch.add(job.id)
        if job.stopping:  # cancelled or timed out while it was starting
            self.executor_of(job).signal(handle, _signal.SIGTERM)

    def _signal_stop(self, job: Job, why: str, now: float) -> None:
        """SIGTERM now, SIGKILL at ``kill_at``; a job still starting gets its SIGTERM once launched."""
        if job.stopping or job.state is not JobState.RUNNING:
            return
        handle = self.handles.get(job.id)
        if handle is not None:
            self.executor_of(job).signal(handle, _signal.SIGTERM)
        self._save(job.evolve(stopping=why, kill_at=now + self.config.kill_grace), "stopping", why=why)

    def _settle(self, jid: int, status: ExitStatus | None, handle: Handle | None) -> None:
        """Record how an attempt ended: ``status`` None means no status was written (Lost, or we
        SIGKILLed the supervisor while stopping the job)."""
        job = self.jobs[jid]
        self.handles.pop(jid, None)
        # the status file's mtime is coarser than time.time(): never end before the start
        ended_at = max(status.ended_at, job.started_at or 0.0) if status and status.ended_at is not None \
            else self.clock()
        outcome = classify(exit_code=status.exit_code if status else None, signal=status.signal if status else None,
                           stopping=job.stopping, time_limit=job.time_limit, lost=status is None)
        if outcome.reason is not None and outcome.reason.kind == "ExitCode" and self.explain_exit is not None:
            told = self.explain_exit(jid, job.attempt)  # the job said why it failed: its words, not "exit 1"
            if told is not None:
                outcome = _replace(outcome, reason=told)
        self._end_attempt(job, outcome, ended_at, status.exit_code if status else None,
                          status.signal if status else None)

    def _end_attempt(self, job: Job, outcome: Outcome, ended_at: float, exit_code: int | None,
                     signal: int | None) -> None:
        self.store.end_attempt(job.id, job.attempt, ended_at=ended_at, exit_code=exit_code, signal=signal,
                               state=outcome.state, reason=outcome.reason)
        common = dict(allocated_gpus=(), stopping=None, kill_at=None, exit_code=exit_code, signal=signal)
        if should_retry(job, outcome):
            at = ended_at + retry_wait(job.retry, job.retry_count + 1)
            job = job.evolve(state=JobState.QUEUED, retry_at=at, retry_count=job.retry_count + 1,
                             reason=Reason("RetryBackoff", {"attempt": job.retry_count + 2, "of": job.retry.retries + 1,
                                                            "at": at}), **common)
        else:
            job = job.evolve(state=outcome.state, reason=outcome.reason, ended_at=ended_at, **common)
        self._save(job)
        self._dirty.add(job.id)
        self._dirty.update(self.dependents.get(job.id, ()))
        self._dirty.update(self._waiting_for_resources)  # its GPUs and slot are free again


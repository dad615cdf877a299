"""The scheduler's decision: a pure function of the jobs, the free resources and the clock.

``decide(snapshot)`` says what starts (with which GPUs), what is cancelled by the dependency
cascade, what times out, why each waiting job waits, and when to look again. It performs no I/O and
never sleeps, so every rule is tested by building a snapshot by hand (``tests/test_decide.py``).
The engine builds the snapshot from its mirror of the store and applies the decisions.

Ordering: runnable jobs start by priority (higher first), then by id (older first). A job that does
not fit (GPUs, group limit, slots) does not block smaller jobs behind it (no reservation yet).
Which GPUs are free (our jobs, memory used by others, shared mode) is ``gpualloc.GpuPool``'s rule.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Collection, Iterable, Mapping

from .depspec import DepSpec
from .evaluate import evaluate
from .gpualloc import GpuPool
from .gpumodel import DeviceUsage
from .model import DEPENDENCY, Group, Job, JobState, Reason
from .transitions import transition


@dataclass
class Snapshot:
    """What the decision looks at. ``jobs`` must hold every job a candidate depends on."""

    jobs: Mapping[int, Job]
    now: float
    specs: Mapping[int, DepSpec] = field(default_factory=dict)
    dependents: Mapping[int, Collection[int]] = field(default_factory=dict)
    running: Collection[int] = ()
    gpus: tuple[int, ...] = ()
    gpus_busy_elsewhere: frozenset[int] = frozenset()
    #: per device: total and used memory, and the measured memory of our jobs (from the sampler)
    gpu_usage: Mapping[int, DeviceUsage] = field(default_factory=dict)
    #: a device whose memory used by processes that are not ours reaches this is not free
    external_memory_threshold_mib: int = 1024
    groups: Mapping[str, Group] = field(default_factory=dict)
    max_running: int | None = None
    #: queued jobs whose executor keeps their dependency itself (Slurm's native ``--dependency``):
    #: startable (launched, to wait inside Slurm) once the engine found it expressible there
    native: Collection[int] = frozenset()
    #: executors that bring their own resources (Slurm): their jobs take no GPU or slot of this machine
    remote_executors: Collection[str] = frozenset()


@dataclass(frozen=True)
class Start:
    job_id: int
    gpus: tuple[int, ...]


@dataclass(frozen=True)
class Cancel:
    """A cascade cancellation; ``root`` is the job whose failure started the cascade (C5)."""

    job_id: int
    reason: Reason
    root: int


@dataclass
class Decisions:
    starts: list[Start] = field(default_factory=list)
    cancels: list[Cancel] = field(default_factory=list)
    timeouts: list[int] = field(default_factory=list)
    #: the reason each considered queued job is still waiting
    reasons: dict[int, Reason] = field(default_factory=dict)
    #: jobs whose dependencies are met but that wait for a resource; re-offer them when one frees
    waiting_for_resources: set[int] = field(default_factory=set)
    #: when to look at a waiting job again (its delay or retry back-off ends)
    timers: dict[int, float] = field(default_factory=dict)
    #: the earliest moment anything here changes (timers and running jobs' time limits)
    wake_at: float = math.inf

    def wake(self, at: float, job_id: int | None = None) -> None:
        self.wake_at = min(self.wake_at, at)
        if job_id is not None:
            self.timers[job_id] = at


def decide(snap: Snapshot, candidates: Iterable[int] | None = None) -> Decisions:
    """Decide for ``candidates`` (default: every queued job) at ``snap.now``."""
    out = Decisions()
    _time_out(snap, out)
    if candidates is None:
        candidates = [j.id for j in snap.jobs.values() if j.state is JobState.QUEUED]
    runnable = _check_dependencies(snap, candidates, out)
    _allocate(snap, runnable, out)
    return out


def _time_out(snap: Snapshot, out: Decisions) -> None:
    for jid in snap.running:
        job = snap.jobs[jid]
        if job.time_limit is None or job.stopping or job.started_at is None:
            continue
        deadline = job.started_at + job.time_limit
        if snap.now >= deadline:
            out.timeouts.append(jid)
        else:
            out.wake(deadline)


def _check_dependencies(snap: Snapshot, candidates: Iterable[int], out: Decisions) -> list[Job]:
    """Evaluate dependencies; cascade NEVER verdicts transitively within this one call (C1)."""
    cancelled: dict[int, Job] = {}
    roots: dict[int, int] = {}

    def lookup(jid: int) -> Job | None:
        return cancelled.get(jid) or snap.jobs.get(jid)

    runnable: dict[int, Job] = {}
    work = deque(sorted(set(candidates)))
    queued_in_work = set(work)
    while work:
        jid = work.popleft()
        queued_in_work.discard(jid)
        job = lookup(jid)
        if job is None or job.state is not JobState.QUEUED:
            continue  # held jobs are exempt from the cascade until released (C4)
        runnable.pop(jid, None)
        if job.retry_at is not None and snap.now < job.retry_at:
            out.reasons[jid] = Reason("RetryBackoff", {"attempt": job.retry_count + 1, "of": job.retry.retries + 1,
                                                       "at": job.retry_at})
            out.wake(job.retry_at, jid)
            continue
        verdict = evaluate(snap.specs.get(jid), lookup)
        if verdict.never:
            cond, _parent = verdict.failed[0]
            clause = f"{cond.type}:{cond.target}"
            if job.auto_cancel and not _group_paused(snap, job):
                reason = Reason("DependencyFailed", {"job": int(cond.target), "condition": clause})
                roots[jid] = roots.get(int(cond.target), int(cond.target))
                out.cancels.append(Cancel(jid, reason, roots[jid]))
                out.reasons.pop(jid, None)
                cancelled[jid] = transition(job, JobState.CANCELLED, cause="cascade", reason=reason, ended_at=snap.now)
                for child in sorted(snap.dependents.get(jid, ())):
                    if child not in queued_in_work:
                        work.append(child)
                        queued_in_work.add(child)
            else:
                out.reasons[jid] = Reason("DependencyNeverSatisfied", {"job": int(cond.target), "condition": clause})
        elif jid in snap.native:  # its executor waits for the parents: hand it over now
            runnable[jid] = job
        elif verdict.status != "ReadyAfter":
            out.reasons[jid] = DEPENDENCY
        elif verdict.ready_at > snap.now:
            out.reasons[jid] = Reason("DependencyReadyAfter", {"at": verdict.ready_at})
            out.wake(verdict.ready_at, jid)
        else:
            runnable[jid] = job
    return sorted(runnable.values(), key=lambda j: (-j.priority, j.id))


def _group_paused(snap: Snapshot, job: Job) -> bool:
    group = snap.groups.get(job.group) if job.group else None
    return bool(group and group.paused)


def _allocate(snap: Snapshot, runnable: list[Job], out: Decisions) -> None:
    running = [snap.jobs[j] for j in snap.running]
    remote = [j for j in running if j.executor in snap.remote_executors]
    running = [j for j in running if j.executor not in snap.remote_executors]
    pool = GpuPool.build(snap.gpus, running, snap.gpu_usage, snap.external_memory_threshold_mib,
                         snap.gpus_busy_elsewhere)
    per_group = Counter(j.group for j in running + remote if j.group)
    singletons = {(j.name, j.user) for j in running + remote}
    slots = math.inf if snap.max_running is None else snap.max_running - len(running)
    for job in runnable:
        group = snap.groups.get(job.group) if job.group else None
        spec = snap.specs.get(job.id)
        reason = None
        picked: tuple[int, ...] | None = ()
        if spec is not None and spec.singleton and (job.name, job.user) in singletons:
            reason = Reason("Singleton", {"name": job.name})
        elif group and group.paused:
            reason = Reason("GroupPaused", {"group": group.name})
        elif group and group.limit and per_group[group.name] >= group.limit:
            reason = Reason("GroupLimit", {"group": group.name, "limit": group.limit})
        elif job.executor in snap.remote_executors:
            pass  # its own cluster's resources: Slurm queues it
        elif slots <= 0:
            reason = Reason("Resources", {"resource": "Slots"})
        else:
            picked = pool.take(job)
            if picked is None:
                reason = Reason("Resources", {"resource": "GPU"})
        if reason is not None:
            out.reasons[job.id] = reason
            out.waiting_for_resources.add(job.id)
            continue
        out.starts.append(Start(job.id, picked))
        out.reasons.pop(job.id, None)
        if job.executor in snap.remote_executors:
            singletons.add((job.name, job.user))
            per_group[job.group] += 1 if job.group else 0
            continue
        slots -= 1
        singletons.add((job.name, job.user))
        if job.group:
            per_group[job.group] += 1

"""``JobService``'s hold, release and cancel, and the dry run's prediction of each dependent's
fate (the scheduler's own decision run on a what-if snapshot)."""

from __future__ import annotations

import getpass
from collections import ChainMap
from dataclasses import dataclass, field
from typing import Iterable

from ..core.decide import Snapshot, decide
from ..core.errors import Conflict, InvalidSpec
from ..core.model import DEPENDENCY, HELD_BY_USER, Job, JobState, Reason
from ..core.transitions import transition
from .locking import atomic


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


class ControlVerbs:
    """The control verbs of ``JobService`` (a mixin: ``service.py`` composes them)."""

    @atomic
    def hold(self, job_id: int) -> Job:
        job = self.get(job_id)
        if job.state is not JobState.QUEUED:
            raise Conflict(f"Job {job.id} is {job.state.value}; only queued jobs can be held")
        return self.engine.change(transition(job, JobState.HOLD, cause="hold", reason=HELD_BY_USER))

    @atomic
    def release(self, job_id: int) -> Job:
        self._accepting()
        job = self.get(job_id)
        if job.state is not JobState.HOLD:
            raise Conflict(f"Job {job.id} is {job.state.value}; only held jobs can be released")
        return self.engine.change(transition(job, JobState.QUEUED, cause="release", reason=DEPENDENCY))

    @atomic
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
            self.engine.change(transition(job, JobState.CANCELLED, cause="cancel", reason=Reason("CancelledByUser",
                               {"user": getpass.getuser()}), ended_at=self.clock()))

    def predict_cancel(self, ids: list[int]) -> list[Fate]:
        """Each transitive dependent's fate if ``ids`` were cancelled now, by the scheduler's own
        decision function run on a what-if snapshot (so the prediction cannot drift from the rule)."""
        now = self.clock()
        with self.engine.lock:
            jobs = self.engine.jobs
            what_if = {i: transition(jobs[i], JobState.CANCELLED, reason=Reason("CancelledByUser"), ended_at=now,
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
            view = ChainMap({c: transition(jobs[c], JobState.QUEUED, cause="release") for c in held}, view)
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

"""``JobService.explain``: every gate between a waiting job and its start, one line each."""

from __future__ import annotations

from ..core import depspec
from ..core.model import Group, Job, JobState
from ..core.timespec import format_duration


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


class ExplainVerbs:
    """The explain verbs of ``JobService`` (a mixin: ``service.py`` composes them)."""

    def explain(self, job_id: int) -> list[str]:
        """Every gate between a job and its start (``gjob explain``), one line each."""
        job = self.get(job_id)
        lines = [f"Job {job.id} ({job.name}) is {job.state.value}" + (f" ({job.reason})" if job.reason else "")]
        if job.state is JobState.RUNNING and job.slurm_job_id and job.started_at is None:
            why = job.reason.args.get("reason") if job.reason and job.reason.kind == "Slurm" else "-"
            lines.append(f"Handed to Slurm as job {job.slurm_job_id}; it has not started: Slurm's reason is {why}"
                         + (f" (it waits for its parents inside Slurm: {job.dependency})" if why == "Dependency" else ""))
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

"""``JobService``'s redo (a new job, or a new attempt in place, with ``--cascade`` the dependents
cancelled because of it) and update (fields and dependencies of a waiting job, cycles refused)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..core import depspec, limits
from ..core.depspec import DepSpec
from ..core.errors import Conflict, InvalidSpec
from ..core.model import DEPENDENCY, Job, JobState
from ..core.request import JobRequest, request_from_job
from ..core.transitions import transition
from .locking import atomic, submitting_atomic


class RedoVerbs:
    """The redo verbs of ``JobService`` (a mixin: ``service.py`` composes them)."""

    @submitting_atomic
    def redo(self, job_id: int, *, in_place: bool = False, cascade: bool = False,
             **overrides: Any) -> Job:
        """gflow's ``gjob redo`` (R1), or with ``in_place`` a new attempt of the same job (R2).
        ``cascade`` also brings back the dependents that were cancelled because of it (R3)."""
        self._accepting()
        job = self.get(job_id)
        if not job.state.terminal:
            raise Conflict(f"Job {job.id} is {job.state.value}; only a finished, failed, cancelled or timed-out "
                           f"job can be redone")
        if in_place:
            changes = self._overrides(job, overrides)
            new = self.engine.change(transition(job, JobState.QUEUED, cause="redo-in-place", reason=DEPENDENCY,
                                                ended_at=None, exit_code=None, signal=None, retry_at=None,
                                                retry_count=0, **changes),
                                     kind="redo")
            if cascade:
                self._revive_cancelled_dependents(job.id)
            return new
        new_id = self.submit_request(self._redo_request(job, overrides)).id
        if cascade:
            self._redo_cancelled_dependents(job.id, new_id)
        return self.engine.jobs[new_id]

    def _redo_request(self, job: Job, overrides: dict[str, Any]) -> JobRequest:
        """A copy of ``job``'s request with the fields redo may change (those ``_overrides`` knows)."""
        self._overrides(job, overrides)  # the same checks and messages as update
        return request_from_job(job, **{k: v for k, v in overrides.items() if v is not None})

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
                self.engine.change(transition(child, JobState.QUEUED, cause="revive", reason=DEPENDENCY, ended_at=None),
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
            new_child = self.submit_request(request_from_job(child, dependency=rewired))
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

    @atomic
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

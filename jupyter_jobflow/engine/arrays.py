"""Job arrays for ``JobService``: ids reserved at once, tasks stored in short batches (whole or
not at all), a dependency on an array expanded to its tasks, and ``aftercorr`` paired per index."""

from __future__ import annotations

import contextlib
import dataclasses
import time

from ..core import depspec
from ..core.depspec import DepSpec
from ..core.errors import InvalidSpec
from ..core.evaluate import evaluate
from ..core.model import DEPENDENCY, Group, Job, JobState
from ..core.transitions import initial

#: array tasks added to the engine's mirror per lock hold
ADD_BATCH = 100


ARRAY_WAIT = 60.0  # seconds a submission waits for an array it depends on to be stored whole


YIELD_EVERY = 100  # tasks an array builds between two offers of the GIL to other threads


STORE_BATCH = 200  # an array's tasks stored per transaction (a few milliseconds each)


def _edges(spec: DepSpec) -> list[tuple[int, str, int]]:
    return [(c.target, c.type, c.delay) for c in spec.conditions]


def _with_conditions(spec: DepSpec, conditions: list[depspec.Condition]) -> DepSpec:
    """``spec`` with these conditions, each target once (a task named on its own as well as
    through its array: its first mention)."""
    unique: dict[int | str, depspec.Condition] = {}
    for c in conditions:
        unique.setdefault(c.target, c)
    return DepSpec(spec.op, tuple(unique.values()), spec.singleton, source=spec.source)


class ArrayVerbs:
    """The arrays verbs of ``JobService`` (a mixin: ``service.py`` composes them)."""

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
        task = initial(task, JobState.QUEUED, cause="array-task", reason=DEPENDENCY, ended_at=None)
        verdict = evaluate(spec, self.engine.jobs.get)
        return self._never_at_submit(task, verdict)[0] if verdict.never else task

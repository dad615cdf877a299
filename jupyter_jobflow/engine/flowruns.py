"""``JobService``'s verbs on existing runs: resume (R4-R7), run one task alone (F9), and the
watcher that judges trigger rules (F7) and publishes the ``runs`` events.

Trigger rules the dependency grammar cannot say (``none_failed``, ``one_done``, ...) are held
tasks (reason ``Trigger:<rule>``) whose dependency is ``afterany`` on their parents; when that is
met, the watcher judges the rule on the parents' task states and releases the task, or cancels it
with reason ``Skipped`` (shown as the task state ``Skipped``). No scheduler change: the watcher is
a subscriber to the engine's events, working in its own thread.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import os
import threading
from typing import Any, Callable

from ..core.errors import Conflict, InvalidSpec, JobflowError, NotFound
from ..core.evaluate import evaluate
from ..core.flowdef import FlowDef
from ..core.model import JobState, Reason
from ..core.resume import plan_resume
from ..core.templates import Template
from ..core.templating import run_variables
from ..core.transitions import transition
from . import flowstore, flowtasks
from .flows import FlowVerbs, _status, make_run_id, snapshot_templates, task_state
from .flowstore import RunRow

log = logging.getLogger("jupyter_jobflow")
RUNS_EVENT_GAP = 0.2  # seconds between two ``runs`` events of the watcher (a few per second at most)


class FlowRunVerbs(FlowVerbs):
    """Resume, run-task and the run watcher (a mixin: ``service.py`` composes it)."""

    # -- resume -----------------------------------------------------------------------------
    def resume_run(self, run_id: str, *, from_task: str | None = None, only: str | None = None,
                   as_new_run: bool = False) -> dict[str, Any]:
        """Re-queue in place what failed and what depends on it (or ``from_task`` and its
        descendants, or ``only`` one task); finished tasks and their ``--out`` stay. With
        ``as_new_run``: a new run of the same snapshot, finished tasks copied as memoized."""
        row = flowstore.get_run(self.store, run_id)
        flow = self._flowdef(row)
        jobs = self._run_tasks(row)
        hashes = row.snapshot.get("hashes", {})
        try:
            now_def = flowstore.get_flow(self.store, row.owner, row.flow).definition
            now_hashes = {n: now_def.task_hash(n) for n in now_def.names}
        except NotFound:  # W7 needs the flow as it is now; without it, no drift to report
            now_hashes = {}
        states = {n: _status(j, hashes.get(n)) for n, j in jobs.items()}
        plan = plan_resume(flow.graph(), states, run_id=run_id, flow=row.flow, from_task=from_task, only=only,
                           as_new_run=as_new_run, hashes=now_hashes)
        warnings = list(plan.warnings)
        if as_new_run:
            memo = {n: jobs[n] for n in plan.keep if jobs[n] is not None and jobs[n].state is JobState.FINISHED}
            snapshot = {k: row.snapshot[k] for k in ("definition", "flow_version", "templates")}
            new = self._start_run(row.flow_id, row.owner, snapshot, row.snapshot.get("params", {}),
                                  run_type=row.run_type if row.run_type != "debug" else "manual",
                                  cwd=row.snapshot.get("cwd"), source_run=run_id, memo=memo)
            return {**new, "warnings": warnings + new["warnings"]}
        with self._submit_lock, self.engine.lock:  # parents first, and nothing starts before all are queued
            flowstore.set_cancelled(self.store, run_id, False)
            for name in flowtasks.topo_order(flow):
                job = jobs[name]
                if name not in plan.requeue or job is None:
                    continue
                job = self.redo(job.id, in_place=True)
                rule = flow.task(name).trigger
                if rule in flowtasks.JUDGED:
                    self.engine.change(transition(job, JobState.HOLD, cause="hold",
                                                  reason=Reason("Trigger", {"rule": rule})))
        self._run_changed(run_id)
        return {**self.run(run_id), "warnings": warnings}

    # -- one task alone ---------------------------------------------------------------------
    def run_task(self, name: str, task: str, *, run: str | None = None, owner: str | None = None,
                 cwd: str | None = None) -> dict[str, Any]:
        """A ``debug`` run of one task with the inputs and template values of run ``run``
        (default: the flow's latest Finished run); that run never changes (F9)."""
        owner = self._owner(owner)
        stored = flowstore.get_flow(self.store, owner, name)
        ref = self._reference_run(owner, name, run)
        if ref is not None:
            flow, snap = self._flowdef(ref), ref.snapshot
            flow.task(task)
            templates = _templates(snap)
            texts = {task: snap["texts"][task]}
            job_of = {t: j.id for t, j in self._run_tasks(ref).items() if j is not None}
            one = flow.task(task)
            from_jobs = flowtasks.inputs_from(one, flow, job_of) if one.cell is not None else {}
            base = {k: snap[k] for k in ("flow_version", "params", "variables") if k in snap}
            flow_id = ref.flow_id
        else:
            flow = stored.definition
            one = flow.task(task)
            if one.inputs:
                raise Conflict(f'Task "{task}" reads --in {", ".join(one.inputs)} from other tasks, and flow "{name}" '
                               f"has no finished run to take them from; run the flow first, or give --run RUN")
            snap = self._snapshot(stored, flowstore.template_versions(self.store))
            templates = _templates(snap)
            values = run_variables(run_id="(debug)", run_type="debug", flow_name=name, flow_id=stored.id,
                                   created=_dt.datetime.fromtimestamp(self.clock()), creator=owner, runner=owner)
            texts = {task: flowtasks.render(flow, templates, values, {})[0][task]}
            from_jobs, base, flow_id = {}, {"flow_version": stored.version}, stored.id
        single = dataclasses.replace(one, depends="", trigger=None)
        debug = FlowDef(flow.name, (single,), flow.preamble, flow.params, flow.description, "stored")
        now = self.clock()
        run_id = make_run_id(name, "debug", now)
        snapshot = {**base, "definition": debug.to_dict(),
                    "templates": {task: snap["templates"][task]} if task in snap.get("templates", {}) else {},
                    "texts": texts, "hashes": {task: debug.task_hash(task)}, "cwd": cwd or snap.get("cwd") or
                    os.getcwd(), "warnings": []}
        row = RunRow(run_id, flow_id, owner, name, "debug", False, now, ref.run_id if ref else None, snapshot)
        self._create_jobs(row, debug, {k: v for k, v in templates.items() if k == task}, [task], {}, from_jobs=from_jobs)
        return {**self.run(run_id), "message": f"Started run {run_id} of flow {name}", "warnings": []}

    def _reference_run(self, owner: str, name: str, run: str | None) -> RunRow | None:
        if run is not None:
            row = flowstore.get_run(self.store, run)
            if row.owner != owner or row.flow != name:
                raise InvalidSpec(f"Run {run} is a run of flow {row.flow} of user {row.owner}, not of flow {name}")
            return row
        for row in flowstore.list_runs(self.store, owner, name):
            if row.run_type != "debug" and self._run_json(row, tasks=False)["state"] == "Finished":
                return row
        return None

    # -- the watcher ------------------------------------------------------------------------
    def _start_flows(self) -> None:
        self._run_listeners: list[Callable[[dict[str, Any]], None]] = getattr(self, "_run_listeners", [])
        self._changed_runs: set[str] = set()
        self._runs_wake = threading.Condition()
        self._runs_stop = False
        held = {j.run_id for j in self.engine.jobs.values() if j.run_id and j.state is JobState.HOLD}
        self._changed_runs.update(held)  # parents may have ended while the host was down
        self._unsubscribe_runs = self.engine.subscribe(self._on_event)
        self._runs_thread = threading.Thread(target=self._watch_runs, name="jobflow-runs", daemon=True)
        self._runs_thread.start()

    def _stop_flows(self) -> None:
        if getattr(self, "_runs_thread", None) is None:
            return
        self._unsubscribe_runs()
        with self._runs_wake:
            self._runs_stop = True
            self._runs_wake.notify()
        self._runs_thread.join(5)
        self._runs_thread = None

    def subscribe_runs(self, fn: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``fn(run summary)`` after changes to a run's jobs (from the watcher's thread)."""
        listeners = self.__dict__.setdefault("_run_listeners", [])
        listeners.append(fn)
        return lambda: listeners.remove(fn) if fn in listeners else None

    def _on_event(self, event: dict[str, Any]) -> None:
        run_id = (event.get("job") or {}).get("run_id")
        if run_id:
            self._run_changed(run_id)

    def _run_changed(self, run_id: str) -> None:
        wake = getattr(self, "_runs_wake", None)
        if wake is None:
            return
        with wake:
            self._changed_runs.add(run_id)
            wake.notify()

    def _watch_runs(self) -> None:
        while True:
            with self._runs_wake:
                while not self._changed_runs and not self._runs_stop:
                    self._runs_wake.wait()
                if self._runs_stop:
                    return
                runs, self._changed_runs = self._changed_runs, set()
            for run_id in sorted(runs):
                try:
                    self._judge_triggers(run_id)
                    if self._run_listeners:
                        summary = self._run_json(flowstore.get_run(self.store, run_id), tasks=False)
                        for fn in list(self._run_listeners):
                            fn(summary)
                except JobflowError:
                    pass  # a run purged meanwhile
                except Exception:  # the watcher must outlive a bad run
                    log.exception("jobflow: watching run %s failed", run_id)
            with self._runs_wake:  # a few events per second per run at most
                self._runs_wake.wait_for(lambda: self._runs_stop, RUNS_EVENT_GAP if self._run_listeners else 0)

    def _judge_triggers(self, run_id: str) -> None:
        with self.engine.lock:
            row = flowstore.get_run(self.store, run_id)
            for name, job in self._run_tasks(row).items():
                if job is None or job.state is not JobState.HOLD or job.reason is None or job.reason.kind != "Trigger":
                    continue
                spec = self.engine.specs.get(job.id)
                verdict = evaluate(spec, self.engine.jobs.get)
                if spec is not None and verdict.status != "ReadyAfter":
                    continue  # afterany: met once the parents it needs are done
                parents = [task_state(self.engine.jobs.get(p)) for p in (spec.job_ids() if spec else ())]
                decision = flowtasks.judge(job.reason.args["rule"], parents)
                if decision == "run":
                    self.release(job.id)
                elif decision == "skip":
                    self.engine.change(transition(job, JobState.CANCELLED, cause="skip", ended_at=self.clock(),
                                                  reason=Reason("Skipped", {"rule": job.reason.args["rule"]})))


def _templates(snapshot: dict[str, Any]) -> dict[str, Template]:
    return snapshot_templates(snapshot)

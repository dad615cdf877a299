"""``JobService``'s flow verbs: flows and templates stored, runs created, shown, listed, cancelled.

A run (F2-F4) snapshots the flow version and every template version it uses, by value; its
template variables are rendered once, here (V3); each task becomes one job, checked as ``submit``
checks it and stored with the others at once (``submit_many``), labelled with the run id and the
task name. The whole run is one store transaction under the submit and engine locks, so a host
killed while creating it leaves all of it or none, and the scheduler starts nothing before it is
whole. Everything that aggregates a run
selects its jobs by run id (the run key's unique part), never by template or task name (F3).

Resume, run-task, trigger rules and the ``runs`` events are in flowruns.py (``_run_changed``).
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import os
import uuid
from typing import Any, Mapping

from ..core.errors import Conflict, InvalidSpec, NotFound
from ..core.flowdef import FlowDef
from ..core.flowsources import from_notebook, from_yaml
from ..core.model import Job, JobState, Reason
from ..core.resume import TaskStatus, run_state
from ..core.templates import Template, check_params, parse_template, resolve
from ..core.templating import run_variables
from ..core.transitions import initial
from . import cellvars, flowstore, flowtasks
from .flowstore import RunRow

RUN_TYPES = ("manual", "scheduled", "backfill", "debug")
FORMATS = ("yaml", "ipynb", "json")


def make_run_id(flow: str, run_type: str, now: float) -> str:
    """``<flow>__<run_type>__<timestamp>__<short uuid>``: unique alone (C-1)."""
    stamp = _dt.datetime.fromtimestamp(now).strftime("%Y%m%dT%H%M%S")
    return f"{flow}__{run_type}__{stamp}__{uuid.uuid4().hex[:8]}"


def task_state(job: Job | None) -> str:
    if job is None:
        return "Lost"
    if job.state is JobState.CANCELLED and job.reason is not None and job.reason.kind == "Skipped":
        return "Skipped"
    return job.state.value


def _status(job: Job | None, source_hash: str | None) -> TaskStatus:
    state = task_state(job)
    upstream = state == "Cancelled" and job is not None and job.reason is not None and \
        job.reason.kind == "DependencyFailed"
    return TaskStatus("Failed" if state == "Lost" else state, upstream, source_hash)


def snapshot_templates(snapshot: Mapping[str, Any]) -> dict[str, Template]:
    """Task name -> the template version a run snapshotted for it (by value)."""
    return {k: Template.from_dict({f: v for f, v in t.items() if f not in ("version", "hash")}, t["version"])
            for k, t in snapshot.get("templates", {}).items()}


class FlowVerbs:
    """The flow verbs of ``JobService`` (a mixin: ``service.py`` composes them)."""

    def _owner(self, owner: str | None) -> str:
        return owner or getpass.getuser()

    # -- definitions ------------------------------------------------------------------------
    def compile_flow(self, name: str, source: str, fmt: str = "yaml") -> FlowDef:
        """A flow from its YAML, notebook or JSON (``FlowDef.to_dict``) text; templates checked."""
        versions = flowstore.template_versions(self.store)
        if fmt == "yaml":
            return from_yaml(name, source, templates=versions)
        if fmt == "ipynb":
            return from_notebook(name, source, templates=versions)
        if fmt == "json":
            try:
                data = json.loads(source)
                flow = FlowDef.from_dict({**data, "name": name}, "python")
            except (ValueError, TypeError, KeyError) as err:
                raise InvalidSpec(f"The flow's JSON is not a flow definition ({type(err).__name__}: {err})") from None
            from ..core.flowdef import finish

            return finish(name, list(flow.tasks), preamble=flow.preamble, params=flow.params,
                          description=flow.description, origin="python", templates=versions)
        raise InvalidSpec(f'Unknown flow format "{fmt}": expected one of {", ".join(FORMATS)}')

    def save_flow(self, name: str, source: str, fmt: str = "yaml", *, owner: str | None = None) -> dict[str, Any]:
        """Create or update a flow: ``{"name", "owner", "version", "created"}`` (same content: same version)."""
        flow = self.compile_flow(name, source, fmt)
        stored, created = flowstore.save_flow(self.store, self._owner(owner), flow, self.clock())
        return {"name": stored.name, "owner": stored.owner, "version": stored.version, "created": created}

    def flows(self, *, owner: str | None = None) -> list[dict[str, Any]]:
        return flowstore.list_flows(self.store, self._owner(owner))

    def flow(self, name: str, *, owner: str | None = None) -> dict[str, Any]:
        stored = flowstore.get_flow(self.store, self._owner(owner), name)
        return {"name": stored.name, "owner": stored.owner, "version": stored.version,
                "definition": stored.definition.to_dict()}

    def add_template(self, name: str, source: str | Mapping[str, Any], *, owner: str | None = None) -> dict[str, Any]:
        template = parse_template(name, source)
        version, created = flowstore.save_template(self.store, self._owner(owner), template, self.clock())
        return {"name": name, "version": version, "created": created}

    def templates(self) -> list[dict[str, Any]]:
        return flowstore.list_templates(self.store)

    def remove_template(self, name: str, *, force: bool = False) -> dict[str, Any]:
        """Delete a template, every version; refused while an active run uses it, unless ``force``
        (F2: a run keeps its snapshot either way, so forcing changes no run)."""
        users: dict[str, int] = {}  # active run -> the version it snapshotted
        for run_id in sorted({j.run_id for j in list(self.engine.jobs.values()) if j.run_id and not j.state.terminal}):
            used = [t["version"] for t in flowstore.get_run(self.store, run_id).snapshot.get("templates", {}).values()
                    if t.get("name") == name]
            if used:
                users[run_id] = max(used)
        if users and not force:
            versions = ", ".join(f"v{v}" for v in sorted(set(users.values())))
            raise Conflict(f'Template "{name}" ({versions}) is used by active runs {", ".join(users)}; '
                           f"cancel them or use --force")
        return {"name": name, "versions": flowstore.remove_template(self.store, name), "active_runs": list(users)}

    # -- runs -------------------------------------------------------------------------------
    def create_run(self, name: str, params: Mapping[str, Any] | None = None, *, owner: str | None = None,
                   dry_run: bool = False, cwd: str | None = None, run_type: str = "manual") -> dict[str, Any]:
        """Start a run of the latest version of flow ``name`` (or, ``dry_run``, its plan)."""
        owner = self._owner(owner)
        stored = flowstore.get_flow(self.store, owner, name)
        snapshot = self._snapshot(stored, flowstore.template_versions(self.store))
        return self._start_run(stored.id, owner, snapshot, dict(params or {}), run_type=run_type,
                               cwd=cwd, dry_run=dry_run)

    def _snapshot(self, stored: Any, versions: Mapping[str, Mapping[int, Template]]) -> dict[str, Any]:
        """The definition and every template version it uses, by value (F2)."""
        used = {}
        for task in stored.definition.tasks:
            if task.template is not None:
                t = resolve(task.template, versions)
                used[task.name] = {**t.to_dict(), "version": t.version, "hash": t.hash}
        return {"definition": stored.definition.to_dict(), "flow_version": stored.version, "templates": used}

    def _start_run(self, flow_id: int, owner: str, snapshot: dict[str, Any], params: dict[str, Any], *,
                   run_type: str, cwd: str | None, dry_run: bool = False, source_run: str | None = None,
                   memo: Mapping[str, Job] | None = None, run_id: str | None = None,
                   tick: Mapping[str, Any] | None = None) -> dict[str, Any]:
        flow = FlowDef.from_dict(snapshot["definition"])
        templates = snapshot_templates(snapshot)
        for task_name, template in templates.items():  # params checked again against the snapshot
            template.values(flow.task(task_name).params, task_name)
        values_ = check_params(flow.params, params, f'of flow "{flow.name}"')
        now = self.clock()
        run_id = run_id or make_run_id(flow.name, run_type, now)
        tick = tick or {}  # a scheduled or backfill run (schedules.py): its tick's variables and row fields
        values = run_variables(run_id=run_id, run_type=run_type, flow_name=flow.name, flow_id=flow_id,
                               created=_dt.datetime.fromtimestamp(now), creator=owner, runner=owner, params=values_,
                               **tick.get("variables", {}))
        texts, warnings = flowtasks.render(flow, templates, values, values_)
        order = flowtasks.topo_order(flow)
        if dry_run:
            return {"plan": [{"task": n, "command": texts[n], "depends": flow.task(n).depends,
                              "starts_at_once": not flow.task(n).depends and n not in (memo or {})} for n in order],
                    "warnings": warnings}
        snapshot = {**snapshot, "params": values_, "cwd": cwd or os.getcwd(), "texts": texts,
                    "hashes": {t.name: flow.task_hash(t.name) for t in flow.tasks}, "warnings": warnings,
                    "variables": {k: str(v) for k, v in values.items() if k != "params"}}
        row = RunRow(run_id, flow_id, owner, flow.name, run_type, False, now, source_run, snapshot, **tick.get("row", {}))
        self._create_jobs(row, flow, templates, order, memo or {})
        return {**self.run(run_id), "message": f"Started run {run_id} of flow {flow.name}", "warnings": warnings}

    def _create_jobs(self, row: RunRow, flow: FlowDef, templates: Mapping[str, Template], order: list[str],
                     memo: Mapping[str, Job], from_jobs: Mapping[str, int] | None = None) -> None:
        """Every job of the run, in one transaction (all or none), parents first."""
        self._accepting()
        vars_dir = str(self.state_dir / "vars")
        snap = row.snapshot
        with self._submit_lock, self.engine.lock:
            try:
                with self.store.transaction():
                    flowstore.insert_run(self.store, row)
                    job_of: dict[str, int] = {}
                    for name in order:  # copied as Finished: no dependency, stored first
                        if name in memo:
                            job_of[name] = self._memoized(row, name, memo[name], vars_dir)
                    todo = [name for name in order if name not in memo]
                    first = self.store.max_job_id() + 1  # the batch's ids, parents first (submit_many)
                    job_of.update({name: first + k for k, name in enumerate(todo)})
                    requests = [flowtasks.request(flow, flow.task(name), snap["texts"][name], templates.get(name),
                                                  run_id=row.run_id, owner=row.owner, cwd=snap["cwd"],
                                                  vars_dir=vars_dir, job_of=job_of, from_jobs=from_jobs,
                                                  with_depends=from_jobs is None) for name in todo]
                    # a trigger rule: held, judged when its parents are done (flowruns.py)
                    self.submit_many(requests, first, {k: Reason("Trigger", {"rule": flow.task(name).trigger})
                                                       for k, name in enumerate(todo) if requests[k].hold})
            except BaseException:
                self.engine._load()  # the store rolled back: it is the truth again
                self.engine.wake()
                raise
        self._run_changed(row.run_id)

    def _memoized(self, row: RunRow, name: str, old: Job, vars_dir: str) -> int:
        """A task copied from another run as Finished at once, with its outputs, and no process (R4)."""
        now = self.clock()
        job = initial(Job(id=0, name=old.name, command=old.command, cwd=old.cwd, env=dict(old.env), user=row.owner,
                          scope=f"run:{row.run_id}", submitted_at=now, run_id=row.run_id, task=name),
                      JobState.FINISHED, cause="memoized", exit_code=0, first_started_at=now, started_at=now,
                      ended_at=now, reason=Reason("Memoized", {"run": old.run_id, "job": old.id}))
        job = job.evolve(id=self.store.insert_job(job, []))
        attempt = cellvars.current_attempt(vars_dir, old.id)
        files = cellvars.output_files(vars_dir, old.id, attempt) if attempt else {}
        if files:
            cellvars.save_outputs(vars_dir, job.id, 1, {n: p.read_bytes() for n, p in files.items()})
        self.engine.add_many([job], None)
        return job.id

    def _run_tasks(self, row: RunRow) -> dict[str, Job | None]:
        """Task name -> its job in this run (the newest, should a task have two)."""
        jobs = {task: self.engine.jobs.get(jid) for task, jid in flowstore.run_jobs(self.store, row.run_id)}
        return {t.name: jobs.get(t.name) for t in self._flowdef(row).tasks}

    def _flowdef(self, row: RunRow) -> FlowDef:
        cache = self.__dict__.setdefault("_flowdefs", {})
        if row.run_id not in cache:
            cache[row.run_id] = FlowDef.from_dict(row.snapshot["definition"])
        return cache[row.run_id]

    def run(self, run_id: str, *, tasks: bool = True) -> dict[str, Any]:
        """One run: its derived state (F4) and, with ``tasks``, its task table."""
        row = flowstore.get_run(self.store, run_id)
        return self._run_json(row, tasks=tasks)

    def _run_json(self, row: RunRow, *, tasks: bool = True) -> dict[str, Any]:
        flow = self._flowdef(row)
        jobs = self._run_tasks(row)
        hashes = row.snapshot.get("hashes", {})
        state, reason = run_state({n: _status(j, hashes.get(n)) for n, j in jobs.items()}, cancelled=row.cancelled)
        known = [j for j in jobs.values() if j is not None]
        if state == "Running" and not any(j.attempt or j.state.terminal or j.state is JobState.RUNNING for j in known):
            state = "Queued"  # nothing started yet
        started = [j.first_started_at for j in known if j.first_started_at is not None]
        ended = max((j.ended_at or 0 for j in known), default=None) if state not in ("Running", "Queued") else None
        out: dict[str, Any] = {"run_id": row.run_id, "flow": row.flow, "owner": row.owner, "run_type": row.run_type,
                               "state": state, "reason": reason, "created_at": row.created_at,
                               "started_at": min(started) if started else None, "ended_at": ended or None,
                               "source_run": row.source_run}
        if not tasks:
            return {**out, "tasks": len(jobs)}
        out["tasks"] = [{"name": t.name, "state": task_state(jobs[t.name]), "job_id": jobs[t.name].id if jobs[t.name] else None,
                         "reason": str(jobs[t.name].reason) if jobs[t.name] and jobs[t.name].reason else None,
                         "attempts": jobs[t.name].attempt if jobs[t.name] else 0, "depends": t.depends,
                         "parents": list(t.parents), "trigger": t.trigger,
                         "started_at": jobs[t.name].first_started_at if jobs[t.name] else None,
                         "ended_at": jobs[t.name].ended_at if jobs[t.name] else None} for t in flow.tasks]
        return out

    def runs(self, flow: str | None = None, *, owner: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """An owner's runs, newest first (of one flow, or all)."""
        return [self._run_json(r, tasks=False) for r in flowstore.list_runs(self.store, self._owner(owner), flow, limit)]

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        """Cancel every active task of the run; the run is ``Cancelled`` (F4)."""
        row = flowstore.get_run(self.store, run_id)
        flowstore.set_cancelled(self.store, run_id, True)
        active = [j.id for j in self._run_tasks(row).values() if j is not None and not j.state.terminal]
        if active:
            self.cancel(active)
        self._run_changed(run_id)
        return self.run(run_id)

    def run_log(self, run_id: str, *, task: str | None = None, offset: int = 0) -> dict[str, Any]:
        """Every task's log, attempt by attempt in the order they started, each line prefixed
        ``[task attempt] `` (G4); ``offset`` is a character offset into that text."""
        row = flowstore.get_run(self.store, run_id)
        jobs = self._run_tasks(row)
        if task is not None:
            self._flowdef(row).task(task)  # an unknown task: one line with did-you-mean
        pieces = []
        for name, job in jobs.items():
            if job is None or (task is not None and name != task):
                continue
            for a in self.store.attempts(job.id):
                try:
                    data, _ = self.executor.read_log(job.id, a.attempt, 0, 16 << 20)
                except NotFound:  # an attempt that has just started: its log file comes a moment later
                    continue
                lines = data.decode("utf-8", "replace").splitlines()
                pieces.append((a.started_at, job.id, a.attempt, "".join(f"[{name} {a.attempt}] {ln}\n" for ln in lines)))
        text = "".join(p[3] for p in sorted(pieces, key=lambda p: p[:3]))
        return {"text": text[offset:], "next_offset": len(text)}

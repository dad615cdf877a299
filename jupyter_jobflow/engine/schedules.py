"""``JobService``'s schedule verbs (docs/schedules.md): a flow's schedule set and shown, the
schedules listed, a backfill planned or created (P4), a run marked successful (P5's override),
and the runs without jobs (waiting, skipped) shown like any run, with their tick.

The tick loop is ticker.py; the rules are core/schedule.py (ticks, P9) and core/schedgate.py.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..core.errors import Conflict, InvalidSpec, NotFound
from ..core.schedgate import REPROCESS, plan_backfill
from ..core.schedule import MAX_COUNT, Schedule, iso, next_tick, normalise_cron, parse_time, ticks_after, ticks_between, validate
from . import flowstore, schedstore
from .flowruns import FlowRunVerbs
from .flows import make_run_id
from .flowstore import RunRow
from .ticker import TickLoop

MAX_BACKFILL_TICKS = 10_000
NEXT_TICKS = 5  # the schedule's reply shows so many upcoming ticks
LATEST = 221845392000.0  # 8999-12-31: croniter and datetime stop at year 9999
_NO_JOBS = {"waiting": "Queued", "skipped": "Skipped", "cancelled": "Cancelled", "failed": "Failed"}


class ScheduleVerbs(TickLoop, FlowRunVerbs):
    """Schedules, backfills, mark-success (a mixin: ``service.py`` composes it)."""

    # -- a flow's schedule -------------------------------------------------------------------
    def set_schedule(self, name: str, *, cron: str | None = None, tz: str | None = None, start: Any = None,
                     end: Any = None, catchup: bool | None = None, depends_on_past: bool | None = None,
                     max_active_runs: int | None = None, expired_limit: int | None = None,
                     enabled: bool | None = None, cwd: str | None = None, owner: str | None = None) -> dict[str, Any]:
        """Create or change flow ``name``'s schedule; what is not given stays. Times: ISO 8601
        (a wall time of the schedule's zone without an offset) or POSIX seconds. A new cron
        expression or zone moves the start to now unless ``start`` is given (C-4)."""
        owner = self._owner(owner)
        flowstore.get_flow(self.store, owner, name)  # one line with did-you-mean when unknown
        now = self.clock()
        old = schedstore.get_schedule(self.store, owner, name)
        if old is None and cron is None:
            raise InvalidSpec(f"Flow {name} has no schedule yet; give one with: gpipe schedule {name} --cron EXPR")
        cur = schedstore.to_schedule(old) if old is not None else Schedule(cron or "", tz or "UTC", None)
        zone_name = tz if tz is not None else cur.tz
        first = _time(start, zone_name, "--start") if start not in (None, "") else None
        last = _time(end, zone_name, "--end") if end not in (None, "") else cur.end
        cron_n = normalise_cron(cron) if cron is not None else None
        moved = old is None or (cron_n is not None and cron_n != old["cron"]) or (tz is not None and tz != old["tz"])
        if first is None:
            first = cur.start if not moved else (None if catchup else now)
        new = validate(Schedule(cron if cron is not None else cur.cron, zone_name, first, last,
                                cur.catchup if catchup is None else bool(catchup),
                                cur.depends_on_past if depends_on_past is None else bool(depends_on_past),
                                cur.max_active_runs if max_active_runs is None else int(max_active_runs),
                                cur.expired_limit if expired_limit is None else int(expired_limit),
                                cur.enabled if enabled is None else bool(enabled)),
                       min_interval=self.schedule_min_interval)
        if moved or new.start != cur.start:
            cursor = self._first_cursor(new)
        elif old["next_tick"] is None and new.end != cur.end and cur.end is not None:  # an ended schedule extended
            cursor = self._first_cursor(Schedule(new.cron, new.tz, next_tick(new.cron, new.tz, cur.end), new.end))
        else:
            cursor = old["next_tick"]
        if new.catchup and cursor is not None and cursor <= now:
            try:
                ticks_between(new.cron, new.tz, cursor, now, limit=MAX_BACKFILL_TICKS)
            except InvalidSpec:
                raise InvalidSpec(f"Catching up from {iso(cursor, new.tz)} would create more than {MAX_BACKFILL_TICKS} "
                                  f"runs; give a later --start, or fill the past with gpipe backfill") from None
        with self.store.transaction():
            schedstore.save_schedule(self.store, owner, name, new, cursor, cwd, now)
        self._tick_poke()
        return self._schedule_json(schedstore.get_schedule(self.store, owner, name))

    def _first_cursor(self, s: Schedule) -> float | None:
        t = next_tick(s.cron, s.tz, s.start, inclusive=True)  # P1: the start itself counts
        return None if s.end is not None and t > s.end else t

    def schedule(self, name: str, *, owner: str | None = None) -> dict[str, Any]:
        owner = self._owner(owner)
        row = schedstore.get_schedule(self.store, owner, name)
        if row is None:
            flowstore.get_flow(self.store, owner, name)
            raise NotFound(f"Flow {name} has no schedule; give it one with: gpipe schedule {name} --cron EXPR")
        return self._schedule_json(row)

    def schedules(self, *, owner: str | None = None) -> list[dict[str, Any]]:
        return [self._schedule_json(r) for r in schedstore.list_schedules(self.store, self._owner(owner))]

    def _schedule_json(self, r: Any) -> dict[str, Any]:
        tz = r["tz"]
        return {"flow": r["flow"], "owner": r["owner"], "cron": r["cron"], "tz": tz, "enabled": bool(r["enabled"]),
                "next_tick": iso(r["next_tick"], tz), "start": iso(r["start_at"], tz), "end": iso(r["end_at"], tz),
                "catchup": bool(r["catchup"]), "depends_on_past": bool(r["depends_on_past"]),
                "max_active_runs": r["max_active_runs"], "expired_limit": r["expired_limit"],
                "next_ticks": [iso(t, tz) for t in _upcoming(r["cron"], tz, r["next_tick"], r["end_at"])]}

    # -- backfill (P4) -----------------------------------------------------------------------
    def backfill(self, name: str, start: Any, end: Any, *, reprocess: str = "none", max_active_runs: int | None = None,
                 run_backwards: bool = False, dry_run: bool = False, owner: str | None = None) -> dict[str, Any]:
        """``backfill`` runs for the ticks in ``[start, end]`` (never after now): ``ticks`` is each
        tick with its action; ``run_ids`` the runs created (none with ``dry_run``)."""
        owner = self._owner(owner)
        row = schedstore.get_schedule(self.store, owner, name)
        if row is None:
            flowstore.get_flow(self.store, owner, name)
            raise InvalidSpec(f"Flow {name} has no schedule, so no ticks to backfill; give it one with: "
                              f"gpipe schedule {name} --cron EXPR --disable")
        if reprocess not in REPROCESS:
            raise InvalidSpec(f'Unknown --reprocess "{reprocess}": expected one of {", ".join(REPROCESS)}')
        s = schedstore.to_schedule(row)
        limit = s.max_active_runs if max_active_runs is None else int(max_active_runs)
        if not 1 <= limit <= MAX_COUNT:
            raise InvalidSpec(f"max_active_runs must be >= 1 and <= {MAX_COUNT}")
        if run_backwards and s.depends_on_past:
            raise InvalidSpec(f"--run-backwards cannot be combined with flow {name}'s depends_on_past: each run waits "
                              f"for the tick before it")
        t1, t2 = _time(start, s.tz, "--from"), _time(end, s.tz, "--to")
        if t2 < t1:
            raise InvalidSpec("--to is before --from; give --from T1 --to T2 with T1 <= T2")
        now = self.clock()
        ticks = ticks_between(s.cron, s.tz, t1, min(t2, now), limit=MAX_BACKFILL_TICKS)
        stored = flowstore.get_flow(self.store, owner, name)
        created: list[str] = []
        with self.store.transaction():  # planned and created at once: two backfills never both create a tick
            def latest(t: float) -> tuple[str, str] | None:
                found = schedstore.latest_for_tick(self.store, owner, name, t)
                return (found.run_id, self._run_json(found, tasks=False)["state"]) if found else None

            plan = plan_backfill(ticks, latest, reprocess, run_backwards)
            batch = f"backfill-{uuid.uuid4().hex[:8]}"
            if not dry_run and any(a == "create" for _, a in plan):
                schedstore.save_backfill(self.store, batch, owner, name, limit, run_backwards, ticks[0], now)
                snapshot = {**self._snapshot(stored, flowstore.template_versions(self.store)), "tick_tz": s.tz,
                            "cwd": row["cwd"]}
                for t, action in plan:
                    if action == "create":
                        run_id = make_run_id(name, "backfill", t)
                        schedstore.insert_tick_run(self.store, RunRow(run_id, stored.id, owner, name, "backfill",
                                                                      False, now, None, snapshot, t, "waiting", "",
                                                                      batch=batch))
                        created.append(run_id)
        for run_id in created:
            self._run_changed(run_id)  # the runs topic: the panel sees them at once
        if created:
            self._tick_poke()
        return {"flow": name, "backfill": batch if created else None, "dry_run": dry_run, "run_ids": created,
                "ticks": [{"execution_date": iso(t, s.tz), "action": a} for t, a in plan]}

    # -- P5's override -----------------------------------------------------------------------
    def mark_success(self, run_id: str) -> dict[str, Any]:
        """The run counts as Finished (depends_on_past lets the next tick start); a waiting run
        never starts. A run with jobs still active is refused: cancel it first."""
        row = flowstore.get_run(self.store, run_id)
        state = self._run_json(row, tasks=False)["state"]
        if row.status is None and state in ("Queued", "Running"):
            raise Conflict(f"Run {run_id} is {state}; cancel it first (gpipe cancel {run_id}) or let it end")
        with self.store.transaction():
            schedstore.mark(self.store, run_id)
        self._tick_poke()
        self._run_changed(run_id)
        return self.run(run_id)

    # -- runs without jobs, shown and handled like the others ---------------------------------
    def _run_json(self, row: RunRow, *, tasks: bool = True) -> dict[str, Any]:
        if row.status in _NO_JOBS:
            out: dict[str, Any] = {"run_id": row.run_id, "flow": row.flow, "owner": row.owner,
                                   "run_type": row.run_type, "state": _NO_JOBS[row.status], "reason": row.reason or "",
                                   "created_at": row.created_at, "started_at": None, "ended_at": None,
                                   "source_run": row.source_run}
            names = [t["name"] for t in row.snapshot.get("definition", {}).get("tasks", [])]
            out["tasks"] = len(names) if not tasks else [
                {"name": n, "state": out["state"], "job_id": None, "reason": None, "attempts": 0, "depends": "",
                 "parents": [], "trigger": None, "started_at": None, "ended_at": None} for n in names]
        else:
            out = super()._run_json(row, tasks=tasks)
        if row.marked and out["state"] not in ("Running",):
            out["state"], out["reason"] = "Finished", "MarkedSuccess"
        when = row.logical_time if row.logical_time is not None else row.created_at
        out["execution_date"] = iso(when, row.snapshot.get("tick_tz") or "UTC")
        return out

    def run(self, run_id: str, *, tasks: bool = True) -> dict[str, Any]:
        with self.store._lock:  # never half a run: one being given its jobs (a transaction) is read after it
            return super().run(run_id, tasks=tasks)

    def runs(self, flow: str | None = None, *, owner: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        with self.store._lock:
            return super().runs(flow, owner=owner, limit=limit)

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        row = flowstore.get_run(self.store, run_id)
        if row.status == "waiting":
            with self.store.transaction():
                schedstore.set_status(self.store, run_id, "cancelled", "CancelledByUser", cancelled=True)
            self._tick_poke()
            self._run_changed(run_id)
            return self.run(run_id)
        if row.status in _NO_JOBS:
            raise Conflict(f"Run {run_id} is {_NO_JOBS[row.status]}: it has nothing to cancel")
        return super().cancel_run(run_id)

    def resume_run(self, run_id: str, **kwargs: Any) -> dict[str, Any]:
        row = flowstore.get_run(self.store, run_id)
        if row.status in _NO_JOBS:
            when = iso(row.logical_time, row.snapshot.get("tick_tz") or "UTC")
            raise Conflict(f"Run {run_id} never started ({_NO_JOBS[row.status]}); run its tick with: gpipe backfill "
                           f"{row.flow} --from {when} --to {when} --reprocess failed")
        return super().resume_run(run_id, **kwargs)

    def _reference_run(self, owner: str, name: str, run: str | None) -> RunRow | None:
        """run-task's reference: a run that ran (never a skipped, waiting or marked one)."""
        if run is not None:
            row = super()._reference_run(owner, name, run)
            if row is not None and row.status in _NO_JOBS:
                raise Conflict(f"Run {run} never ran ({_NO_JOBS[row.status]}); give a run that did, with --run")
            return row
        for row in flowstore.list_runs(self.store, owner, name):
            if row.run_type != "debug" and row.status is None and not row.marked and \
                    self._run_json(row, tasks=False)["state"] == "Finished":
                return row
        return None

    def run_log(self, run_id: str, *, task: str | None = None, offset: int = 0) -> dict[str, Any]:
        row = flowstore.get_run(self.store, run_id)
        if row.status in _NO_JOBS:
            return {"text": "", "next_offset": 0}
        return super().run_log(run_id, task=task, offset=offset)


def _upcoming(cron: str, tz: str, cursor: float | None, end: float | None, n: int = NEXT_TICKS) -> list[float]:
    """The ``n`` ticks the loop will fire next, from its cursor on, none after the end."""
    if cursor is None:
        return []
    out: list[float] = []
    for t in ticks_after(cron, tz, cursor, inclusive=True):
        if (end is not None and t > end) or len(out) == n:
            break
        out.append(t)
    return out


def _time(value: Any, tz: str, what: str) -> float:
    t = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else \
        parse_time(str(value), tz, what)
    if not 0 <= t <= LATEST:  # NaN too
        raise InvalidSpec(f"Bad {what} {value!r}: give a time between 1970 and 8999 (ISO 8601 or POSIX seconds)")
    return t

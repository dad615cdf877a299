"""The tick loop of the host that holds the state directory: one thread that sleeps until the next
due tick (no polling: a real clock's timeout is that tick; a ``FakeClock`` wakes it when it
moves), then creates the due ticks' runs (P1-P3) and passes each flow's waiting runs through
expired_limit, depends_on_past and max_active_runs (P7, P5, P6: core/schedgate.py).

A tick's run is first a row without jobs (``waiting``, run-level ``Queued`` with its reason); it
gets its jobs when admitted (``_admit``: the flow verbs' ``_start_run`` with the tick's template
variables). A run's end wakes the loop (engine events), so a waiting run starts at once.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
from typing import Any

from ..core.errors import JobflowError, NotFound
from ..core.schedgate import Batch, Waiting, due, gate
from ..core.schedule import DEFAULT_MIN_INTERVAL, Schedule, previous_tick, zone
from . import flowstore, schedstore
from .flows import make_run_id
from .flowstore import RunRow

log = logging.getLogger("jupyter_jobflow")
MAX_SLEEP = 86400.0  # seconds the loop sleeps at once at most (then looks again)
FAILURE_PAUSE = 1.0  # after a failed pass, real seconds before the next


class TickLoop:
    """Part of ``JobService`` (schedules.py composes it with the schedule verbs)."""

    schedule_min_interval = DEFAULT_MIN_INTERVAL

    def _start_schedules(self) -> None:
        env = os.environ.get("JOBFLOW_SCHEDULE_MIN_INTERVAL")
        if env:
            try:
                self.schedule_min_interval = float(env)
            except ValueError:
                log.warning("jobflow: JOBFLOW_SCHEDULE_MIN_INTERVAL=%r is not a number of seconds; using %g",
                            env, self.schedule_min_interval)
        self._tick_wake = threading.Condition()
        self._tick_dirty = True
        self._tick_stop = False
        self._has_waiting = True
        stops = [self.engine.subscribe(self._tick_on_event)]
        if hasattr(self.clock, "on_advance"):  # a FakeClock: it tells us when it moves
            stops.append(self.clock.on_advance(self._tick_poke))
        self._tick_unsubscribe = stops
        self._tick_thread = threading.Thread(target=self._tick_loop, name="jobflow-schedules", daemon=True)
        self._tick_thread.start()

    def _stop_schedules(self) -> None:
        if getattr(self, "_tick_thread", None) is None:
            return
        for stop in self._tick_unsubscribe:
            stop()
        with self._tick_wake:
            self._tick_stop = True
            self._tick_wake.notify()
        self._tick_thread.join(10)
        self._tick_thread = None

    def _tick_poke(self) -> None:
        wake = getattr(self, "_tick_wake", None)
        if wake is not None:
            with wake:
                self._tick_dirty = True
                wake.notify()

    def _tick_on_event(self, event: dict[str, Any]) -> None:
        job = event.get("job") or {}
        if self._has_waiting and job.get("run_id") and event.get("state") not in ("Queued", "Hold", "Running"):
            self._tick_poke()  # a run may have ended: a waiting run may start

    def _tick_loop(self) -> None:
        fake = hasattr(self.clock, "on_advance")
        while True:
            with self._tick_wake:
                if self._tick_stop:
                    return
                self._tick_dirty = False
            try:
                self.schedule_pass(self.clock())
                pause = None
            except Exception:  # the loop outlives a bad pass; the next one tries again
                log.exception("jobflow: a pass of the schedules failed; it is tried again")
                pause = FAILURE_PAUSE
            with self._tick_wake:
                if self._tick_dirty or self._tick_stop:
                    continue
                nxt = schedstore.next_due(self.store)
                if pause is not None:
                    timeout = pause
                elif fake or nxt is None:
                    timeout = None if fake else MAX_SLEEP
                else:
                    timeout = min(MAX_SLEEP, max(0.0, nxt - self.clock()))
                if timeout is None or timeout > 0:
                    self._tick_wake.wait(timeout)

    # -- one pass -----------------------------------------------------------------------------
    def schedule_pass(self, now: float) -> None:
        """Create the ticks due at ``now``, then gate every flow's waiting runs (P8 order)."""
        due_rows = schedstore.due_schedules(self.store, now)
        if due_rows:
            versions = flowstore.template_versions(self.store)
            made: list[str] = []
            with self.store.transaction():
                for row in due_rows:
                    made += self._create_ticks(row, now, versions)
            for run_id in made:
                self._run_changed(run_id)  # the runs topic: created and skipped ticks are seen at once
        flows = schedstore.waiting_flows(self.store)
        self._has_waiting = bool(flows)
        for owner, flow in flows:
            try:
                self._gate_flow(owner, flow)
            except JobflowError as err:
                log.warning("jobflow: the waiting runs of flow %s of %s: %s", flow, owner, err)

    def _create_ticks(self, row: Any, now: float, versions: Any) -> list[str]:
        s = schedstore.to_schedule(row)
        d = due(s, row["next_tick"], now)
        try:
            stored = flowstore.get_flow(self.store, row["owner"], row["flow"])
        except NotFound:  # its flow is gone: the schedule stops
            schedstore.set_cursor(self.store, row["owner"], row["flow"], None)
            return []
        snapshot = {**self._snapshot(stored, versions), "tick_tz": s.tz, "cwd": row["cwd"]}
        made = []
        for tick, status, reason in [(t, "skipped", "Missed") for t in d.missed] + \
                                    [(t, "waiting", "") for t in d.create]:
            run_id = make_run_id(stored.name, "scheduled", tick)
            if schedstore.insert_tick_run(self.store, RunRow(run_id, stored.id, row["owner"], stored.name, "scheduled",
                                                             False, now, None, snapshot, tick, status, reason)):
                made.append(run_id)
        if d.unrecorded:
            log.warning("jobflow: flow %s missed more ticks than the %d listed as Skipped (Missed)", stored.name,
                        len(d.missed))
        schedstore.set_cursor(self.store, row["owner"], row["flow"], d.cursor)
        return made

    def _gate_flow(self, owner: str, flow: str) -> None:
        rows = schedstore.waiting_runs(self.store, owner, flow)
        srow = schedstore.get_schedule(self.store, owner, flow)
        s = schedstore.to_schedule(srow) if srow is not None else Schedule("0 0 * * *")
        batches: dict[str, Batch] = {}
        for r in rows:
            if r.batch and r.batch not in batches:
                b = schedstore.get_backfill(self.store, r.batch)
                batches[r.batch] = Batch(b["max_active_runs"], bool(b["backwards"]), b["first_tick"])
        active = schedstore.active_runs(self.store, owner, flow)
        active_in: dict[str, int] = {}
        for _run_id, batch in active:
            if batch:
                active_in[batch] = active_in.get(batch, 0) + 1

        def latest(tick: float) -> tuple[str, str] | None:
            found = schedstore.latest_for_tick(self.store, owner, flow, tick)
            return (found.run_id, self._run_json(found, tasks=False)["state"]) if found else None

        waiting = [Waiting(r.run_id, r.run_type, r.logical_time, r.batch) for r in rows]
        g = gate(s, waiting, active=len(active), active_in=active_in, batches=batches,
                 previous=lambda t: previous_tick(s.cron, s.tz, t), latest=latest)
        by_id = {r.run_id: r for r in rows}
        with self.store.transaction():
            for run_id in g.expire:
                schedstore.set_status(self.store, run_id, "skipped", "Expired")
            changed = list(g.expire)
            for run_id, reason in g.wait.items():
                if by_id[run_id].reason != reason:
                    schedstore.set_reason(self.store, run_id, reason)
                    changed.append(run_id)
        for run_id in changed:
            self._run_changed(run_id)
        for run_id in g.admit:
            self._admit(by_id[run_id], s)

    def _admit(self, row: RunRow, s: Schedule) -> None:
        """The waiting run gets its jobs; its text rendered now with the tick's variables."""
        snap = row.snapshot
        tz = zone(snap.get("tick_tz") or s.tz)
        when = _dt.datetime.fromtimestamp(row.logical_time, tz)
        prev = previous_tick(s.cron, s.tz, row.logical_time)
        variables = {"execution_date": when, "data_interval_end": when,
                     "data_interval_start": _dt.datetime.fromtimestamp(prev, tz) if prev is not None else when}
        base = {k: snap[k] for k in ("definition", "flow_version", "templates", "tick_tz") if k in snap}
        try:
            self._start_run(row.flow_id, row.owner, base, {}, run_type=row.run_type, cwd=snap.get("cwd"),
                            run_id=row.run_id, tick={"variables": variables,
                                                     "row": {"logical_time": row.logical_time, "batch": row.batch}})
        except JobflowError as err:  # its flow or templates no longer fit: the run fails, visibly
            with self.store.transaction():
                schedstore.set_status(self.store, row.run_id, "failed", " ".join(str(err).split())[:300])

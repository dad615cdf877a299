"""Schedules, backfills and tick runs in the store (migration 8): functions over ``Store``'s connection.

A schedule belongs to a flow by (owner, name). Its ``next_tick`` is the first tick not yet handled:
the tick loop moves it in the same transaction that stores the tick's run, so a host killed in the
middle of a catch-up resumes at the first tick without a run, and creates none twice (P2's unique
index refuses a second scheduled run of one tick anyway).
"""

from __future__ import annotations

import json
from typing import Any

from ..core.schedule import Schedule
from .flowstore import RunRow, _run
from .store import Store

_ACTIVE_JOB_STATES = ("Queued", "Hold", "Running")


def to_schedule(row: Any) -> Schedule:
    return Schedule(row["cron"], row["tz"], row["start_at"], row["end_at"], bool(row["catchup"]),
                    bool(row["depends_on_past"]), row["max_active_runs"], row["expired_limit"], bool(row["enabled"]))


def get_schedule(store: Store, owner: str, flow: str) -> Any:
    return store._select_one("SELECT * FROM schedules WHERE owner = ? AND flow = ?", [owner, flow])


def list_schedules(store: Store, owner: str | None = None) -> list[Any]:
    if owner is None:
        return store._select("SELECT * FROM schedules ORDER BY owner, flow")
    return store._select("SELECT * FROM schedules WHERE owner = ? ORDER BY flow", [owner])


def save_schedule(store: Store, owner: str, flow: str, s: Schedule, next_tick: float | None, cwd: str | None,
                  now: float) -> None:
    store.db.execute(
        "INSERT INTO schedules (owner, flow, cron, tz, start_at, end_at, catchup, depends_on_past, max_active_runs, "
        "expired_limit, enabled, next_tick, cwd, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?) ON CONFLICT (owner, flow) DO UPDATE SET cron = excluded.cron, tz = excluded.tz, "
        "start_at = excluded.start_at, end_at = excluded.end_at, catchup = excluded.catchup, "
        "depends_on_past = excluded.depends_on_past, max_active_runs = excluded.max_active_runs, "
        "expired_limit = excluded.expired_limit, enabled = excluded.enabled, next_tick = excluded.next_tick, "
        "cwd = COALESCE(excluded.cwd, schedules.cwd), updated_at = excluded.updated_at",
        [owner, flow, s.cron, s.tz, s.start, s.end, int(s.catchup), int(s.depends_on_past), s.max_active_runs,
         s.expired_limit, int(s.enabled), next_tick, cwd, now, now])


def due_schedules(store: Store, now: float) -> list[Any]:
    return store._select("SELECT * FROM schedules WHERE enabled AND next_tick <= ? ORDER BY next_tick", [now])


def next_due(store: Store) -> float | None:
    row = store._select_one("SELECT MIN(next_tick) AS t FROM schedules WHERE enabled AND next_tick IS NOT NULL")
    return row["t"] if row else None


def set_cursor(store: Store, owner: str, flow: str, next_tick: float | None) -> None:
    store.db.execute("UPDATE schedules SET next_tick = ? WHERE owner = ? AND flow = ?", [next_tick, owner, flow])


def insert_tick_run(store: Store, row: RunRow) -> bool:
    """A run without jobs (waiting or skipped); False when its tick already has a scheduled run (P2)."""
    cur = store.db.execute(
        "INSERT OR IGNORE INTO runs (run_id, flow_id, owner, flow, run_type, cancelled, created_at, snapshot, "
        "logical_time, status, reason, batch) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)",
        [row.run_id, row.flow_id, row.owner, row.flow, row.run_type, row.created_at, json.dumps(row.snapshot),
         row.logical_time, row.status, row.reason, row.batch])
    return cur.rowcount == 1


def waiting_flows(store: Store) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in store._select("SELECT DISTINCT owner, flow FROM runs WHERE status = 'waiting'")]


def waiting_runs(store: Store, owner: str, flow: str) -> list[RunRow]:
    rows = store._select("SELECT * FROM runs WHERE owner = ? AND flow = ? AND status = 'waiting' AND NOT marked "
                         "ORDER BY logical_time", [owner, flow])
    return [_run(r) for r in rows]


def active_runs(store: Store, owner: str, flow: str) -> list[tuple[str, str | None]]:
    """``(run id, batch)`` of the flow's started runs with a job still Queued, Hold or Running
    (every run type but debug; a run the user cancelled is not active)."""
    marks = ", ".join("?" * len(_ACTIVE_JOB_STATES))
    rows = store._select(
        f"SELECT r.run_id, r.batch FROM runs r WHERE r.owner = ? AND r.flow = ? AND r.status IS NULL AND "
        f"r.run_type != 'debug' AND NOT r.cancelled AND EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = r.run_id AND "
        f"j.state IN ({marks}))", [owner, flow, *_ACTIVE_JOB_STATES])
    return [(r[0], r[1]) for r in rows]


def set_status(store: Store, run_id: str, status: str | None, reason: str | None, *, cancelled: bool = False) -> None:
    store.db.execute("UPDATE runs SET status = ?, reason = ?, cancelled = cancelled OR ? WHERE run_id = ?",
                     [status, reason, int(cancelled), run_id])


def set_reason(store: Store, run_id: str, reason: str) -> None:
    store.db.execute("UPDATE runs SET reason = ? WHERE run_id = ? AND status = 'waiting'", [reason, run_id])


def mark(store: Store, run_id: str) -> None:
    store.db.execute("UPDATE runs SET marked = 1 WHERE run_id = ?", [run_id])


def latest_for_tick(store: Store, owner: str, flow: str, tick: float) -> RunRow | None:
    """The newest scheduled or backfill run of a tick (P4, P5)."""
    row = store._select_one("SELECT * FROM runs WHERE owner = ? AND flow = ? AND logical_time = ? AND run_type IN "
                            "('scheduled', 'backfill') ORDER BY id DESC LIMIT 1", [owner, flow, tick])
    return _run(row) if row else None


def save_backfill(store: Store, backfill_id: str, owner: str, flow: str, max_active_runs: int, backwards: bool,
                  first_tick: float | None, now: float) -> None:
    store.db.execute("INSERT INTO backfills (id, owner, flow, max_active_runs, backwards, first_tick, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", [backfill_id, owner, flow, max_active_runs, int(backwards),
                                                      first_tick, now])


def get_backfill(store: Store, backfill_id: str) -> Any:
    return store._select_one("SELECT * FROM backfills WHERE id = ?", [backfill_id])

"""Flows, templates and runs in the store (schema version 8): functions over ``Store``'s connection.

A flow is versioned per owner, a template per name for every user of the server; storing the
same content again gives the version that already holds it (compared by content hash). A run
row holds its snapshot (definition, the template versions it uses, its variables and each
task's rendered text) by value; its state is never stored, only the user's cancel (F4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..core.errors import NotFound
from ..core.flowdef import FlowDef
from ..core.templates import Template, did_you_mean
from .store import Store


@dataclass(frozen=True)
class StoredFlow:
    id: int
    owner: str
    name: str
    version: int
    definition: FlowDef
    created_at: float


@dataclass(frozen=True)
class RunRow:
    run_id: str
    flow_id: int
    owner: str
    flow: str
    run_type: str
    cancelled: bool
    created_at: float
    source_run: str | None
    snapshot: dict[str, Any]
    # schedules (engine/schedules.py, migration 8): the tick, and a run without jobs yet
    logical_time: float | None = None
    status: str | None = None  # None (has jobs), waiting, skipped, cancelled
    reason: str | None = None
    marked: bool = False
    batch: str | None = None


def save_flow(store: Store, owner: str, flow: FlowDef, now: float) -> tuple[StoredFlow, bool]:
    """``(the stored version, whether it is new)``: the same content as the latest is that version."""
    digest = flow.hash
    with store.transaction():
        latest = _latest_row(store, owner, flow.name)
        if latest is not None and latest["hash"] == digest:
            return _flow(latest), False
        version = (latest["version"] if latest is not None else 0) + 1
        cur = store.db.execute("INSERT INTO flows (owner, name, version, definition, created_at, hash) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
                               [owner, flow.name, version, json.dumps({**flow.to_dict(), "origin": flow.origin}),
                                now, digest])
        return StoredFlow(cur.lastrowid, owner, flow.name, version, flow, now), True


def _latest_row(store: Store, owner: str, name: str) -> Any:
    return store.db.execute("SELECT * FROM flows WHERE owner = ? AND name = ? ORDER BY version DESC LIMIT 1",
                            [owner, name]).fetchone()


def _flow(row: Any) -> StoredFlow:
    data = json.loads(row["definition"])
    return StoredFlow(row["id"], row["owner"], row["name"], row["version"],
                      FlowDef.from_dict(data, data.get("origin", "stored")), row["created_at"])


def get_flow(store: Store, owner: str, name: str) -> StoredFlow:
    row = _latest_row(store, owner, name)
    if row is None:
        names = [r[0] for r in store.db.execute("SELECT DISTINCT name FROM flows WHERE owner = ?", [owner])]
        raise NotFound(f'No flow "{name}" of user {owner}{did_you_mean(name, names)}; create it with: '
                       f"gpipe create {name} FILE")
    return _flow(row)


def flow_by_id(store: Store, flow_id: int) -> StoredFlow:
    return _flow(store.db.execute("SELECT * FROM flows WHERE id = ?", [flow_id]).fetchone())


def list_flows(store: Store, owner: str) -> list[dict[str, Any]]:
    rows = store.db.execute("SELECT f.* FROM flows f WHERE owner = ? AND version = (SELECT MAX(version) FROM flows g "
                            "WHERE g.owner = f.owner AND g.name = f.name) ORDER BY name", [owner])
    return [{"name": r["name"], "owner": r["owner"], "version": r["version"],
             "tasks": len(json.loads(r["definition"])["tasks"]), "updated_at": r["created_at"]} for r in rows]


def save_template(store: Store, owner: str, template: Template, now: float) -> tuple[int, bool]:
    digest = template.hash
    with store.transaction():
        row = store.db.execute("SELECT version, hash FROM templates WHERE name = ? ORDER BY version DESC LIMIT 1",
                               [template.name]).fetchone()
        if row is not None and row["hash"] == digest:
            return row["version"], False
        version = (row["version"] if row is not None else 0) + 1
        store.db.execute("INSERT INTO templates (name, version, definition, hash, owner, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         [template.name, version, json.dumps(template.to_dict()), digest, owner, now])
        return version, True


def template_versions(store: Store) -> dict[str, dict[int, Template]]:
    """Every template version, for ``FlowDef.check_templates`` and ``templates.resolve``."""
    out: dict[str, dict[int, Template]] = {}
    for r in store.db.execute("SELECT name, version, definition FROM templates ORDER BY name, version"):
        out.setdefault(r["name"], {})[r["version"]] = Template.from_dict(json.loads(r["definition"]), r["version"])
    return out


def remove_template(store: Store, name: str) -> int:
    """Delete every version of a template (runs keep theirs, by value); how many there were."""
    with store.transaction():
        count = store.db.execute("DELETE FROM templates WHERE name = ?", [name]).rowcount
    if not count:
        names = [r[0] for r in store.db.execute("SELECT DISTINCT name FROM templates")]
        raise NotFound(f'No template "{name}"{did_you_mean(name, names)}; list them with: gpipe template ls')
    return count


def list_templates(store: Store) -> list[dict[str, Any]]:
    rows = store.db.execute("SELECT name, MAX(version) AS version, MAX(created_at) AS updated_at, owner FROM templates "
                            "GROUP BY name ORDER BY name")
    return [{"name": r["name"], "version": r["version"], "owner": r["owner"], "updated_at": r["updated_at"]}
            for r in rows]


def insert_run(store: Store, row: RunRow) -> None:
    """A new run; a waiting one (schedules) is given its jobs' snapshot and leaves ``waiting``."""
    store.db.execute("INSERT INTO runs (run_id, flow_id, owner, flow, run_type, cancelled, created_at, source_run, "
                     "snapshot, logical_time, status, reason, batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT (run_id) DO UPDATE SET snapshot = excluded.snapshot, flow_id = excluded.flow_id, "
                     "status = excluded.status, reason = excluded.reason",
                     [row.run_id, row.flow_id, row.owner, row.flow, row.run_type, int(row.cancelled), row.created_at,
                      row.source_run, json.dumps(row.snapshot), row.logical_time, row.status, row.reason, row.batch])


def _run(r: Any) -> RunRow:
    return RunRow(r["run_id"], r["flow_id"], r["owner"], r["flow"], r["run_type"], bool(r["cancelled"]),
                  r["created_at"], r["source_run"], json.loads(r["snapshot"]), r["logical_time"], r["status"],
                  r["reason"], bool(r["marked"]), r["batch"])


def get_run(store: Store, run_id: str) -> RunRow:
    row = store.db.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        raise NotFound(f"Run {run_id} not found; list runs with: gpipe runs")
    return _run(row)


def list_runs(store: Store, owner: str, flow: str | None = None, limit: int | None = None) -> list[RunRow]:
    """Newest first: one owner's runs, of one flow or of all."""
    where, args = ("owner = ? AND flow = ?", [owner, flow]) if flow else ("owner = ?", [owner])
    rows = store.db.execute(f"SELECT * FROM runs WHERE {where} ORDER BY id DESC LIMIT ?", [*args, limit or -1])
    return [_run(r) for r in rows]


def set_cancelled(store: Store, run_id: str, cancelled: bool) -> None:
    with store.transaction():
        store.db.execute("UPDATE runs SET cancelled = ? WHERE run_id = ?", [int(cancelled), run_id])


def run_jobs(store: Store, run_id: str) -> list[tuple[str, int]]:
    """``(task, job id)`` of a run's jobs by the run key's index (never by template or task name)."""
    return [(r[0], r[1]) for r in store.db.execute("SELECT task, id FROM jobs WHERE run_id = ? ORDER BY id", [run_id])]

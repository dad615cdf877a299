"""The store: one SQLite database (WAL) that holds the truth. The only module that writes SQL.

Jobs, their dependency edges, attempts, events and groups. Every change the engine makes goes
through ``transaction()``; a restart reads everything back with ``load_jobs`` and friends. The
schema has a version (``PRAGMA user_version``) and named migrations (``migrations.py``), applied in
order on open; rows become jobs and attempts in ``rows.py``.

Why ``synchronous=NORMAL``: in WAL mode a commit then survives a crash of our process (what we
guard against: the Jupyter server killed) without an fsync per commit, which keeps a burst of 500
job transitions in milliseconds. A power cut may lose the last commits, never corrupt the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import sqlite_utils

from ..core.errors import Unavailable
from ..core.model import Attempt, Group, Job, JobState, Reason
from .migrations import MIGRATIONS
from .rows import NOT_PENDING, USED_GPUS, attempt_from_row, job_from_row, job_to_row


def open_failure(path: Path, err: sqlite3.Error) -> Unavailable:
    """One line for a database that cannot be opened: what is wrong with ``path``, and the fix."""
    text = str(err)
    if "not a database" in text or "malformed" in text:
        why = "is damaged or not a jobflow database; move it away (a fresh one is made) or restore a backup"
    elif "full" in text:
        why = f"cannot be written: the disk is full; free space on {path.parent} and start again"
    elif "disk I/O error" in text:
        why = (f"cannot be written (disk I/O error: a full disk, a file size limit or a failing device); "
               f"check {path.parent} and start again")
    elif "readonly" in text or "unable to open" in text or "read-only" in text:
        why = (f"cannot be written ({text}); make {path.parent} writable by this user, or choose another "
               f"state directory (--state-dir or $JOBFLOW_HOME)")
    elif "locked" in text:
        why = "is locked by another process that is no jobflow host; stop it and start again"
    else:
        why = f"cannot be used: {text}"
    return Unavailable(f"The jobflow database {path} {why}")


class Store:
    """The SQLite database of one state directory. Thread-safe: one connection, one lock."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        conn.row_factory = sqlite3.Row
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.migrate()
        except BaseException:
            conn.close()
            raise

    # -- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        with self.transaction():
            version = self.schema_version()
            if version > len(MIGRATIONS):
                from ..core.errors import Unavailable

                raise Unavailable(f"{self.path} has schema version {version}, newer than this jupyter-jobflow "
                                  f"understands ({len(MIGRATIONS)}); upgrade jupyter-jobflow")
            for _name, migration in MIGRATIONS[version:]:
                migration(self.db)
            self.db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work; nested calls join the outer one."""
        with self._lock:
            if self._depth == 0:
                self.db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self.db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self.db.execute("COMMIT")

    def _select(self, sql: str, args: Any = ()) -> list[sqlite3.Row]:
        """A read, whole, under the connection's lock: the connection is shared by threads, and a
        cursor read while another thread rolls back is aborted (or sees what it had not committed)."""
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    def _select_one(self, sql: str, args: Any = ()) -> sqlite3.Row | None:
        rows = self._select(sql, args)
        return rows[0] if rows else None

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    # -- jobs -----------------------------------------------------------------------------
    def insert_job(self, job: Job, parents: list[tuple[int, str, int]]) -> int:
        """Store a new job and its dependency edges (parent, type, delay); returns its new id."""
        row = job_to_row(job)
        with self.transaction():
            cols = ", ".join(row)
            cur = self.db.execute(f"INSERT INTO jobs ({cols}) VALUES ({', '.join('?' * len(row))})",
                                  list(row.values()))
            job_id = cur.lastrowid
            if parents:
                self.db.conn.executemany("INSERT OR IGNORE INTO dependencies VALUES (?, ?, ?, ?)",
                                         [(job_id, p, t, d) for p, t, d in parents])
        return job_id

    def insert_jobs(self, jobs: list[Job], parents: list[tuple[int, str, int]],
                    edges_of: Mapping[int, list[tuple[int, str, int]]] | None = None) -> None:
        """Store many new jobs with the ids they carry (the tasks of an array, numbered after its
        first task inside the same transaction), each with the same dependency edges, or each
        with its own where ``edges_of`` (job id -> edges) says (``aftercorr``: task i on task i)."""
        if not jobs:
            return
        rows = [{"id": j.id, **job_to_row(j)} for j in jobs]
        cols = ", ".join(rows[0])
        with self.transaction():
            self.db.conn.executemany(f"INSERT INTO jobs ({cols}) VALUES ({', '.join('?' * len(rows[0]))})",
                                     [list(r.values()) for r in rows])
            if parents or edges_of:
                self.db.conn.executemany("INSERT OR IGNORE INTO dependencies VALUES (?, ?, ?, ?)",
                                         [(j.id, p, t, d) for j in jobs
                                          for p, t, d in (edges_of[j.id] if edges_of else parents)])

    def update_job(self, job: Job) -> None:
        row = job_to_row(job)
        sets = ", ".join(f"{c} = ?" for c in row)
        with self.transaction():
            self.db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*row.values(), job.id])

    def replace_dependencies(self, job_id: int, parents: list[tuple[int, str, int]]) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM dependencies WHERE job_id = ?", [job_id])
            self.db.conn.executemany("INSERT OR IGNORE INTO dependencies VALUES (?, ?, ?, ?)",
                                     [(job_id, p, t, d) for p, t, d in parents])

    def load_jobs(self) -> list[Job]:
        """Every job, but not the tasks of an array still being stored (they join when it is whole)."""
        rows = self._select(f"SELECT *, {USED_GPUS} FROM jobs WHERE {NOT_PENDING} ORDER BY id")
        return [job_from_row(r) for r in rows]

    def get_job(self, job_id: int) -> Job | None:
        row = self._select_one(f"SELECT *, {USED_GPUS} FROM jobs WHERE id = ?", [job_id])
        return job_from_row(row) if row else None

    def load_edges(self) -> list[tuple[int, int]]:
        return [(r[0], r[1]) for r in self._select("SELECT job_id, parent_id FROM dependencies")]

    def recent_ids(self, *, scope: str | None = None, user: str | None = None, limit: int = 1) -> list[int]:
        """Newest first: the submission history that ``@`` and ``@~N`` resolve against. A job
        array is one entry, its first task's id (docs/rules.md, ``@`` and ``@~N``)."""
        col, value = ("scope", scope) if scope is not None else ("user", user)
        rows = self._select(f"SELECT COALESCE(array_of, id) AS entry FROM jobs WHERE {col} = ? "
                               f"GROUP BY entry ORDER BY entry DESC LIMIT ?", [value, limit])
        return [r[0] for r in rows]

    def array_tasks(self, first_id: int) -> list[int]:
        """The ids of the tasks of the job array whose first task is ``first_id``, in order
        (empty when ``first_id`` is no array's first task)."""
        pending = self._select_one("SELECT last_id FROM pending_arrays WHERE first_id = ?", [first_id])
        if pending:  # still being stored: its ids are reserved already
            return list(range(first_id, pending[0] + 1))
        rows = self._select("SELECT id FROM jobs WHERE array_of = ? ORDER BY id", [first_id])
        return [r[0] for r in rows]

    def reserve_array(self, first: Job, parents: list[tuple[int, str, int]], count: int) -> int:
        """Store an array's first task and reserve the ids of the other ``count - 1`` after it, so
        the rest can be stored in batches (``insert_jobs``) without holding up other submissions;
        the array stays pending (invisible to ``load_jobs``) until ``finish_array``."""
        with self.transaction():
            first_id = self.insert_job(first, parents)
            last_id = first_id + count - 1
            self.db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'jobs'", [last_id])
            self.db.execute("INSERT INTO pending_arrays VALUES (?, ?)", [first_id, last_id])
        return first_id

    def finish_array(self, first_id: int) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM pending_arrays WHERE first_id = ?", [first_id])

    def discard_pending_arrays(self, first_id: int | None = None) -> int:
        """Remove arrays that were never stored whole (one, or all: a host died while storing them)."""
        with self.transaction():
            where, args = ("WHERE first_id = ?", [first_id]) if first_id is not None else ("", [])
            pending = self._select(f"SELECT first_id, last_id FROM pending_arrays {where}", args)
            for first, last in pending:
                self.db.execute("DELETE FROM dependencies WHERE job_id BETWEEN ? AND ?", [first, last])
                self.db.execute("DELETE FROM jobs WHERE id BETWEEN ? AND ?", [first, last])
                self.db.execute("DELETE FROM pending_arrays WHERE first_id = ?", [first])
        return len(pending)

    def max_job_id(self) -> int:
        row = self._select_one("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'")
        return row[0] if row else 0

    # -- attempts -------------------------------------------------------------------------
    def insert_attempt(self, a: Attempt) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO attempts (job_id, attempt, started_at, handle, gpus) "
                            "VALUES (?, ?, ?, ?, ?)",
                            [a.job_id, a.attempt, a.started_at, json.dumps(a.handle) if a.handle is not None else None,
                             json.dumps(list(a.gpus))])

    def record_launch(self, job_id: int, attempt: int, handle: dict[str, Any]) -> None:
        """The executor's handle of an attempt recorded as starting (``insert_attempt`` without one)."""
        with self.transaction():
            self.db.execute("UPDATE attempts SET handle = ? WHERE job_id = ? AND attempt = ?",
                            [json.dumps(handle), job_id, attempt])

    def record_start(self, job_id: int, attempt: int, at: float) -> None:
        """When the attempt really began (its executor's ``started``)."""
        with self.transaction():
            self.db.execute("UPDATE attempts SET started_at = ? WHERE job_id = ? AND attempt = ?", [at, job_id, attempt])

    def delete_attempt(self, job_id: int, attempt: int) -> None:
        """Forget an attempt that was recorded as starting and never began."""
        with self.transaction():
            self.db.execute("DELETE FROM attempts WHERE job_id = ? AND attempt = ?", [job_id, attempt])

    def end_attempt(self, job_id: int, attempt: int, *, ended_at: float, exit_code: int | None,
                    signal: int | None, state: JobState, reason: Reason | None) -> None:
        kind, args = reason.to_row() if reason else (None, None)
        with self.transaction():
            self.db.execute("UPDATE attempts SET ended_at = ?, exit_code = ?, signal = ?, state = ?, reason = ?, "
                            "reason_args = ? WHERE job_id = ? AND attempt = ?",
                            [ended_at, exit_code, signal, state.value, kind, json.dumps(args) if args else None,
                             job_id, attempt])

    def attempts(self, job_id: int) -> list[Attempt]:
        rows = self._select("SELECT * FROM attempts WHERE job_id = ? ORDER BY attempt", [job_id])
        return [attempt_from_row(r) for r in rows]

    def open_attempts(self) -> list[Attempt]:
        """Attempts that were running when the host last stopped (to re-adopt or mark Lost)."""
        rows = self._select("SELECT a.* FROM attempts a JOIN jobs j ON j.id = a.job_id "
                               "WHERE a.ended_at IS NULL AND j.state = 'Running' AND j.attempt = a.attempt")
        return [attempt_from_row(r) for r in rows]

    # -- events ---------------------------------------------------------------------------
    def append_event(self, kind: str, job_id: int | None = None, data: dict[str, Any] | None = None,
                     ts: float | None = None) -> int:
        with self.transaction():
            cur = self.db.execute("INSERT INTO events (ts, job_id, kind, data) VALUES (?, ?, ?, ?)",
                                  [ts if ts is not None else time.time(), job_id, kind, json.dumps(data or {})])
            return cur.lastrowid

    def last_event_seq(self) -> int:
        """The seq of the newest event ever stored (0 when there was none), even once purged."""
        row = self._select_one("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
        return max(row[0] if row else 0,
                   self._select_one("SELECT COALESCE(MAX(seq), 0) FROM events")[0])

    def first_event_seq(self) -> int:
        """The seq of the oldest event still stored (0 when there is none): a replay from before
        it would have a gap, the purged events."""
        return self._select_one("SELECT COALESCE(MIN(seq), 0) FROM events")[0]

    def events_since(self, seq: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        rows = self._select("SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", [seq, limit])
        return [{"seq": r["seq"], "ts": r["ts"], "job_id": r["job_id"], "kind": r["kind"], **json.loads(r["data"])}
                for r in rows]

    # -- retention ------------------------------------------------------------------------
    def purge_jobs(self, ids: list[int], *, job_events: bool = True) -> dict[str, int]:
        """Delete ``ids`` with their edges (both ways), attempts, array groups and (``job_events``)
        events. Returns how many rows of each went. (Events have no index by job: a purge in
        batches leaves their events to ``purge_events``, one scan instead of one per batch.)"""
        counts: dict[str, int] = {}
        with self.transaction():
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS purge_ids (id INTEGER PRIMARY KEY)")
            self.db.execute("DELETE FROM temp.purge_ids")
            self.db.conn.executemany("INSERT OR IGNORE INTO temp.purge_ids VALUES (?)", [(i,) for i in ids])
            for table, where in (("jobs", "id IN (SELECT id FROM temp.purge_ids)"),
                                 ("dependencies", "job_id IN (SELECT id FROM temp.purge_ids) "
                                                  "OR parent_id IN (SELECT id FROM temp.purge_ids)"),
                                 ("attempts", "job_id IN (SELECT id FROM temp.purge_ids)"),
                                 ("events", "job_id IN (SELECT id FROM temp.purge_ids)" if job_events and ids
                                  else "0"),
                                 ("groups", "name IN (SELECT 'array-' || id FROM temp.purge_ids)")):
                counts[table] = self.db.execute(f"DELETE FROM {table} WHERE {where}").rowcount
            self.db.execute("DELETE FROM temp.purge_ids")
        return counts

    def purge_events(self, before: float, window: int = 20_000) -> int:
        """Delete the events older than ``before`` and those of jobs that are gone, ``window``
        seqs per transaction (so the scheduler's writes are never held up long)."""
        removed, low = 0, 0
        high = self.last_event_seq()
        while low < high:
            with self.transaction():
                removed += self.db.execute(
                    "DELETE FROM events WHERE seq > ? AND seq <= ? AND (ts < ? OR (job_id IS NOT NULL AND "
                    "job_id NOT IN (SELECT id FROM jobs)))", [low, low + window, before]).rowcount
            low += window
        return removed

    def checkpoint(self) -> None:
        """Copy the WAL into the database and truncate it (after a purge: the WAL held every
        deleted page)."""
        with self._lock:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- groups ---------------------------------------------------------------------------
    def groups(self) -> dict[str, Group]:
        return {r["name"]: Group(r["name"], r["parallel"], bool(r["paused"]))
                for r in self._select("SELECT * FROM groups")}

    def save_group(self, group: Group) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO groups (name, parallel, paused) VALUES (?, ?, ?)",
                            [group.name, group.limit, int(group.paused)])

"""The store: one SQLite database (WAL) that holds the truth. The only module that writes SQL.

Jobs, their dependency edges, attempts, events and groups. Every change the engine makes goes
through ``transaction()``; a restart reads everything back with ``load_jobs`` and friends. The
schema has a version (``PRAGMA user_version``) and named migrations, applied in order on open.

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
from typing import Any, Callable, Iterator, Mapping

import sqlite_utils

from ..core.model import Attempt, Group, Job, JobState, Reason, RetryPolicy


def _m1_initial(db: sqlite_utils.Database) -> None:
    # AUTOINCREMENT: ids are never reused, even after the newest jobs are deleted (docs/rules.md, States).
    db.execute("""
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL, state TEXT NOT NULL, reason TEXT, reason_args TEXT,
            command TEXT NOT NULL, script TEXT, cwd TEXT, env TEXT NOT NULL DEFAULT '{}',
            gpus INTEGER NOT NULL DEFAULT 0, gpu_ids TEXT, allocated_gpus TEXT NOT NULL DEFAULT '[]',
            time_limit REAL, priority INTEGER NOT NULL DEFAULT 0, grp TEXT,
            dependency TEXT, auto_cancel INTEGER NOT NULL DEFAULT 1,
            retries INTEGER NOT NULL DEFAULT 0, retry_delay REAL NOT NULL DEFAULT 0,
            retry_backoff REAL NOT NULL DEFAULT 1, retry_max_delay REAL,
            retry_on TEXT NOT NULL DEFAULT 'error,failure',
            attempt INTEGER NOT NULL DEFAULT 0, submitted_at REAL NOT NULL,
            first_started_at REAL, started_at REAL, ended_at REAL, retry_at REAL,
            exit_code INTEGER, signal INTEGER, user TEXT NOT NULL DEFAULT '', scope TEXT NOT NULL DEFAULT '',
            redo_of INTEGER, stopping TEXT, kill_at REAL, retry_count INTEGER NOT NULL DEFAULT 0
        )""")
    db.execute("CREATE INDEX jobs_state ON jobs(state)")
    db.execute("CREATE INDEX jobs_scope ON jobs(scope, id)")
    db.execute("CREATE INDEX jobs_user ON jobs(user, id)")
    db["dependencies"].create({"job_id": int, "parent_id": int, "type": str, "delay": int},
                              pk=("job_id", "parent_id"))
    db["dependencies"].create_index(["parent_id"])
    db["attempts"].create({"job_id": int, "attempt": int, "started_at": float, "pid": int, "proc_start": float,
                           "gpus": str, "ended_at": float, "exit_code": int, "signal": int, "state": str,
                           "reason": str, "reason_args": str}, pk=("job_id", "attempt"))
    db.execute("""CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,
                  job_id INTEGER, kind TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}')""")
    db["groups"].create({"name": str, "parallel": int, "paused": int}, pk="name", defaults={"parallel": 0, "paused": 0})


def _m2_gpu_memory(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE jobs ADD COLUMN gpu_memory INTEGER")  # MiB, --gpu-memory (shared mode)


def _m3_array_of(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE jobs ADD COLUMN array_of INTEGER")  # first task's id of a job array (--array)
    db.execute("CREATE INDEX jobs_array_of ON jobs (array_of) WHERE array_of IS NOT NULL")


def _m4_pending_arrays(db: sqlite_utils.Database) -> None:
    # an array being stored in batches: its reserved ids, until its last batch is in (then the row
    # goes); a host that died meanwhile discards the partial array at its next start
    db.execute("CREATE TABLE pending_arrays (first_id INTEGER PRIMARY KEY, last_id INTEGER NOT NULL)")


def _m5_output_files(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE jobs ADD COLUMN output TEXT")  # --output file name pattern (Slurm -o)
    db.execute("ALTER TABLE jobs ADD COLUMN error TEXT")  # --error file name pattern (Slurm -e)


def _m6_reserved(db: sqlite_utils.Database) -> None:
    """Number 6 belongs to the executor handles migration, written on another branch at the same
    time; this stand-in keeps the numbers in order until the two meet (then it is replaced)."""


def _m7_flows_runs_schedules(db: sqlite_utils.Database) -> None:
    # Room for flows (a later issue): nothing reads or writes these yet. A flow is versioned per
    # owner; a run is one execution of a flow version, unique per run key (a logical date, a manual
    # id); a schedule belongs to one flow. ``end`` and ``trigger`` are SQL keywords, hence the names.
    db.execute("""
        CREATE TABLE flows (
            id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, name TEXT NOT NULL,
            version INTEGER NOT NULL, definition TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL,
            UNIQUE (owner, name, version)
        )""")
    db.execute("""
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, flow_id INTEGER NOT NULL REFERENCES flows (id),
            run_key TEXT NOT NULL, state TEXT NOT NULL,
            triggered_by TEXT NOT NULL CHECK (triggered_by IN ('manual', 'scheduled', 'backfill')),
            logical_time REAL, created_at REAL NOT NULL, started_at REAL, ended_at REAL,
            UNIQUE (flow_id, run_key)
        )""")
    db.execute("CREATE INDEX runs_state ON runs (state, flow_id)")  # the active runs of a flow (max_active_runs)
    db.execute("""
        CREATE TABLE schedules (
            flow_id INTEGER PRIMARY KEY REFERENCES flows (id), cron TEXT NOT NULL, tz TEXT NOT NULL DEFAULT 'UTC',
            start_at REAL, end_at REAL, catchup INTEGER NOT NULL DEFAULT 0,
            depends_on_past INTEGER NOT NULL DEFAULT 0, max_active_runs INTEGER NOT NULL DEFAULT 1,
            expired_limit INTEGER, enabled INTEGER NOT NULL DEFAULT 1, next_tick REAL, updated_at REAL NOT NULL
        )""")
    db.execute("CREATE INDEX schedules_due ON schedules (next_tick) WHERE enabled")
    # a job's run and its task name in that run's flow; NULL for every job outside a flow (all, for now)
    db.execute("ALTER TABLE jobs ADD COLUMN run_id INTEGER")
    db.execute("ALTER TABLE jobs ADD COLUMN task TEXT")
    db.execute("CREATE INDEX jobs_run ON jobs (run_id, task) WHERE run_id IS NOT NULL")


def _m8_flow_runs_templates(db: sqlite_utils.Database) -> None:
    # Flows are used now (engine/flowstore.py). ``runs`` was empty until this version (nothing wrote
    # it), so it is made again with what a run needs: its text id (unique alone, C-1), the run key's
    # owner and flow, ``debug`` runs (F9), and the snapshot it was created from (F2). Its state is
    # derived from its jobs (F4); only the user's cancel is stored. ``jobs.run_id`` holds the text id
    # (its INTEGER declaration from version 7 does not stop SQLite from keeping text as text).
    db.execute("DROP TABLE runs")
    db.execute("""
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE,
            flow_id INTEGER NOT NULL REFERENCES flows (id), owner TEXT NOT NULL, flow TEXT NOT NULL,
            run_type TEXT NOT NULL CHECK (run_type IN ('manual', 'scheduled', 'backfill', 'debug')),
            cancelled INTEGER NOT NULL DEFAULT 0, logical_time REAL, created_at REAL NOT NULL,
            source_run TEXT, snapshot TEXT NOT NULL DEFAULT '{}'
        )""")
    db.execute("CREATE INDEX runs_flow ON runs (owner, flow, id)")
    db.execute("ALTER TABLE flows ADD COLUMN hash TEXT")
    db.execute("""
        CREATE TABLE templates (
            id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, version INTEGER NOT NULL,
            definition TEXT NOT NULL, hash TEXT NOT NULL, owner TEXT NOT NULL, created_at REAL NOT NULL,
            UNIQUE (name, version)
        )""")


#: Named migrations, applied in order; index + 1 is the schema version they produce.
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("initial schema: jobs, dependencies, attempts, events, groups", _m1_initial),
    ("jobs.gpu_memory: declared GPU memory for shared GPUs", _m2_gpu_memory),
    ("jobs.array_of: the job array (its first task's id) a job belongs to", _m3_array_of),
    ("pending_arrays: arrays whose tasks are still being stored", _m4_pending_arrays),
    ("jobs.output, jobs.error: --output/--error file names", _m5_output_files),
    ("(reserved: executor handles, from another branch)", _m6_reserved),
    ("flows, runs, schedules; jobs.run_id, jobs.task (empty until flows exist)", _m7_flows_runs_schedules),
    ("runs made for flow runs (text id, owner, snapshot), flows.hash, templates", _m8_flow_runs_templates),
]
#: a job's latest attempt's GPUs (``Job.used_gpus``), read from the attempts table: no column of its own
_USED_GPUS = "(SELECT a.gpus FROM attempts a WHERE a.job_id = jobs.id ORDER BY a.attempt DESC LIMIT 1) AS used_gpus"
_NOT_PENDING = "NOT EXISTS (SELECT 1 FROM pending_arrays p WHERE jobs.id BETWEEN p.first_id AND p.last_id)"

def job_to_row(job: Job) -> dict[str, Any]:
    kind, args = job.reason.to_row() if job.reason else (None, None)
    return {
        "name": job.name, "state": job.state.value, "reason": kind,
        "reason_args": json.dumps(args) if args else None,
        "command": json.dumps(list(job.command)), "script": job.script, "cwd": job.cwd, "env": json.dumps(job.env),
        "gpus": job.gpus, "gpu_ids": json.dumps(list(job.gpu_ids)) if job.gpu_ids is not None else None,
        "allocated_gpus": json.dumps(list(job.allocated_gpus)), "time_limit": job.time_limit,
        "priority": job.priority, "grp": job.group, "dependency": job.dependency, "auto_cancel": int(job.auto_cancel),
        "retries": job.retry.retries, "retry_delay": job.retry.delay, "retry_backoff": job.retry.backoff,
        "retry_max_delay": job.retry.max_delay, "retry_on": ",".join(sorted(job.retry.retry_on)),
        "attempt": job.attempt, "submitted_at": job.submitted_at, "first_started_at": job.first_started_at,
        "started_at": job.started_at, "ended_at": job.ended_at, "retry_at": job.retry_at,
        "exit_code": job.exit_code, "signal": job.signal, "user": job.user, "scope": job.scope,
        "redo_of": job.redo_of, "stopping": job.stopping, "kill_at": job.kill_at, "retry_count": job.retry_count,
        "gpu_memory": job.gpu_memory, "array_of": job.array_of, "output": job.output, "error": job.error,
        "run_id": job.run_id, "task": job.task,
    }


def job_from_row(r: sqlite3.Row | dict[str, Any]) -> Job:
    reason = Reason(r["reason"], json.loads(r["reason_args"]) if r["reason_args"] else {}) if r["reason"] else None
    return Job(
        id=r["id"], name=r["name"], state=JobState(r["state"]), reason=reason,
        command=tuple(json.loads(r["command"])), script=r["script"], cwd=r["cwd"], env=json.loads(r["env"]),
        gpus=r["gpus"], gpu_ids=tuple(json.loads(r["gpu_ids"])) if r["gpu_ids"] else None,
        allocated_gpus=tuple(json.loads(r["allocated_gpus"])), time_limit=r["time_limit"], priority=r["priority"],
        group=r["grp"], dependency=r["dependency"], auto_cancel=bool(r["auto_cancel"]),
        retry=RetryPolicy(retries=r["retries"], delay=r["retry_delay"], backoff=r["retry_backoff"],
                          max_delay=r["retry_max_delay"], retry_on=frozenset(r["retry_on"].split(","))),
        attempt=r["attempt"], submitted_at=r["submitted_at"], first_started_at=r["first_started_at"],
        started_at=r["started_at"], ended_at=r["ended_at"], retry_at=r["retry_at"], exit_code=r["exit_code"],
        signal=r["signal"], user=r["user"], scope=r["scope"], redo_of=r["redo_of"], stopping=r["stopping"],
        kill_at=r["kill_at"], retry_count=r["retry_count"], gpu_memory=r["gpu_memory"],
        array_of=r["array_of"], used_gpus=tuple(json.loads(r["used_gpus"] or "[]")) if "used_gpus" in r.keys() else (),
        output=r["output"], error=r["error"], run_id=r["run_id"], task=r["task"],
    )


def _attempt_from_row(r: sqlite3.Row) -> Attempt:
    reason = Reason(r["reason"], json.loads(r["reason_args"]) if r["reason_args"] else {}) if r["reason"] else None
    return Attempt(job_id=r["job_id"], attempt=r["attempt"], started_at=r["started_at"], pid=r["pid"],
                   proc_start=r["proc_start"], gpus=tuple(json.loads(r["gpus"] or "[]")), ended_at=r["ended_at"],
                   exit_code=r["exit_code"], signal=r["signal"], state=JobState(r["state"]) if r["state"] else None,
                   reason=reason)


def open_failure(path: Path, err: sqlite3.Error) -> "Unavailable":
    """One line for a database that cannot be opened: what is wrong with ``path``, and the fix."""
    from ..core.errors import Unavailable

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
        rows = self.db.execute(f"SELECT *, {_USED_GPUS} FROM jobs WHERE {_NOT_PENDING} ORDER BY id")
        return [job_from_row(r) for r in rows]

    def get_job(self, job_id: int) -> Job | None:
        row = self.db.execute(f"SELECT *, {_USED_GPUS} FROM jobs WHERE id = ?", [job_id]).fetchone()
        return job_from_row(row) if row else None

    def load_edges(self) -> list[tuple[int, int]]:
        return [(r[0], r[1]) for r in self.db.execute("SELECT job_id, parent_id FROM dependencies")]

    def recent_ids(self, *, scope: str | None = None, user: str | None = None, limit: int = 1) -> list[int]:
        """Newest first: the submission history that ``@`` and ``@~N`` resolve against. A job
        array is one entry, its first task's id (docs/rules.md, ``@`` and ``@~N``)."""
        col, value = ("scope", scope) if scope is not None else ("user", user)
        rows = self.db.execute(f"SELECT COALESCE(array_of, id) AS entry FROM jobs WHERE {col} = ? "
                               f"GROUP BY entry ORDER BY entry DESC LIMIT ?", [value, limit])
        return [r[0] for r in rows]

    def array_tasks(self, first_id: int) -> list[int]:
        """The ids of the tasks of the job array whose first task is ``first_id``, in order
        (empty when ``first_id`` is no array's first task)."""
        pending = self.db.execute("SELECT last_id FROM pending_arrays WHERE first_id = ?", [first_id]).fetchone()
        if pending:  # still being stored: its ids are reserved already
            return list(range(first_id, pending[0] + 1))
        rows = self.db.execute("SELECT id FROM jobs WHERE array_of = ? ORDER BY id", [first_id])
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
            pending = self.db.execute(f"SELECT first_id, last_id FROM pending_arrays {where}", args).fetchall()
            for first, last in pending:
                self.db.execute("DELETE FROM dependencies WHERE job_id BETWEEN ? AND ?", [first, last])
                self.db.execute("DELETE FROM jobs WHERE id BETWEEN ? AND ?", [first, last])
                self.db.execute("DELETE FROM pending_arrays WHERE first_id = ?", [first])
        return len(pending)

    def max_job_id(self) -> int:
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").fetchone()
        return row[0] if row else 0

    # -- attempts -------------------------------------------------------------------------
    def insert_attempt(self, a: Attempt) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO attempts (job_id, attempt, started_at, pid, proc_start, gpus) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            [a.job_id, a.attempt, a.started_at, a.pid, a.proc_start, json.dumps(list(a.gpus))])

    def record_launch(self, handle: Any) -> None:
        """The process of an attempt recorded as starting (``insert_attempt`` without a pid)."""
        with self.transaction():
            self.db.execute("UPDATE attempts SET pid = ?, proc_start = ? WHERE job_id = ? AND attempt = ?",
                            [handle.pid, handle.proc_start, handle.job_id, handle.attempt])

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
        rows = self.db.execute("SELECT * FROM attempts WHERE job_id = ? ORDER BY attempt", [job_id])
        return [_attempt_from_row(r) for r in rows]

    def open_attempts(self) -> list[Attempt]:
        """Attempts that were running when the host last stopped (to re-adopt or mark Lost)."""
        rows = self.db.execute("SELECT a.* FROM attempts a JOIN jobs j ON j.id = a.job_id "
                               "WHERE a.ended_at IS NULL AND j.state = 'Running' AND j.attempt = a.attempt")
        return [_attempt_from_row(r) for r in rows]

    # -- events ---------------------------------------------------------------------------
    def append_event(self, kind: str, job_id: int | None = None, data: dict[str, Any] | None = None,
                     ts: float | None = None) -> int:
        with self.transaction():
            cur = self.db.execute("INSERT INTO events (ts, job_id, kind, data) VALUES (?, ?, ?, ?)",
                                  [ts if ts is not None else time.time(), job_id, kind, json.dumps(data or {})])
            return cur.lastrowid

    def last_event_seq(self) -> int:
        """The seq of the newest event ever stored (0 when there was none), even once purged."""
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return max(row[0] if row else 0,
                   self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def first_event_seq(self) -> int:
        """The seq of the oldest event still stored (0 when there is none): a replay from before
        it would have a gap, the purged events."""
        return self.db.execute("SELECT COALESCE(MIN(seq), 0) FROM events").fetchone()[0]

    def events_since(self, seq: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", [seq, limit])
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
                for r in self.db.execute("SELECT * FROM groups")}

    def save_group(self, group: Group) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO groups (name, parallel, paused) VALUES (?, ?, ?)",
                            [group.name, group.limit, int(group.paused)])

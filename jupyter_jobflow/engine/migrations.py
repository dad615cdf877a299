"""The store's schema, as named migrations applied in order on open: index + 1 is the schema version
each produces (``PRAGMA user_version``). A migration is never edited once released: a change to
the schema is a new one at the end (``tests/test_store_upgrade.py`` upgrades a database written by
an earlier release)."""

from __future__ import annotations

from typing import Callable

import sqlite_utils


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


def _m6_executor_handles(db: sqlite_utils.Database) -> None:
    # the executor seam: each job names its executor; each attempt keeps its executor's opaque
    # handle (JSON). Today's local attempts' pid columns become local handles; the columns stay
    # (SQLite drops a column only by copying the table) but nothing reads them afterwards.
    db.execute("ALTER TABLE jobs ADD COLUMN executor TEXT NOT NULL DEFAULT 'local'")
    # a Slurm job's own options for sbatch (--partition, --mem...), JSON, and the Slurm job id of its
    # latest attempt (gjob show, gqueue); NULL for other executors
    db.execute("ALTER TABLE jobs ADD COLUMN slurm TEXT")
    db.execute("ALTER TABLE jobs ADD COLUMN slurm_job_id INTEGER")
    db.execute("ALTER TABLE attempts ADD COLUMN handle TEXT")
    db.execute("UPDATE attempts SET handle = json_object('pid', pid, 'start', proc_start, 'job', job_id, "
               "'attempt', attempt) WHERE pid IS NOT NULL")


def _m7_flows_runs_templates_schedules(db: sqlite_utils.Database) -> None:
    # Flows (engine/flowstore.py): a flow is versioned per owner (same content, same version: its
    # hash); a template is versioned and visible to every user. A run has a text id, unique alone
    # (``<flow>__<run_type>__<timestamp>__<uuid>``), its run key's owner and flow, and the snapshot
    # it was created from; its state is derived from its jobs, only the user's cancel is stored.
    # A schedule belongs to one flow (a later issue). ``end`` and ``trigger`` are SQL keywords.
    db.execute("""
        CREATE TABLE flows (
            id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, name TEXT NOT NULL,
            version INTEGER NOT NULL, definition TEXT NOT NULL DEFAULT '{}', hash TEXT, created_at REAL NOT NULL,
            UNIQUE (owner, name, version)
        )""")
    db.execute("""
        CREATE TABLE templates (
            id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, version INTEGER NOT NULL,
            definition TEXT NOT NULL, hash TEXT NOT NULL, owner TEXT NOT NULL, created_at REAL NOT NULL,
            UNIQUE (name, version)
        )""")
    db.execute("""
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE,
            flow_id INTEGER NOT NULL REFERENCES flows (id), owner TEXT NOT NULL, flow TEXT NOT NULL,
            run_type TEXT NOT NULL CHECK (run_type IN ('manual', 'scheduled', 'backfill', 'debug')),
            cancelled INTEGER NOT NULL DEFAULT 0, logical_time REAL, created_at REAL NOT NULL,
            source_run TEXT, snapshot TEXT NOT NULL DEFAULT '{}'
        )""")
    db.execute("CREATE INDEX runs_flow ON runs (owner, flow, id)")
    # A schedule belongs to a flow by (owner, name) (engine/schedules.py); ``next_tick`` is the first
    # tick not yet handled (the cursor a restart resumes from). A run's ``logical_time`` is its tick
    # (execution_date); ``status``: NULL for a run with jobs, ``waiting`` (created, held by P5/P6: no
    # jobs yet), ``skipped`` (a tick Missed or Expired) or ``cancelled`` (cancelled while waiting),
    # with ``reason``; ``marked``: gpipe mark-success; ``batch``: the backfill it belongs to. P2: one
    # scheduled run per (owner, flow, tick).
    db.execute("""
        CREATE TABLE schedules (
            owner TEXT NOT NULL, flow TEXT NOT NULL, cron TEXT NOT NULL, tz TEXT NOT NULL DEFAULT 'UTC',
            start_at REAL NOT NULL, end_at REAL, catchup INTEGER NOT NULL DEFAULT 0,
            depends_on_past INTEGER NOT NULL DEFAULT 0, max_active_runs INTEGER NOT NULL DEFAULT 1,
            expired_limit INTEGER NOT NULL DEFAULT 0, enabled INTEGER NOT NULL DEFAULT 1, next_tick REAL,
            cwd TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL,
            PRIMARY KEY (owner, flow)
        )""")
    db.execute("CREATE INDEX schedules_due ON schedules (next_tick) WHERE enabled")
    db.execute("""
        CREATE TABLE backfills (
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, flow TEXT NOT NULL, max_active_runs INTEGER NOT NULL,
            backwards INTEGER NOT NULL DEFAULT 0, first_tick REAL, created_at REAL NOT NULL
        )""")
    for column in ("status TEXT", "reason TEXT", "marked INTEGER NOT NULL DEFAULT 0", "batch TEXT"):
        db.execute(f"ALTER TABLE runs ADD COLUMN {column}")
    db.execute("CREATE UNIQUE INDEX runs_scheduled_tick ON runs (owner, flow, logical_time) "
               "WHERE run_type = 'scheduled'")
    db.execute("CREATE INDEX runs_tick ON runs (owner, flow, logical_time) WHERE logical_time IS NOT NULL")
    db.execute("CREATE INDEX runs_waiting ON runs (owner, flow) WHERE status = 'waiting'")
    # a job's run (its text id) and its task name in that run's flow; NULL for every job outside a flow
    db.execute("ALTER TABLE jobs ADD COLUMN run_id TEXT")
    db.execute("ALTER TABLE jobs ADD COLUMN task TEXT")
    db.execute("CREATE INDEX jobs_run ON jobs (run_id, task) WHERE run_id IS NOT NULL")




#: Named migrations, applied in order; index + 1 is the schema version they produce.
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("initial schema: jobs, dependencies, attempts, events, groups", _m1_initial),
    ("jobs.gpu_memory: declared GPU memory for shared GPUs", _m2_gpu_memory),
    ("jobs.array_of: the job array (its first task's id) a job belongs to", _m3_array_of),
    ("pending_arrays: arrays whose tasks are still being stored", _m4_pending_arrays),
    ("jobs.output, jobs.error: --output/--error file names", _m5_output_files),
    ("jobs.executor, jobs.slurm, jobs.slurm_job_id, attempts.handle: the executor per job, its handle per attempt",
     _m6_executor_handles),
    ("flows, templates, runs, schedules, backfills; jobs.run_id, jobs.task: a job's flow run and task",
     _m7_flows_runs_templates_schedules),
]

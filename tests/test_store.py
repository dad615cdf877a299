"""The store: schema version and migrations, round trips, ids never reused."""

import sqlite3

import pytest

from jupyter_jobflow.core.errors import Unavailable
from jupyter_jobflow.core.model import Job, JobState, Reason, RetryPolicy
from jupyter_jobflow.engine.store import MIGRATIONS, Store


def test_new_store_is_at_latest_schema_version_and_in_wal_mode(tmp_path):
    store = Store(tmp_path / "db")
    assert store.schema_version() == len(MIGRATIONS)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_reopening_keeps_data_and_runs_no_migration_twice(tmp_path):
    store = Store(tmp_path / "db")
    job_id = store.insert_job(Job(id=0, name="a", command=("true",), submitted_at=1.0), [])
    store.close()
    again = Store(tmp_path / "db")
    assert again.get_job(job_id).name == "a" and again.schema_version() == len(MIGRATIONS)
    again.close()


def test_store_from_a_newer_version_is_refused_untouched(tmp_path):
    conn = sqlite3.connect(tmp_path / "db")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(Unavailable, match="newer than this jupyter-jobflow understands"):
        Store(tmp_path / "db")
    assert sqlite3.connect(tmp_path / "db").execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1


def test_job_round_trips_every_field(tmp_path):
    store = Store(tmp_path / "db")
    job = Job(id=0, name="train", command=("python", "t.py"), state=JobState.QUEUED,
              reason=Reason("RetryBackoff", {"attempt": 2, "of": 3, "at": 5.0}), script="echo", cwd="/tmp",
              env={"A": "1"}, gpus=2, gpu_ids=(0, 2), allocated_gpus=(0, 2), time_limit=60.0, priority=3,
              group="g", dependency="afterok:1+00:01:00", auto_cancel=False,
              retry=RetryPolicy(retries=2, delay=1.5, backoff=2.0, max_delay=9.0, retry_on=frozenset({"timeout"})),
              attempt=1, submitted_at=1.0, first_started_at=2.0, started_at=2.0, ended_at=3.0, retry_at=5.0,
              exit_code=1, signal=None, user="u", scope="s", redo_of=None, stopping=None, kill_at=None, retry_count=1)
    job_id = store.insert_job(job, [])
    assert store.get_job(job_id) == job.evolve(id=job_id)
    store.close()


def test_ids_are_never_reused_even_after_the_newest_row_is_gone(tmp_path):
    store = Store(tmp_path / "db")
    first = store.insert_job(Job(id=0, name="a", command=("true",), submitted_at=1.0), [])
    with store.transaction():
        store.db.execute("DELETE FROM jobs WHERE id = ?", [first])  # as a future purge would
    second = store.insert_job(Job(id=0, name="b", command=("true",), submitted_at=1.0), [])
    assert second > first
    store.close()


def test_failed_transaction_leaves_nothing_behind(tmp_path):
    store = Store(tmp_path / "db")
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.insert_job(Job(id=0, name="a", command=("true",), submitted_at=1.0), [])
            raise RuntimeError("boom")
    assert store.load_jobs() == []
    store.close()


def test_migration_6_turns_the_pid_columns_of_existing_attempts_into_local_handles(tmp_path):
    import sqlite_utils

    conn = sqlite3.connect(tmp_path / "db", isolation_level=None)
    db = sqlite_utils.Database(conn)
    for _name, migration in MIGRATIONS[:5]:  # a database written by the release before the seam
        migration(db)
    conn.execute("PRAGMA user_version = 5")
    conn.execute("INSERT INTO jobs (name, state, command, submitted_at, attempt) VALUES ('a', 'Running', '[\"x\"]', 1, 2)")
    conn.execute("INSERT INTO attempts (job_id, attempt, started_at, pid, proc_start, gpus) VALUES (1, 1, 1, NULL, NULL, '[]')")
    conn.execute("INSERT INTO attempts (job_id, attempt, started_at, pid, proc_start, gpus) VALUES (1, 2, 2, 4242, 3.5, '[]')")
    conn.close()
    store = Store(tmp_path / "db")
    assert store.schema_version() >= 6
    assert [a.handle for a in store.attempts(1)] == [None, {"pid": 4242, "start": 3.5, "job": 1, "attempt": 2}]
    assert store.get_job(1).executor == "local"
    store.close()

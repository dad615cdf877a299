"""A database written by the last release (schema 5, ``tests/data/jobflow-schema5.db``, made by
``tests/data/make_schema5_db.py`` with that release's code) opens with this code: every job,
attempt, dependency edge, group and event is still there with its fields, the flows/runs/schedules
tables are added empty, jobs go on running, and opening it again changes nothing. A database from
a newer jupyter-jobflow is refused in one line, untouched."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from helpers import stop_everything, wait_job_state

from jupyter_jobflow.core.errors import Unavailable
from jupyter_jobflow.core.model import JobState, Reason
from jupyter_jobflow.engine.service import JobService
from jupyter_jobflow.engine.store import MIGRATIONS

SCHEMA5 = Path(__file__).resolve().parent / "data" / "jobflow-schema5.db"
OLD_TABLES = ("jobs", "attempts", "dependencies", "groups", "events", "pending_arrays")
NEW_TABLES = ("flows", "templates", "runs", "schedules")


def _copy(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    shutil.copy(SCHEMA5, state / "jobflow.db")
    return state


def _read(path: Path, sql: str) -> list[dict]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute(sql)]
    finally:
        db.close()


def _version(path: Path) -> int:
    return _read(path, "PRAGMA user_version")[0]["user_version"]


def _tables(path: Path) -> dict[str, list[dict]]:
    return {t: _read(path, f"SELECT * FROM {t} ORDER BY rowid") for t in OLD_TABLES}


def _schema(path: Path) -> list[dict]:
    return _read(path, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")


def test_the_checked_in_database_is_the_last_releases_schema():
    assert _version(SCHEMA5) == 5 and SCHEMA5.stat().st_size < 200_000
    assert {r["name"] for r in _schema(SCHEMA5)}.isdisjoint(NEW_TABLES)


def test_a_schema5_database_keeps_every_job_attempt_edge_group_and_event(tmp_path):
    state = _copy(tmp_path)
    before = _tables(state / "jobflow.db")
    svc = JobService(state, kill_grace=1.0).start()
    try:
        after = _tables(state / "jobflow.db")
        assert svc.store.schema_version() == len(MIGRATIONS) == 7
        # every old row, every old column, as it was; each job on the local executor, each attempt's
        # pid columns also kept as its executor handle (migration 6); the flow labels empty (7)
        for row in after["jobs"]:
            assert (row.pop("executor"), row.pop("run_id"), row.pop("task")) == ("local", None, None)
            assert (row.pop("slurm"), row.pop("slurm_job_id")) == (None, None)  # no Slurm options, no Slurm id (8)
        for row in after["attempts"]:
            handle = row.pop("handle")
            assert (json.loads(handle) if handle else None) == \
                ({"pid": row["pid"], "start": row["proc_start"], "job": row["job_id"], "attempt": row["attempt"]}
                 if row["pid"] is not None else None)
        assert after == before
        # and read back as the service sees them
        ok = svc.get(1)
        assert (ok.name, ok.state, ok.gpus, ok.used_gpus, ok.priority, ok.time_limit, ok.env, ok.output, ok.group,
                ok.exit_code, ok.user) == ("ok", JobState.FINISHED, 1, (0,), 5, 600.0, {"EXPERIMENT": "e1"},
                                           "ok-%j.out", "train", 0, "alice")
        bad = svc.get(2)
        assert (bad.state, bad.reason, bad.attempt, bad.retry_count, bad.retry.retries) == \
            (JobState.FAILED, Reason("ExitCode", {"code": 3}), 2, 1, 1)
        assert [(a.attempt, a.exit_code, a.state) for a in svc.attempts(2)] == [(1, 3, JobState.FAILED),
                                                                              (2, 3, JobState.FAILED)]
        assert [(svc.get(i).name, svc.get(i).array_of, svc.get(i).group, svc.get(i).state) for i in (3, 4, 5)] == \
            [(f"sweep[{n}]", 3, "array-3", JobState.FINISHED) for n in range(3)]
        cell = svc.get(6)
        assert (cell.state, cell.script, cell.command[1:3]) == \
            (JobState.FINISHED, "x = 6 * 7\nprint(x)\n", ("-m", "jupyter_jobflow.cellrunner"))
        assert (svc.get(7).state, svc.get(7).reason) == (JobState.HOLD, Reason("JobHeldUser"))
        assert (svc.get(8).state, svc.get(8).dependency) == (JobState.QUEUED, "afterok:7")
        assert (svc.get(9).state, svc.get(9).reason.kind) == (JobState.CANCELLED, "CancelledByUser")
        assert (svc.get(10).state, svc.get(10).reason) == \
            (JobState.CANCELLED, Reason("DependencyFailed", {"job": 2, "condition": "afterok:2"}))
        assert (svc.get(11).redo_of, svc.get(11).state) == (2, JobState.FAILED)
        assert {g.name: g.limit for g in svc.store.groups().values()} == {"train": 2, "array-3": 1}
        assert (svc.engine.dependents[7], svc.engine.dependents[2]) == ({8, 9}, {10})
        assert [e["seq"] for e in svc.events_since(0)][:len(before["events"])] == \
            [e["seq"] for e in before["events"]]
        # the new tables are there, and empty
        for table in NEW_TABLES:
            assert _read(state / "jobflow.db", f"SELECT count(*) AS n FROM {table}") == [{"n": 0}]
        # and the queue goes on: the held job's release lets its dependent run; a new job gets a new id
        svc.release(7)
        wait_job_state(svc, 8, JobState.FINISHED)
        new = svc.submit(["sh", "-c", "echo after the upgrade"])
        assert new.id == 12
        wait_job_state(svc, new.id, JobState.FINISHED)
        assert svc.read_log(new.id)[0] == "after the upgrade\n"
    finally:
        stop_everything(svc)


def test_opening_an_upgraded_database_again_changes_nothing(tmp_path):
    state = _copy(tmp_path)
    JobService(state, kill_grace=1.0).start().close()
    schema, rows = _schema(state / "jobflow.db"), _tables(state / "jobflow.db")
    assert _version(state / "jobflow.db") == len(MIGRATIONS)
    JobService(state, kill_grace=1.0).start().close()
    assert (_schema(state / "jobflow.db"), _tables(state / "jobflow.db")) == (schema, rows)
    assert _version(state / "jobflow.db") == len(MIGRATIONS)


def test_a_database_from_a_newer_release_is_refused_in_one_line_and_left_alone(tmp_path):
    state = _copy(tmp_path)
    newer = len(MIGRATIONS) + 1
    with sqlite3.connect(state / "jobflow.db") as db:
        db.execute(f"PRAGMA user_version = {newer}")
    schema = _schema(state / "jobflow.db")
    with pytest.raises(Unavailable) as err:
        JobService(state, kill_grace=1.0).start()
    assert str(err.value) == (f"{state}/jobflow.db has schema version {newer}, newer than this jupyter-jobflow "
                              f"understands ({len(MIGRATIONS)}); upgrade jupyter-jobflow")
    assert (_version(state / "jobflow.db"), _schema(state / "jobflow.db")) == (newer, schema)

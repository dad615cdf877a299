"""Retention: purging finished jobs removes everything of them, keeps what active jobs need, runs by
itself as the clock moves, and bounds what the event stream sends and the host keeps."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from helpers import stop_everything, wait_job_state, wait_terminal

from jupyter_jobflow.core import wire
from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.model import Job, JobState
from jupyter_jobflow.engine.retention import format_ids, parse_retention
from jupyter_jobflow.engine.service import JobService
from jupyter_jobflow.engine.store import Store
from jupyter_jobflow.notebook.jobhandle import pack_inputs

DAY = 86400.0
SH = ["sh", "-c"]


class Clock:
    """Real time plus what a test adds to ``now`` (``clock.now += 31 * DAY``)."""

    def __init__(self) -> None:
        self.offset = 0.0

    @property
    def now(self) -> float:
        return time.time() + self.offset

    @now.setter
    def now(self, value: float) -> None:
        self.offset += value - self.now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def svc(state_dir, clock):
    s = JobService(state_dir, kill_grace=1.0, clock=clock, purge_poll=3600).start()
    yield s
    stop_everything(s)


def rows(state_dir: Path, sql: str, *args) -> list:
    with sqlite3.connect(state_dir / "jobflow.db") as db:
        return db.execute(sql, args).fetchall()


def files_of(state_dir: Path, job_id: int) -> list[str]:
    found = [p for p in (state_dir / "logs" / str(job_id), state_dir / "scripts" / str(job_id),
                         state_dir / "vars" / str(job_id)) if p.exists()]
    found += list((state_dir / "status").glob(f"{job_id}.*"))
    return sorted(str(p.relative_to(state_dir)) for p in found)


def test_purge_removes_every_trace_of_a_job_and_never_reuses_its_id(svc, state_dir, clock):
    inputs = state_dir / "vars" / "in" / "x.pkl"
    pack_inputs(("x",), {"x": 41}, inputs)
    cell = svc.submit([sys.executable, "-m", "jupyter_jobflow.cellrunner", "--name", "cell", "--vars-dir",
                       str(state_dir / "vars"), "--inputs", str(inputs), "--outputs", "y"], script="y = x + 1\n")
    flaky = svc.submit(SH + ["echo try; exit 3"], retries=1)
    keep = svc.submit(SH + ["sleep 60"])  # still running: never purged, however old
    for jid in (cell.id, flaky.id):
        wait_terminal(svc, jid)
    wait_job_state(svc, keep.id, JobState.RUNNING)
    assert svc.get(cell.id).state is JobState.FINISHED and svc.get(flaky.id).attempt == 2
    assert files_of(state_dir, cell.id) == [f"logs/{cell.id}", f"scripts/{cell.id}", f"status/{cell.id}.1",
                                            f"vars/{cell.id}"]
    assert files_of(state_dir, flaky.id) == [f"logs/{flaky.id}", f"status/{flaky.id}.1", f"status/{flaky.id}.2"]
    wire.job_json_text(svc.get(cell.id))

    clock.now += 31 * DAY
    dry = svc.purge(dry_run=True)
    assert dry.ids == [cell.id, flaky.id] and dry.dry_run
    assert dry.render().startswith(f"Would purge 2 jobs that ended more than 30-00:00:00 ago: {cell.id}-{flaky.id}")
    assert svc.get(cell.id) and files_of(state_dir, cell.id) and inputs.exists()  # a dry run changes nothing

    report = svc.purge()
    assert report.ids == [cell.id, flaky.id]
    assert report.counts["jobs"] == 2 and report.counts["attempts"] == 3
    for jid in (cell.id, flaky.id):
        assert jid not in svc.engine.jobs and jid not in wire._texts
        assert svc.store.get_job(jid) is None and svc.store.attempts(jid) == []
        assert rows(state_dir, "SELECT COUNT(*) FROM events WHERE job_id = ?", jid) == [(0,)]
        assert files_of(state_dir, jid) == []
    assert not inputs.exists()
    assert [j.id for j in svc.list()] == [keep.id]
    purged = [e for e in svc.events_since(0) if e["kind"] == "purged"]
    assert purged[-1]["ids"] == [cell.id, flaky.id]
    assert svc.submit(["true"]).id == keep.id + 1  # ids are never reused


def test_purge_keeps_what_a_waiting_job_or_an_active_array_still_needs(svc, state_dir, clock):
    parent = svc.submit(["true"], name="parent")
    wait_terminal(svc, parent.id)
    child = svc.submit(["true"], dependency=f"afterok:{parent.id}", hold=True)  # waits on the parent
    array = svc.submit(["true"], array="0-1", hold=True)
    first, second = array.array_ids
    svc.release(first)
    wait_terminal(svc, first)
    done = svc.submit(["true"], name="done")
    wait_terminal(svc, done.id)

    clock.now += 40 * DAY
    report = svc.purge()
    assert report.ids == [done.id] and report.kept == [parent.id, first]
    assert "Kept 2 that active jobs still need" in report.render()
    assert parent.id in svc.engine.jobs and first in svc.engine.jobs

    svc.cancel([child.id, second])  # nothing active needs them now; the cancelled ones ended just now
    report = svc.purge()
    assert report.ids == [parent.id, first]
    assert rows(state_dir, "SELECT job_id, parent_id FROM dependencies") == []
    assert dict(svc.engine.dependents) == {}
    assert svc.engine.specs[child.id].job_ids() == (parent.id,)  # the kept child still names its parent


def test_the_host_purges_by_itself_as_its_clock_moves(state_dir, clock):
    svc = JobService(state_dir, clock=clock, purge_poll=0.02).start()
    try:
        old = svc.submit(["true"])
        wait_terminal(svc, old.id)
        clock.now += 29 * DAY
        time.sleep(0.1)  # a few looks at the clock: not old enough yet
        assert old.id in svc.engine.jobs
        clock.now += 2 * DAY
        deadline = time.monotonic() + 10
        while old.id in svc.engine.jobs and time.monotonic() < deadline:
            time.sleep(0.02)
        assert old.id not in svc.engine.jobs and svc.store.get_job(old.id) is None
    finally:
        stop_everything(svc)


def test_retention_is_configurable_and_none_keeps_everything(state_dir, clock, monkeypatch):
    svc = JobService(state_dir, clock=clock, retention="none", purge_poll=3600).start()
    try:
        job = svc.submit(["true"])
        wait_terminal(svc, job.id)
        clock.now += 400 * DAY
        assert svc.purge().ids == [] and svc.purge().render() == "Retention is off (none): no job is purged"
        assert svc.purge(older_than="7-0").ids == [job.id]  # on demand, with an age of its own
    finally:
        stop_everything(svc)
    monkeypatch.setenv("JOBFLOW_RETENTION", "12h")
    assert parse_retention(None) == 12 * 3600
    assert parse_retention("30d") == parse_retention("30-0") == 30 * DAY and parse_retention(0) is None
    with pytest.raises(InvalidSpec, match='^Invalid retention "soon": expected a duration like 30d'):
        parse_retention("soon")
    assert format_ids([1, 2, 3, 7, 9, 10]) == "1-3,7,9-10"


def test_a_restart_purges_what_aged_while_the_host_was_down(state_dir, clock):
    svc = JobService(state_dir, clock=clock, purge_poll=3600).start()
    job = svc.submit(["true"])
    wait_terminal(svc, job.id)
    svc.close()
    clock.now += 31 * DAY
    svc = JobService(state_dir, clock=clock, purge_poll=3600).start()
    try:
        deadline = time.monotonic() + 10  # the first purge runs in its thread, as the host serves
        while (svc.list() or files_of(state_dir, job.id)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert svc.list() == [] and files_of(state_dir, job.id) == []
    finally:
        stop_everything(svc)


# -- the event stream and paging, through a real daemon --------------------------------------------
def insert_finished(state_dir: Path, n: int, ended_at: float) -> None:
    """``n`` finished jobs stored in bulk, as a long-lived host would hold them."""
    store = Store(state_dir / "jobflow.db")
    with store.transaction():
        for i in range(n):
            store.insert_job(Job(id=0, name=f"old{i}", command=("true",), state=JobState.FINISHED, reason=None,
                                 attempt=1, submitted_at=ended_at - 1, started_at=ended_at - 1,
                                 ended_at=ended_at + i * 1e-3, exit_code=0), [])
    store.close()


def test_the_stream_snapshot_is_bounded_and_get_jobs_pages_the_rest(tmp_path):
    from server_support import Daemon

    state = tmp_path / "s"
    insert_finished(state, 1200, time.time() - 3600)  # recent: only the newest 1,000 in the snapshot
    insert_finished(state, 300, time.time() - 3 * DAY)  # older than a day: none in the snapshot
    daemon = Daemon(state)
    try:
        waiting = daemon.ok("POST", "jobs", {"command": "true", "hold": True})
        ws = daemon.events()
        snapshot = json.loads(ws.recv())
        ws.close()
        ids = [j["id"] for j in snapshot["jobs"]]
        assert (snapshot["total"], snapshot["omitted"], len(ids)) == (1501, 500, 1001)
        assert ids == list(range(201, 1201)) + [waiting["id"]]
        paged, offset = [], 0
        while True:
            page = daemon.ok("GET", f"jobs?offset={offset}&limit=400")
            assert page["total"] == 1501
            paged += [j["id"] for j in page["jobs"]]
            offset += 400
            if not page["jobs"]:
                break
        assert paged == list(range(1, 1502))
    finally:
        daemon.cancel_everything()
        daemon.stop()


def test_jobflow_purge_dry_run_changes_nothing_then_purges(tmp_path):
    from server_support import Daemon
    from test_cli import command_env, run_cli

    state = tmp_path / "s"
    insert_finished(state, 3, time.time() - 40 * DAY)
    daemon = Daemon(state, "--retention", "none")  # the host keeps them: only the command purges
    try:
        env = command_env(state)
        dry = run_cli(env, "jobflow", "purge", "--older-than", "30d", "--dry-run")
        assert (dry.returncode, dry.stderr) == (0, "")
        assert dry.stdout == "Would purge 3 jobs that ended more than 30-00:00:00 ago: 1-3\n"
        assert daemon.ok("GET", "jobs")["total"] == 3 and len(rows(state, "SELECT id FROM jobs")) == 3
        off = run_cli(env, "jobflow", "purge")
        assert off.stdout == "Retention is off (none): no job is purged\n"
        bad = run_cli(env, "jobflow", "purge", "--older-than", "soon")
        assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and 'Invalid retention "soon"' in bad.stderr
        done = run_cli(env, "jobflow", "purge", "--older-than", "30d")
        assert done.stdout == "Purged 3 jobs that ended more than 30-00:00:00 ago: 1-3\n"
        assert daemon.ok("GET", "jobs")["total"] == 0 and rows(state, "SELECT id FROM jobs") == []
        status, reply = daemon.request("POST", "purge", {"older_than": "1d", "dry_run": "yes"})
        assert status == 400 and reply["message"] == 'Field "dry_run" must be true or false, got a string'
    finally:
        daemon.stop()

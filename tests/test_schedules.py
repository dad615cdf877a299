"""Schedules on a real service and a FakeClock (no test sleeps until a tick): items 20-25 of the edge-case list,
P1-P11, a cron edit, a restart in the middle of a catch-up, a three-day outage, DST in the engine,
100 schedules on one minute, the tick's template variables in scheduled and backfill runs."""

from __future__ import annotations

import sqlite3
import time

import pytest

from jupyter_jobflow.core.errors import Conflict, InvalidSpec
from jupyter_jobflow.core.schedule import parse_time
from jupyter_jobflow.engine.clock import FakeClock
from jupyter_jobflow.engine.service import JobService

from helpers import stop_everything

HOUR, DAY = 3600.0, 86400.0
T0 = parse_time("2026-11-02T00:00:30", "UTC")  # 30 s after midnight: the 00:00 tick has just passed


def eventually(fn, timeout=20.0):
    """Real time only for the service's own threads to react; the schedule's time is the FakeClock."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never true: {fn}")
        time.sleep(0.02)


def table(svc, flow):
    """Oldest first: (execution_date, run_type, state, reason)."""
    rows = [(r["execution_date"], r["run_type"], r["state"], r["reason"]) for r in svc.runs(flow)]
    return sorted(rows)


def settled(svc, flow, n):
    """The flow's runs once there are ``n`` and none is active (Queued or Running)."""
    def done():
        rows = table(svc, flow)
        still = [r for r in rows if r[2] == "Running" or (r[2] == "Queued" and
                                                          not r[3].startswith("PreviousRunNotSucceeded"))]
        return rows if len(rows) == n and not still else None
    return eventually(done)


@pytest.fixture
def clock():
    return FakeClock(T0)


@pytest.fixture
def svc(tmp_path, clock):
    s = JobService(tmp_path / "state", simulated_gpus=2, kill_grace=1.0, clock=clock).start()
    yield s
    stop_everything(s)


def flow(svc, name="etl", command="true"):
    svc.save_flow(name, f"tasks:\n  work: {{command: {command!r}}}\n")


def test_item20_enable_with_catchup_off_after_three_missed_ticks_one_run_two_missed(svc):
    flow(svc)
    svc.set_schedule("etl", cron="0 * * * *", start="2026-11-01T22:00")
    assert settled(svc, "etl", 3) == [
        ("2026-11-01T22:00:00+00:00", "scheduled", "Skipped", "Missed"),
        ("2026-11-01T23:00:00+00:00", "scheduled", "Skipped", "Missed"),
        ("2026-11-02T00:00:00+00:00", "scheduled", "Finished", "")]


def test_item21_no_run_is_created_before_its_tick(svc, clock):
    flow(svc)
    svc.set_schedule("etl", cron="0 * * * *")  # start: now, 00:00:30; the first tick is 01:00
    assert svc.schedules()[0]["next_tick"] == "2026-11-02T01:00:00+00:00"
    clock.advance(HOUR - 31)  # 00:59:59
    time.sleep(0.2)  # the loop was woken by the clock and found nothing due
    assert svc.runs("etl") == []
    clock.advance(1)
    assert settled(svc, "etl", 1) == [("2026-11-02T01:00:00+00:00", "scheduled", "Finished", "")]
    run = svc.runs("etl")[0]
    assert run["created_at"] >= parse_time("2026-11-02T01:00", "UTC")


def test_catchup_on_runs_every_tick_oldest_first_and_p2_allows_one_scheduled_run_per_tick(svc):
    flow(svc)
    svc.set_schedule("etl", cron="0 * * * *", start="2026-11-01T21:00", catchup=True, max_active_runs=1)
    rows = settled(svc, "etl", 4)
    assert [r[0][11:16] for r in rows] == ["21:00", "22:00", "23:00", "00:00"] and {r[2] for r in rows} == {"Finished"}
    started = sorted((r["started_at"], r["execution_date"]) for r in svc.runs("etl"))
    assert [e for _, e in started] == [r[0] for r in rows]  # oldest first
    row = svc.store.db.execute("SELECT * FROM runs WHERE run_type = 'scheduled' LIMIT 1").fetchone()
    with pytest.raises(sqlite3.IntegrityError):  # P2: the unique index, not a later clean-up
        svc.store.db.execute("INSERT INTO runs (run_id, flow_id, owner, flow, run_type, created_at, logical_time) "
                             "VALUES ('dup', ?, ?, ?, 'scheduled', 0, ?)",
                             [row["flow_id"], row["owner"], row["flow"], row["logical_time"]])


def test_a_restart_in_the_middle_of_a_catchup_creates_no_tick_twice(tmp_path, clock):
    state = tmp_path / "state"
    svc = JobService(state, simulated_gpus=2, clock=clock).start()
    flow(svc)
    svc.set_schedule("etl", cron="0 * * * *", start="2026-11-01T19:00", catchup=True, max_active_runs=2)
    settled(svc, "etl", 6)
    stop_everything(svc)
    # the host died after storing the runs but before moving the cursor: the next start goes over them again
    db = sqlite3.connect(state / "jobflow.db")
    db.execute("UPDATE schedules SET next_tick = ?", [parse_time("2026-11-01T19:00", "UTC")])
    db.commit()
    db.close()
    clock.advance(2 * HOUR)
    svc = JobService(state, simulated_gpus=2, clock=clock).start()
    try:
        rows = settled(svc, "etl", 8)
        assert [r[0][11:16] for r in rows] == ["19:00", "20:00", "21:00", "22:00", "23:00", "00:00", "01:00", "02:00"]
        assert {r[2] for r in rows} == {"Finished"}
    finally:
        stop_everything(svc)


@pytest.mark.parametrize("catchup,expected", [
    (False, [("Skipped", "Missed"), ("Skipped", "Missed"), ("Finished", "")]),
    (True, [("Finished", ""), ("Finished", ""), ("Finished", "")])])
def test_a_three_day_outage_does_exactly_what_p3_says(tmp_path, clock, catchup, expected):
    state = tmp_path / "state"
    svc = JobService(state, simulated_gpus=2, clock=clock).start()
    flow(svc)
    svc.set_schedule("etl", cron="0 2 * * *", tz="Europe/Berlin", start="2026-11-01", catchup=catchup)
    rows = settled(svc, "etl", 1)
    assert rows[0][:3] == ("2026-11-01T02:00:00+01:00", "scheduled", "Finished")
    stop_everything(svc)
    clock.advance(3 * DAY)  # the host is off for three ticks
    svc = JobService(state, simulated_gpus=2, clock=clock).start()
    try:
        rows = settled(svc, "etl", 4)[1:]
        assert [r[0] for r in rows] == ["2026-11-02T02:00:00+01:00", "2026-11-03T02:00:00+01:00",
                                        "2026-11-04T02:00:00+01:00"]
        assert [r[2:] for r in rows] == expected
    finally:
        stop_everything(svc)


def test_item22_depends_on_past_holds_today_until_yesterday_is_fixed(svc, clock, tmp_path):
    marker = tmp_path / "fixed"
    flow(svc, command=f"test -f {marker}")
    svc.set_schedule("etl", cron="0 0 * * *", start="2026-11-02T00:00", depends_on_past=True)
    first = settled(svc, "etl", 1)
    assert first[0][2] == "Failed"  # the first tick is exempt, and fails
    clock.advance(DAY)
    rows = settled(svc, "etl", 2)
    yesterday = [r for r in svc.runs("etl") if r["execution_date"].startswith("2026-11-02")][0]["run_id"]
    assert rows[1][2:] == ("Queued", f"PreviousRunNotSucceeded({yesterday})")
    today = [r for r in svc.runs("etl") if r["execution_date"].startswith("2026-11-03")][0]
    assert today["tasks"] == 1 and svc.run(today["run_id"])["tasks"][0]["job_id"] is None  # nothing started
    marker.write_text("")
    svc.resume_run(yesterday)  # rerun yesterday: today starts
    assert settled(svc, "etl", 2) == [(rows[0][0], "scheduled", "Finished", ""), (rows[1][0], "scheduled", "Finished", "")]


def test_mark_success_is_the_explicit_override_of_depends_on_past(svc, clock):
    flow(svc, command="exit 3")
    svc.set_schedule("etl", cron="0 0 * * *", start="2026-11-02T00:00", depends_on_past=True)
    settled(svc, "etl", 1)
    yesterday = svc.runs("etl")[0]["run_id"]
    clock.advance(DAY)
    rows = settled(svc, "etl", 2)
    assert rows[1][3] == f"PreviousRunNotSucceeded({yesterday})"
    assert svc.mark_success(yesterday)["state"] == "Finished"
    assert svc.run(yesterday)["reason"] == "MarkedSuccess"
    eventually(lambda: table(svc, "etl")[1][2] == "Failed")  # today ran (and failed: its command exits 3)


def test_item23_expired_limit_keeps_the_newest_pending_tick_and_leaves_a_running_run_alone(svc, clock, tmp_path):
    go = tmp_path / "go"
    flow(svc, command=f"while [ ! -f {go} ]; do sleep 0.05; done")
    svc.set_schedule("etl", cron="0 * * * *", expired_limit=1, max_active_runs=1)
    clock.advance(HOUR)
    running = eventually(lambda: [r for r in svc.runs("etl") if r["state"] == "Running"])[0]["run_id"]
    for n in (2, 3, 4):  # three ticks, each seen by the loop (not an outage: no tick is missed)
        clock.advance(HOUR)
        eventually(lambda: len(svc.runs("etl")) == n)
    rows = eventually(lambda: (t := table(svc, "etl")) and [r[2:] for r in t] == [
        ("Running", ""), ("Skipped", "Expired"), ("Skipped", "Expired"), ("Queued", "MaxActiveRuns(1)")] and t)
    assert rows[0][0] == "2026-11-02T01:00:00+00:00" and svc.run(running)["state"] == "Running"
    go.write_text("")
    assert [r[2:] for r in settled(svc, "etl", 4)] == [("Finished", ""), ("Skipped", "Expired"),
                                                       ("Skipped", "Expired"), ("Finished", "")]


def test_item24_a_manual_run_blocks_a_scheduled_one_a_debug_run_does_not(svc, clock, tmp_path):
    go = tmp_path / "go"
    flow(svc, command=f"while [ ! -f {go} ]; do sleep 0.05; done")
    svc.set_schedule("etl", cron="0 * * * *", max_active_runs=1)
    debug = svc.run_task("etl", "work")
    eventually(lambda: svc.run(debug["run_id"])["state"] == "Running")
    clock.advance(HOUR)
    scheduled = eventually(lambda: [r for r in svc.runs("etl") if r["run_type"] == "scheduled"])[0]
    eventually(lambda: svc.run(scheduled["run_id"])["state"] == "Running")  # the debug run did not block it
    go.write_text("")
    eventually(lambda: svc.run(scheduled["run_id"])["state"] == "Finished")
    go.unlink()
    manual = svc.create_run("etl")
    eventually(lambda: svc.run(manual["run_id"])["state"] == "Running")
    clock.advance(HOUR)
    nxt = eventually(lambda: [r for r in svc.runs("etl") if r["execution_date"].startswith("2026-11-02T02")])[0]
    eventually(lambda: svc.run(nxt["run_id"])["reason"] == "MaxActiveRuns(1)")
    assert svc.run(nxt["run_id"])["state"] == "Queued"
    go.write_text("")
    eventually(lambda: svc.run(nxt["run_id"])["state"] == "Finished")


def test_item25_backfill_skips_a_running_tick_and_the_dry_run_lists_actions(svc, clock, tmp_path):
    go = tmp_path / "go"
    flow(svc, command=f"while [ ! -f {go} ]; do sleep 0.05; done")
    svc.set_schedule("etl", cron="0 * * * *", start="2026-11-02T00:00")
    eventually(lambda: [r for r in svc.runs("etl") if r["state"] == "Running"])
    dry = svc.backfill("etl", "2026-11-01T21:00", "2026-11-02T00:00", dry_run=True)
    assert [(t["execution_date"][11:16], t["action"]) for t in dry["ticks"]] == [
        ("21:00", "create"), ("22:00", "create"), ("23:00", "create"), ("00:00", "skip: running")]
    assert dry["run_ids"] == [] and len(svc.runs("etl")) == 1  # a dry run creates nothing
    go.write_text("")
    done = svc.backfill("etl", "2026-11-01T21:00", "2026-11-02T00:00", max_active_runs=3)
    assert len(done["run_ids"]) == 3
    rows = settled(svc, "etl", 4)
    assert [(r[1], r[2]) for r in rows] == [("backfill", "Finished")] * 3 + [("scheduled", "Finished")]
    again = svc.backfill("etl", "2026-11-01T21:00", "2026-11-02T00:00", dry_run=True, reprocess="none")
    assert {t["action"] for t in again["ticks"]} == {"skip: exists (Finished)"}
    assert [t["action"] for t in svc.backfill("etl", "2026-11-02T00:00", "2026-11-02T00:00", dry_run=True,
                                              reprocess="completed")["ticks"]] == ["create"]


def test_the_ticks_template_variables_in_scheduled_and_backfill_runs(svc):
    svc.save_flow("etl", "tasks:\n  work: {command: 'echo {{execution_date}} / {{data_interval_start}} / "
                         "{{data_interval_end}}'}\n")
    svc.set_schedule("etl", cron="0 2 * * *", tz="Europe/Berlin", start="2026-11-01T00:00", catchup=True)
    settled(svc, "etl", 1)
    svc.backfill("etl", "2026-10-30", "2026-10-31")
    settled(svc, "etl", 2)
    logs = {r["execution_date"]: svc.run_log(r["run_id"])["text"] for r in svc.runs("etl")}
    assert logs == {"2026-11-01T02:00:00+01:00": "[work 1] 2026-11-01 02:00:00 / 2026-10-31 02:00:00 / "
                                                 "2026-11-01 02:00:00\n",
                    "2026-10-30T02:00:00+01:00": "[work 1] 2026-10-30 02:00:00 / 2026-10-29 02:00:00 / "
                                                 "2026-10-30 02:00:00\n"}


def test_an_edit_of_the_cron_expression_backfills_no_old_tick(svc, clock):
    flow(svc)
    svc.set_schedule("etl", cron="0 * * * *", start="2026-11-02T00:00", catchup=True)
    settled(svc, "etl", 1)
    clock.advance(2 * HOUR)  # 02:00:30; the 01:00 and 02:00 ticks run
    settled(svc, "etl", 3)
    edited = svc.set_schedule("etl", cron="30 * * * *")  # catch-up still on, start moves to now
    assert edited["start"] == "2026-11-02T02:00:30+00:00" and edited["next_tick"] == "2026-11-02T02:30:00+00:00"
    clock.advance(HOUR)
    rows = settled(svc, "etl", 4)
    assert [r[0][11:16] for r in rows] == ["00:00", "01:00", "02:00", "02:30"]  # nothing at :30 before the edit


def test_p11_a_paused_schedule_creates_nothing_and_p3_applies_on_re_enable(svc, clock):
    flow(svc)
    svc.set_schedule("etl", cron="0 * * * *", enabled=False)
    clock.advance(3 * HOUR)
    time.sleep(0.2)
    assert svc.runs("etl") == []
    assert svc.set_schedule("etl", enabled=True)["enabled"]
    rows = settled(svc, "etl", 3)
    assert [r[2:] for r in rows] == [("Skipped", "Missed"), ("Skipped", "Missed"), ("Finished", "")]


def test_dst_in_the_engine_one_run_at_the_first_valid_time(tmp_path):
    clock = FakeClock(parse_time("2026-03-28T12:00", "Europe/Berlin"))
    svc = JobService(tmp_path / "state", simulated_gpus=2, clock=clock).start()
    try:
        flow(svc)
        svc.set_schedule("etl", cron="30 2 * * *", tz="Europe/Berlin")
        clock.advance(DAY)
        assert settled(svc, "etl", 1) == [("2026-03-29T03:00:00+02:00", "scheduled", "Finished", "")]
        clock.advance(DAY)
        assert [r[0] for r in settled(svc, "etl", 2)][1] == "2026-03-30T02:30:00+02:00"
    finally:
        stop_everything(svc)


def test_100_schedules_firing_at_the_same_minute_each_run_once(svc, clock):
    for i in range(100):
        flow(svc, f"f{i}")
        svc.set_schedule(f"f{i}", cron="0 * * * *")
    clock.advance(HOUR)
    eventually(lambda: all(len(svc.runs(f"f{i}")) == 1 for i in range(100)), timeout=120)
    eventually(lambda: all(svc.runs(f"f{i}")[0]["state"] == "Finished" for i in range(100)), timeout=120)
    ticks = svc.store.db.execute("SELECT COUNT(*), COUNT(DISTINCT flow), MIN(logical_time), MAX(logical_time) "
                                 "FROM runs").fetchone()
    assert tuple(ticks) == (100, 100, T0 - 30 + HOUR, T0 - 30 + HOUR)


def test_definition_errors_and_refusals_are_one_line(svc):
    flow(svc)
    with pytest.raises(InvalidSpec, match=r'^Invalid cron expression "61 \* \* \* \*": minute value 61 out of range'):
        svc.set_schedule("etl", cron="61 * * * *")
    with pytest.raises(InvalidSpec, match=r"^Flow etl has no schedule yet; give one with: gpipe schedule etl --cron"):
        svc.set_schedule("etl", enabled=False)
    with pytest.raises(InvalidSpec, match=r"would create more than 10000 runs"):
        svc.set_schedule("etl", cron="* * * * *", start="2026-01-01", catchup=True)
    svc.set_schedule("etl", cron="0 * * * *", start="2026-11-01T23:00", catchup=False)
    skipped = eventually(lambda: [r for r in svc.runs("etl") if r["state"] == "Skipped"])[0]["run_id"]
    with pytest.raises(Conflict, match=r"never started \(Skipped\); run its tick with: gpipe backfill etl"):
        svc.resume_run(skipped)
    with pytest.raises(InvalidSpec, match=r"^Unknown --reprocess \"all\""):
        svc.backfill("etl", "2026-11-01", "2026-11-02", reprocess="all")


def test_ticks_are_published_on_the_runs_topic_and_run_task_never_takes_a_run_that_never_ran(svc):
    seen = []
    svc.subscribe_runs(seen.append)
    flow(svc)
    svc.set_schedule("etl", cron="0 * * * *", start="2026-11-01T23:00")
    eventually(lambda: ("Skipped", "Missed") in {(e["state"], e["reason"]) for e in seen} and
               any(e["state"] == "Finished" and e["run_type"] == "scheduled" for e in seen))
    missed = [r for r in svc.runs("etl") if r["state"] == "Skipped"][0]["run_id"]
    ran = [r for r in svc.runs("etl") if r["state"] == "Finished"][0]["run_id"]
    svc.mark_success(missed)  # now "Finished" too, but it never ran: run-task takes the one that did
    assert svc.run_task("etl", "work")["source_run"] == ran
    with pytest.raises(Conflict, match=r"never ran \(Skipped\); give a run that did"):
        svc.run_task("etl", "work", run=missed)


def test_the_reply_shows_the_next_five_ticks_across_the_autumn_dst_change(tmp_path):
    clock = FakeClock(parse_time("2026-10-23T12:00", "Europe/Berlin"))
    svc = JobService(tmp_path / "state", simulated_gpus=2, clock=clock).start()
    try:
        flow(svc)
        put = svc.set_schedule("etl", cron="0 2 * * *", tz="Europe/Berlin")
        expected = ["2026-10-24T02:00:00+02:00", "2026-10-25T02:00:00+02:00",  # 02:00 twice that night: the first
                    "2026-10-26T02:00:00+01:00", "2026-10-27T02:00:00+01:00", "2026-10-28T02:00:00+01:00"]
        assert put["next_ticks"] == expected and svc.schedule("etl")["next_ticks"] == expected
        assert svc.set_schedule("etl", end="2026-10-25T12:00")["next_ticks"] == expected[:2]  # none after the end
    finally:
        stop_everything(svc)

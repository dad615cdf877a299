"""``gpipe schedule/schedules/backfill/mark-success`` and the schedule routes on a real daemon (real
time, so ticks are whole days before today): the interface's JSON, one-line errors."""

from __future__ import annotations

import datetime as dt
import json
import time

from test_gpipe import gpipe


def day(n: int) -> str:
    return (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=n)).isoformat()


def wait(fn, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not (value := fn()):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return value


def test_schedule_verbs_and_their_json(daemon, tmp_path):
    (tmp_path / "flow.yaml").write_text('tasks:\n  work: {command: "echo {{execution_date}}"}\n')
    assert gpipe(daemon, "create", "etl", str(tmp_path / "flow.yaml")).returncode == 0
    bad = gpipe(daemon, "schedule", "etl", "--cron", "61 * * * *")
    assert bad.returncode == 1 and bad.stderr == \
        'gpipe: error: Invalid cron expression "61 * * * *": minute value 61 out of range 0-59\n'
    out = gpipe(daemon, "schedule", "etl", "--cron", "@daily", "--start", day(-3), "--max-active-runs", "2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith('Flow etl: "0 0 * * *" in UTC, enabled, next tick ') and "max_active_runs=2" in out.stdout
    listed = json.loads(gpipe(daemon, "schedules", "-o", "json").stdout)
    assert [{k: s[k] for k in ("flow", "cron", "tz", "enabled")} for s in listed] == \
        [{"flow": "etl", "cron": "0 0 * * *", "tz": "UTC", "enabled": True}]
    assert listed[0]["next_tick"] == f"{day(1)}T00:00:00+00:00"
    runs = wait(lambda: (r := json.loads(gpipe(daemon, "runs", "etl", "-o", "json").stdout)) and
                all(x["state"] in ("Finished", "Skipped") for x in r) and len(r) == 4 and r)
    rows = sorted((r["execution_date"], r["run_type"], r["state"], r["reason"]) for r in runs)
    assert rows == [(f"{day(-3)}T00:00:00+00:00", "scheduled", "Skipped", "Missed"),
                    (f"{day(-2)}T00:00:00+00:00", "scheduled", "Skipped", "Missed"),
                    (f"{day(-1)}T00:00:00+00:00", "scheduled", "Skipped", "Missed"),
                    (f"{day(0)}T00:00:00+00:00", "scheduled", "Finished", "")]
    assert all({"run_id", "run_type", "execution_date", "state", "reason"} <= set(r) for r in runs)
    dry = json.loads(gpipe(daemon, "backfill", "etl", "--from", day(-2), "--to", day(0), "--dry-run", "-o", "json").stdout)
    assert dry == [{"execution_date": f"{day(-2)}T00:00:00+00:00", "action": "create"},
                   {"execution_date": f"{day(-1)}T00:00:00+00:00", "action": "create"},
                   {"execution_date": f"{day(0)}T00:00:00+00:00", "action": "skip: exists (Finished)"}]
    made = gpipe(daemon, "backfill", "etl", "--from", day(-2), "--to", day(0))
    assert made.stdout.endswith("Created 2 backfill runs of flow etl\n"), made.stderr
    wait(lambda: sum(r["state"] == "Finished" for r in json.loads(gpipe(daemon, "runs", "etl", "-o", "json").stdout)) == 3)
    skipped = [r for r in json.loads(gpipe(daemon, "runs", "etl", "-o", "json").stdout) if r["state"] == "Skipped"][0]
    assert gpipe(daemon, "mark-success", skipped["run_id"]).stdout == f"Marked run {skipped['run_id']} as successful\n"
    table = gpipe(daemon, "runs", "etl").stdout.splitlines()
    assert table[0].split()[:5] == ["RUN_ID", "FLOW", "TYPE", "EXECUTION_DATE", "STATE"] and len(table) == 7
    off = gpipe(daemon, "schedule", "etl", "--disable")
    assert "disabled, next tick -" in off.stdout
    assert "no" in gpipe(daemon, "schedules").stdout.splitlines()[1].split()
    # REST: the same, and bodies checked in one line
    assert daemon.ok("GET", "flows/etl/schedule")["enabled"] is False
    status, body = daemon.request("PUT", "flows/etl/schedule", {"max_active_runs": True})[:2]
    assert status == 400 and body["message"] == 'Field "max_active_runs" of PUT flows/{name}/schedule must be a number'
    status, body = daemon.request("POST", "flows/etl/backfill", {"from": day(-1)})[:2]
    assert status == 400 and body["message"] == 'POST flows/{name}/backfill needs "to"'
    assert daemon.request("GET", "flows/nope/schedule")[0] == 404
    assert daemon.request("POST", "runs/nope/mark-success")[0] == 404
    bf = daemon.ok("POST", "flows/etl/backfill", {"from": day(-1), "to": day(-1), "dry_run": True})
    assert bf["ticks"] == [{"execution_date": f"{day(-1)}T00:00:00+00:00", "action": "skip: exists (Finished)"}]

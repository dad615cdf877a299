"""The schedule rules, pure (core/schedule.py, core/schedgate.py): ticks in a time zone across both
daylight-saving changes, P9's one-line errors, the minimum interval, P1-P8 decisions, P4's plan."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.schedgate import Batch, Waiting, due, gate, plan_backfill
from jupyter_jobflow.core.schedule import (Schedule, iso, next_tick, parse_time, previous_tick, ticks_between,
                                           validate)


def local(t, tz):
    return iso(t, tz)


def between(cron, tz, a, b):
    return [local(t, tz) for t in ticks_between(cron, tz, parse_time(a, tz), parse_time(b, tz))]


@pytest.mark.parametrize("tz,day,offsets", [("Europe/Berlin", "2026-03-29", ("+01:00", "+02:00")),
                                            ("America/New_York", "2026-03-08", ("-05:00", "-04:00"))])
def test_spring_forward_a_tick_in_the_skipped_hour_runs_once_at_the_first_valid_time(tz, day, offsets):
    before, after = offsets
    prev_day = f"{day[:-2]}{int(day[-2:]) - 1:02d}"
    next_day = f"{day[:-2]}{int(day[-2:]) + 1:02d}"
    assert between("30 2 * * *", tz, f"{prev_day}T00:00", f"{next_day}T23:00") == [
        f"{prev_day}T02:30:00{before}", f"{day}T03:00:00{after}", f"{next_day}T02:30:00{after}"]
    # every quarter hour of the skipped hour lands on 03:00, and 03:00 itself too: one tick
    assert between("*/15 * * * *", tz, f"{day}T01:30", f"{day}T03:15") == [
        f"{day}T01:30:00{before}", f"{day}T01:45:00{before}", f"{day}T03:00:00{after}", f"{day}T03:15:00{after}"]


@pytest.mark.parametrize("tz,day,offsets", [("Europe/Berlin", "2026-10-25", ("+02:00", "+01:00")),
                                            ("America/New_York", "2026-11-01", ("-04:00", "-05:00"))])
def test_fall_back_a_tick_in_the_repeated_hour_runs_once(tz, day, offsets):
    summer, winter = offsets
    hour = "02" if tz == "Europe/Berlin" else "01"  # the hour that happens twice
    got = between(f"30 {int(hour)} * * *", tz, f"{day}T00:00", f"{day}T23:00")
    assert got == [f"{day}T{hour}:30:00{summer}"]
    hourly = between("0 * * * *", tz, f"{day}T{int(hour) - 1:02d}:00", f"{day}T{int(hour) + 2:02d}:00")
    assert hourly == [f"{day}T{int(hour) - 1:02d}:00:00{summer}", f"{day}T{hour}:00:00{summer}",
                      f"{day}T{int(hour) + 1:02d}:00:00{winter}", f"{day}T{int(hour) + 2:02d}:00:00{winter}"]
    # from inside the second pass of the repeated hour, the next tick is after it, never the first pass again
    second = parse_time(f"{day}T{hour}:10:00{winter}", tz)
    assert local(next_tick(f"30 {int(hour)} * * *", tz, second), tz).startswith(f"{day[:-2]}{int(day[-2:]) + 1:02d}")


def test_a_year_of_daily_ticks_takes_milliseconds():
    start = parse_time("2026-01-01", "Europe/Berlin")
    began = time.perf_counter()
    ticks = ticks_between("0 2 * * *", "Europe/Berlin", start, start + 365 * 86400)
    assert len(ticks) == 365 and time.perf_counter() - began < 0.5
    assert len(set(ticks)) == 365 and ticks == sorted(ticks)


@pytest.mark.parametrize("schedule,message", [
    (Schedule("0 2 * * *", depends_on_past=True, expired_limit=2),
     "depends_on_past cannot be combined with expired_limit: an expired run would block all later runs forever"),
    (Schedule("0 2 * * *", max_active_runs=0), "max_active_runs must be >= 1"),
    (Schedule("0 2 * * *", expired_limit=-1), "expired_limit must be >= 0"),
    (Schedule("61 * * * *"), 'Invalid cron expression "61 * * * *": minute value 61 out of range 0-59'),
    (Schedule("0 2 * * *", catchup=True), "catchup=True requires cronjob_start_time (give --start)"),
    (Schedule("0 2 * *"), 'Invalid cron expression "0 2 * *": expected 5 fields (minute hour day-of-month month '
                          'day-of-week) or an alias such as @daily, got 4'),
    (Schedule("0 2 * * *", tz="Mars/Olympus"), 'Unknown time zone "Mars/Olympus": give an IANA name such as UTC, '
                                               'Europe/Berlin or America/New_York'),
])
def test_p9_definition_errors_are_one_line_each(schedule, message):
    with pytest.raises(InvalidSpec) as err:
        validate(schedule)
    assert str(err.value) == message


def test_the_minimum_interval_refuses_expressions_firing_more_often_and_aliases_expand():
    assert validate(Schedule("* * * * *")).cron == "* * * * *"  # 60 s: the default minimum
    with pytest.raises(InvalidSpec, match=r'fires every 60 s, more often than the minimum interval of 300 s'):
        validate(Schedule("*/1 * * * *"), min_interval=300)
    assert validate(Schedule("@daily")).cron == "0 0 * * *"


def test_p3_catchup_off_runs_only_the_latest_missed_tick_and_lists_the_others():
    s = Schedule("0 * * * *", start=0.0)
    d = due(s, 3600.0, 3 * 3600 + 30)
    assert (d.create, d.missed, d.cursor) == ((3 * 3600.0,), (3600.0, 7200.0), 4 * 3600.0)
    on = due(Schedule("0 * * * *", start=0.0, catchup=True), 3600.0, 3 * 3600 + 30)
    assert (on.create, on.missed, on.cursor) == ((3600.0, 7200.0, 10800.0), (), 4 * 3600.0)


@settings(max_examples=200, deadline=None)
@given(cursor=st.integers(0, 10 * 86400), ahead=st.integers(0, 3 * 86400), catchup=st.booleans(),
       cron=st.sampled_from(["0 * * * *", "*/7 * * * *", "30 2 * * *", "0 0 * * 1"]))
def test_p1_no_tick_is_ever_due_before_it_comes_and_none_is_handed_twice(cursor, ahead, catchup, cron):
    s = Schedule(cron, start=0.0, catchup=catchup)
    first = next_tick(cron, "UTC", cursor, inclusive=True)
    now = cursor + ahead
    d = due(s, first, now)
    assert all(t <= now for t in d.create + d.missed)
    assert len(set(d.create + d.missed)) == len(d.create + d.missed)
    assert d.cursor is None or d.cursor > max(d.create + d.missed, default=-1)
    if d.create and d.cursor is not None:  # the next pass starts where this one stopped
        again = due(s, d.cursor, now)
        assert not set(again.create + again.missed) & set(d.create + d.missed)


def W(run_id, tick, batch=None):
    return Waiting(run_id, "backfill" if batch else "scheduled", tick, batch)


def test_p7_then_p5_then_p6_on_the_waiting_runs():
    s = Schedule("0 * * * *", start=0.0, max_active_runs=1, expired_limit=1)
    g = gate(s, [W("a", 3600), W("b", 7200), W("c", 10800)], active=1, active_in={}, batches={},
             previous=lambda t: t - 3600, latest=lambda t: None)
    assert (g.expire, g.admit, g.wait) == (["a", "b"], [], {"c": "MaxActiveRuns(1)"})
    past = Schedule("0 * * * *", start=0.0, depends_on_past=True, max_active_runs=5)
    g = gate(past, [W("b", 7200), W("first", 0)], active=0, active_in={}, batches={},
             previous=lambda t: t - 3600, latest=lambda t: ("a", "Failed") if t == 3600 else None)
    assert g.admit == ["first"] and g.wait == {"b": "PreviousRunNotSucceeded(a)"}  # the first tick is exempt
    g = gate(past, [W("b", 7200)], active=0, active_in={}, batches={}, previous=lambda t: t - 3600,
             latest=lambda t: ("a", "Finished"))
    assert g.admit == ["b"]
    # a backfill has its own limit, and may run newest first
    g = gate(Schedule("0 * * * *", start=0.0), [W("x", 3600, "bf"), W("y", 7200, "bf"), W("z", 10800, "bf")],
             active=5, active_in={"bf": 1}, batches={"bf": Batch(2, backwards=True)}, previous=lambda t: t - 3600,
             latest=lambda t: None)
    assert g.admit == ["z"] and g.wait == {"y": "MaxActiveRuns(2)", "x": "MaxActiveRuns(2)"}


def test_p4_backfill_plan_actions():
    states = {0: ("r0", "Finished"), 3600: ("r1", "Running"), 7200: ("r2", "Failed"), 10800: ("r3", "Skipped")}
    ticks = [0, 3600, 7200, 10800, 14400]
    look = states.get
    assert plan_backfill(ticks, look, "none") == [(0, "skip: exists (Finished)"), (3600, "skip: running"),
                                                  (7200, "skip: exists (Failed)"), (10800, "create"), (14400, "create")]
    assert [a for _, a in plan_backfill(ticks, look, "failed")] == [
        "skip: exists (Finished)", "skip: running", "create", "create", "create"]
    assert [a for _, a in plan_backfill(ticks, look, "completed")] == [
        "create", "skip: running", "create", "create", "create"]
    assert [t for t, _ in plan_backfill(ticks, look, "none", backwards=True)] == ticks[::-1]


def test_previous_tick_and_parse_time():
    tz = "Europe/Berlin"
    assert local(previous_tick("30 2 * * *", tz, parse_time("2026-03-29T03:00", tz)), tz) == "2026-03-28T02:30:00+01:00"
    assert parse_time("2026-11-01T02:00:00+00:00", tz) == parse_time("2026-11-01T03:00", tz)
    with pytest.raises(InvalidSpec, match=r'^Bad time "yesterday": expected ISO 8601'):
        parse_time("yesterday", tz)

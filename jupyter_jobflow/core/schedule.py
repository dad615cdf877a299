"""A flow's schedule, pure: its cron ticks in a time zone, and the definition-time checks (P9).

Ticks are wall-clock times of the schedule's zone (croniter iterates them on naive local times),
each turned into one instant, so the daylight-saving rule is one rule (docs/schedules.md):

- a wall time inside the skipped hour (spring forward) does not exist: its tick is the first
  valid time after it, the instant of the change (02:30 in Europe/Berlin on the last Sunday of
  March runs at 03:00 CEST); several ticks that land on that instant are one tick;
- a wall time inside the repeated hour (fall back) exists twice: its tick is the first of the
  two, so it runs once (``fold=0``).

Times given to and returned by this module are POSIX seconds (floats).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidSpec

MAX_COUNT = 100_000  # max_active_runs, expired_limit: beyond it, a typo
DEFAULT_MIN_INTERVAL = 60.0  # seconds between two ticks, at least (cube-studio's cron resolution)
ALIASES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
           "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7))
_NAMES = re.compile(r"^[A-Za-z]{3}$")
_SAMPLE_TICKS = 400  # ticks looked at for the minimum interval (a cron's pattern repeats within them)
_BACK = _dt.timedelta(hours=3)  # wall time looked back from an instant (covers a repeated hour)


@dataclass(frozen=True)
class Schedule:
    """A flow's schedule (docs/schedules.md). ``start``/``end``: instants (``end`` None: open);
    ``expired_limit`` 0: off."""

    cron: str
    tz: str = "UTC"
    start: float | None = None
    end: float | None = None
    catchup: bool = False
    depends_on_past: bool = False
    max_active_runs: int = 1
    expired_limit: int = 0
    enabled: bool = True


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidSpec(f'Unknown time zone "{tz}": give an IANA name such as UTC, Europe/Berlin or '
                          f"America/New_York") from None


def normalise_cron(expr: str) -> str:
    """The 5-field form of ``expr`` (an alias expanded), or InvalidSpec naming the bad field (P9)."""
    text = " ".join(str(expr).split())
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            raise InvalidSpec(f'Invalid cron expression "{text}": unknown alias; use one of {", ".join(ALIASES)}')
        return ALIASES[text.lower()]
    fields = text.split(" ")
    if len(fields) != 5:
        raise InvalidSpec(f'Invalid cron expression "{text}": expected 5 fields (minute hour day-of-month month '
                          f"day-of-week) or an alias such as @daily, got {len(fields)}")
    for field, (name, low, high) in zip(fields, _FIELDS):
        for part in field.split(","):
            values, _, step = part.partition("/")
            if step and not step.isdigit():
                raise InvalidSpec(f'Invalid cron expression "{text}": {name} step "{step}" is not a number')
            for value in values.split("-"):
                if value in ("*", "?") or _NAMES.match(value):
                    continue
                if not value.isdigit():
                    raise InvalidSpec(f'Invalid cron expression "{text}": {name} value "{value}" is not a number')
                if not low <= int(value) <= high:
                    raise InvalidSpec(f'Invalid cron expression "{text}": {name} value {value} out of range '
                                      f"{low}-{high}")
    from croniter import croniter

    try:
        croniter(text, _dt.datetime(2000, 1, 1))
    except (ValueError, KeyError) as err:
        raise InvalidSpec(f'Invalid cron expression "{text}": {" ".join(str(err).split())}') from None
    return text


def _walls(cron: str, after: _dt.datetime) -> Iterator[_dt.datetime]:
    """Wall times of ``cron`` strictly after the naive ``after``, in order."""
    from croniter import croniter

    it = croniter(cron, after)
    while True:
        yield it.get_next(_dt.datetime)


def to_instant(wall: _dt.datetime, tz: ZoneInfo) -> float:
    """The instant of a naive wall time: the first of two (repeated hour); the first valid time
    after it, the change's instant, when it does not exist (skipped hour)."""
    first = wall.replace(tzinfo=tz, fold=0).timestamp()
    if _dt.datetime.fromtimestamp(first, tz).replace(tzinfo=None) == wall:
        later = wall.replace(tzinfo=tz, fold=1).timestamp()
        return min(first, later)
    low, high = wall.replace(tzinfo=tz, fold=1).timestamp(), first  # the change lies between
    low, high = min(low, high), max(low, high)
    while high - low > 1:  # the first instant whose wall time is past ``wall``
        mid = (low + high) // 2
        if _dt.datetime.fromtimestamp(mid, tz).replace(tzinfo=None) > wall:
            high = mid
        else:
            low = mid
    return float(high)


def _margin(t: float, zone_: ZoneInfo) -> _dt.timedelta:
    """How far in wall time to look around ``t`` for ticks whose instant lands on its side: the
    offset may change nearby (a repeated or skipped hour), else nothing (croniter is slow: a
    per-minute cron would walk 180 ticks for nothing)."""
    before = _dt.datetime.fromtimestamp(t - _BACK.total_seconds(), zone_).utcoffset()
    after = _dt.datetime.fromtimestamp(t + _BACK.total_seconds(), zone_).utcoffset()
    return _BACK if before != after else _dt.timedelta(0)


def ticks_after(cron: str, tz: str, after: float, *, inclusive: bool = False) -> Iterator[float]:
    """The ticks (instants) of ``cron`` in ``tz`` after ``after`` (or at it, ``inclusive``), in
    order, each once."""
    zone_ = zone(tz)
    wall = _dt.datetime.fromtimestamp(after, zone_).replace(tzinfo=None) - _margin(after, zone_)
    last = None
    for w in _walls(cron, wall.replace(microsecond=0) - _dt.timedelta(seconds=1)):
        t = to_instant(w, zone_)
        if t < after or (t == after and not inclusive) or t == last:
            continue
        last = t
        yield t


def next_tick(cron: str, tz: str, after: float, *, inclusive: bool = False) -> float:
    return next(ticks_after(cron, tz, after, inclusive=inclusive))


def ticks_between(cron: str, tz: str, first: float, last: float, *, limit: int | None = None) -> list[float]:
    """Every tick ``t`` with ``first <= t <= last``, oldest first; ``limit``: at most so many
    (InvalidSpec beyond it)."""
    out = []
    for t in ticks_after(cron, tz, first, inclusive=True):
        if t > last:
            break
        out.append(t)
        if limit is not None and len(out) > limit:
            raise InvalidSpec(f"The range holds more than {limit} ticks of \"{cron}\"; give a shorter range")
    return out


def ticks_before(cron: str, tz: str, before: float) -> Iterator[float]:
    """The ticks strictly before ``before``, newest first, each once; ends 5 years back at most."""
    from croniter import croniter

    zone_ = zone(tz)
    wall = _dt.datetime.fromtimestamp(before, zone_).replace(tzinfo=None) + _margin(before, zone_)
    it = croniter(cron, wall.replace(microsecond=0) + _dt.timedelta(seconds=1))
    horizon, last = before - 5 * 366 * 86400, None
    while True:
        t = to_instant(it.get_prev(_dt.datetime), zone_)
        if t < horizon:
            return
        if t < before and t != last:
            last = t
            yield t


def previous_tick(cron: str, tz: str, before: float) -> float | None:
    """The last tick strictly before ``before`` (None when the expression has none in 5 years)."""
    return next(ticks_before(cron, tz, before), None)


def min_gap(cron: str) -> float:
    """The shortest interval between two ticks of ``cron`` (in wall time, over a sample)."""
    walls = _walls(cron, _dt.datetime(2001, 1, 1))
    prev, gap = next(walls), float("inf")
    for _ in range(_SAMPLE_TICKS):
        w = next(walls)
        gap = min(gap, (w - prev).total_seconds())
        prev = w
    return gap


def validate(s: Schedule, *, min_interval: float = DEFAULT_MIN_INTERVAL) -> Schedule:
    """P9, one line each; returns the schedule with its cron expression in 5-field form."""
    cron = normalise_cron(s.cron)
    zone(s.tz)
    if s.max_active_runs < 1:
        raise InvalidSpec("max_active_runs must be >= 1")
    if s.expired_limit < 0:
        raise InvalidSpec("expired_limit must be >= 0")
    if max(s.max_active_runs, s.expired_limit) > MAX_COUNT:
        raise InvalidSpec(f"max_active_runs and expired_limit must be <= {MAX_COUNT}")
    if s.depends_on_past and s.expired_limit > 0:
        raise InvalidSpec("depends_on_past cannot be combined with expired_limit: an expired run would block all "
                          "later runs forever")
    if s.catchup and s.start is None:
        raise InvalidSpec("catchup=True requires cronjob_start_time (give --start)")
    if s.end is not None and s.start is not None and s.end < s.start:
        raise InvalidSpec("The schedule's end is before its start; give --end after --start")
    gap = min_gap(cron)
    if gap < min_interval:
        raise InvalidSpec(f'Cron expression "{s.cron}" fires every {gap:g} s, more often than the minimum interval '
                          f"of {min_interval:g} s; use a coarser expression")
    return Schedule(cron, s.tz, s.start, s.end, s.catchup, s.depends_on_past, s.max_active_runs, s.expired_limit,
                    s.enabled)


def parse_time(text: str, tz: str, what: str = "time") -> float:
    """An ISO 8601 date or date-time; without an offset it is a wall time of ``tz``."""
    try:
        when = _dt.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidSpec(f'Bad {what} "{text}": expected ISO 8601, e.g. 2026-11-01 or 2026-11-01T02:00') from None
    if when.tzinfo is None:
        return to_instant(when, zone(tz))
    return when.timestamp()


def iso(t: float | None, tz: str = "UTC") -> str | None:
    """An instant as ISO 8601 with its offset, in ``tz``."""
    if t is None:
        return None
    return _dt.datetime.fromtimestamp(t, zone(tz)).isoformat()

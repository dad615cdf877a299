"""What a schedule does at an instant, pure (docs/schedules.md, rules P1-P8): which ticks get a run, which are
recorded as missed, which waiting runs expire, start or keep waiting, and a backfill's plan (P4).

The engine (engine/schedules.py) reads the store, asks these functions, and stores the answer in
one transaction; nothing here reads a clock or the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from .schedule import Schedule, next_tick, ticks_after, ticks_before

#: missed ticks recorded one by one after an outage, at most (the newest; older gaps are logged)
MISSED_RECORDED = 1000
PER_PASS = 1000  # catch-up runs created per pass of the tick loop (a long backlog goes on at once)
ACTIVE_STATES = frozenset({"Queued", "Running"})
REPROCESS = ("none", "failed", "completed")


@dataclass(frozen=True)
class Due:
    """P1-P3 at ``now``: runs to create, ticks recorded as ``Skipped (Missed)`` (oldest first),
    whether older missed ticks were left unlisted (1 or 0), and the next tick to look at (None:
    the schedule has ended)."""

    create: tuple[float, ...]
    missed: tuple[float, ...]
    unrecorded: int
    cursor: float | None


def due(s: Schedule, cursor: float | None, now: float) -> Due:
    """Ticks ``cursor <= t <= now`` (and ``<= end``): never one after ``now`` (P1). ``catchup``:
    each gets a run, oldest first, at most ``PER_PASS`` at a time (the cursor stops after the
    last, and the next pass goes on at once); otherwise the latest does and the others are
    missed (P3), the newest ``MISSED_RECORDED`` of them listed."""
    if cursor is None or cursor > now or not s.enabled:
        return Due((), (), 0, cursor)
    upto = now if s.end is None else min(now, s.end)
    if s.catchup:
        ticks: list[float] = []
        for t in ticks_after(s.cron, s.tz, cursor, inclusive=True):
            if t > upto or len(ticks) == PER_PASS:
                return Due(tuple(ticks), (), 0, t if t <= upto or s.end is None or t <= s.end else None)
            ticks.append(t)
    back = ticks_before(s.cron, s.tz, upto + 1)  # newest first: the newest tick <= upto (whole seconds)
    latest = next(back, None)
    latest_list: tuple[float, ...] = (latest,) if latest is not None and latest >= cursor else ()
    missed: list[float] = []
    more = 0
    for t in back if latest_list else ():
        if t < cursor:
            break
        if len(missed) == MISSED_RECORDED:
            more = 1
            break
        missed.append(t)
    after = next_tick(s.cron, s.tz, max(upto, latest or upto))
    nxt = after if s.end is None or after <= s.end else None
    return Due(latest_list, tuple(reversed(missed)), more, nxt)


@dataclass(frozen=True)
class Waiting:
    """A run created but not started (its jobs not created yet): scheduled or backfill."""

    run_id: str
    run_type: str
    tick: float
    batch: str | None = None  # the backfill it belongs to


@dataclass(frozen=True)
class Batch:
    """A backfill's own limits (P4: independent of the flow's)."""

    max_active_runs: int
    backwards: bool = False
    first_tick: float | None = None


@dataclass
class Gate:
    """The actions of one pass over a flow's waiting runs (P8 order)."""

    expire: list[str] = field(default_factory=list)
    admit: list[str] = field(default_factory=list)
    wait: dict[str, str] = field(default_factory=dict)  # run id -> reason


def gate(s: Schedule, waiting: Sequence[Waiting], *, active: int, active_in: dict[str, int],
         batches: dict[str, Batch], previous: Callable[[float], float | None],
         latest: Callable[[float], tuple[str, str] | None]) -> Gate:
    """P7 (expired_limit) -> P5 (depends_on_past) -> P6 (max_active_runs) over one flow's waiting runs.

    ``active``: the flow's started runs that are Queued/Running (manual, scheduled and backfill;
    never debug); ``active_in``: per backfill, its own. ``previous(t)``: the tick before ``t``;
    ``latest(t)``: ``(run id, state)`` of the newest scheduled or backfill run of tick ``t``.
    """
    out = Gate()
    scheduled = sorted((w for w in waiting if w.batch is None), key=lambda w: w.tick)
    if s.expired_limit > 0 and len(scheduled) > s.expired_limit:
        cut = len(scheduled) - s.expired_limit
        out.expire = [w.run_id for w in scheduled[:cut]]
        scheduled = scheduled[cut:]
    # oldest tick first (P6): the schedule's own runs, then each backfill's, each with its own cap
    _admit(s, scheduled, s.max_active_runs, active, s.start, previous, latest, out)
    for name, batch in batches.items():
        runs = sorted((w for w in waiting if w.batch == name), key=lambda w: w.tick, reverse=batch.backwards)
        _admit(s, runs, batch.max_active_runs, active_in.get(name, 0), batch.first_tick, previous, latest, out)
    return out


def _admit(s: Schedule, runs: Sequence[Waiting], limit: int, active: int, first_tick: float | None,
           previous: Callable[[float], float | None], latest: Callable[[float], tuple[str, str] | None],
           out: Gate) -> None:
    """Admit ``runs`` in order while fewer than ``limit`` are active (P6), each past P5's gate."""
    free = limit - active
    for w in runs:
        if not _past_ok(s, w, previous, latest, first_tick, out):
            continue
        if free <= 0:
            out.wait[w.run_id] = f"MaxActiveRuns({limit})"
            continue
        free -= 1
        out.admit.append(w.run_id)


def _past_ok(s: Schedule, w: Waiting, previous: Callable[[float], float | None],
             latest: Callable[[float], tuple[str, str] | None], first: float | None, out: Gate) -> bool:
    """P5: the latest run of the tick before must be Finished; the first tick is exempt."""
    if not s.depends_on_past:
        return True
    prev = previous(w.tick)
    if prev is None or (first is not None and prev < first):
        return True
    found = latest(prev)
    if found is not None and found[1] == "Finished":
        return True
    out.wait[w.run_id] = f"PreviousRunNotSucceeded({found[0] if found else 'none'})"
    return False


def plan_backfill(ticks: Iterable[float], latest: Callable[[float], tuple[str, str] | None],
                  reprocess: str = "none", backwards: bool = False) -> list[tuple[float, str]]:
    """P4: each tick with ``create``, ``skip: running`` or ``skip: exists (<state>)``. A tick whose
    newest run is active is never duplicated; a skipped tick (Missed, Expired) counts as no run."""
    out = []
    for t in sorted(ticks, reverse=backwards):
        found = latest(t)
        state = found[1] if found else None
        if state in ACTIVE_STATES:
            action = "skip: running"
        elif state is None or state == "Skipped":
            action = "create"
        elif reprocess == "completed" or (reprocess == "failed" and state != "Finished"):
            action = "create"
        else:
            action = f"skip: exists ({state})"
        out.append((t, action))
    return out

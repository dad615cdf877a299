"""Durations as people type them: dependency delays, ``--time`` limits, and their display.

Two grammars share one unit table because they answer different questions (docs/rules.md, Delays and Time limits):

- a *delay* (``afterok:5+90``) sits inside a dependency string, where ``:`` also separates jobs,
  so its clock form is only ``[D-]HH:MM:SS`` with two-digit minutes and seconds;
- a *time limit* (``--time``) stands alone, so it takes Slurm's whole set (``M``, ``M:S``,
  ``H:M:S``, ``D-H``, ``D-H:M``, ``D-H:M:S``, ``UNLIMITED``).

In both, a bare number is minutes (Slurm, Crane and gflow agree) and ``90s`` / ``2h30m`` say
what they mean.
"""

from __future__ import annotations

import math
import re

from .errors import InvalidSpec
from .limits import MAX_SECONDS

UNITS = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "week", "weeks"), 604800),
}

#: The shape of a delay clock, ``[D-]HH:MM:SS``. The dependency lexer matches it at a ``+``
#: before anything else (rule L2), so ``+01:30:00`` is one delay and not jobs 30 and 0.
CLOCK = re.compile(r"(?:([0-9]+)-)?([0-9]{1,2}):([0-9]{2}):([0-9]{2})")

_UINT = re.compile(r"[0-9]+")
_COMPOUND = re.compile(r"(?:[0-9]+[A-Za-z]+)+")
_COMPOUND_PART = re.compile(r"([0-9]+)([A-Za-z]+)")
# Slurm's --time forms: D-H[:M[:S]] or M[:S] or H:M:S.
_SLURM_DAYS = re.compile(r"([0-9]+)-([0-9]+)(?::([0-9]+))?(?::([0-9]+))?")
_SLURM_CLOCK = re.compile(r"([0-9]+)(?::([0-9]+))?(?::([0-9]+))?")
_UNLIMITED = ("unlimited", "infinite")

E22 = 'Invalid --time "{}": expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS'


def parse_delay(text: str) -> int:
    """Seconds of a dependency delay: ``10`` (minutes), ``90s``, ``1h30m``, ``01:30:00``, ``1-00:00:00``.

    Raises a plain ``ValueError``: only the caller knows the job and clause to name in the message.
    """
    t = text.strip()
    if _UINT.fullmatch(t):
        return int(t) * 60
    m = CLOCK.fullmatch(t)
    if m:
        days, hh, mm, ss = (int(g) if g else 0 for g in m.groups())
        if mm > 59 or ss > 59 or (m.group(1) and hh > 23):
            raise ValueError(f"clock out of range: {text!r}")
        return ((days * 24 + hh) * 60 + mm) * 60 + ss
    seconds = _parse_units(t)
    if seconds is None:
        raise ValueError(f"not a delay: {text!r}")
    return seconds


def parse_time_limit(text: str) -> int | None:
    """Seconds of a ``--time`` limit, or ``None`` for ``UNLIMITED`` / ``infinite``.

    >>> parse_time_limit("30"), parse_time_limit("0:30"), parse_time_limit("1-0")
    (1800, 30, 86400)
    """
    t = text.strip()
    if t.lower() in _UNLIMITED:
        return None
    try:
        seconds = _parse_slurm_time(t)
        if seconds is None:
            seconds = _parse_units(t)
    except ValueError:  # a number too long for int(): not a time either
        seconds = None
    if seconds is None:
        raise InvalidSpec(E22.format(text))
    if seconds <= 0:
        raise InvalidSpec(f'Invalid --time "{text}": a time limit must be positive (use UNLIMITED for no limit)')
    if seconds > MAX_SECONDS:
        raise InvalidSpec(f'Invalid --time "{text}": a time limit must be at most {MAX_SECONDS // 86400} days '
                          f"({MAX_SECONDS // 86400}-0; use UNLIMITED for no limit)")
    return seconds


def format_duration(seconds: float | None) -> str:
    """``HH:MM:SS`` below a day, ``D-HH:MM:SS`` from a day up, ``UNLIMITED`` for ``None`` (gflow).

    Fractions are dropped: a clock shows whole seconds. The result parses back with both
    ``parse_delay`` and ``parse_time_limit``.
    """
    if seconds is None or seconds == math.inf:
        return "UNLIMITED"
    total = int(seconds)
    sign = "-" if total < 0 else ""
    days, rest = divmod(abs(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{sign}{days}-{clock}" if days else f"{sign}{clock}"


def _parse_units(text: str) -> int | None:
    """``1h30m`` -> 5400; None when ``text`` is not ``(number unit)+``."""
    if not _COMPOUND.fullmatch(text):
        return None
    total = 0
    for number, unit in _COMPOUND_PART.findall(text):
        factor = UNITS.get(unit.lower())
        if factor is None:
            return None
        total += int(number) * factor
    return total


def _parse_slurm_time(text: str) -> int | None:
    m = _SLURM_DAYS.fullmatch(text)
    if m:
        days, hours, minutes, secs = (int(g) if g else 0 for g in m.groups())
        return ((days * 24 + hours) * 60 + minutes) * 60 + secs
    m = _SLURM_CLOCK.fullmatch(text)
    if not m:
        return None
    parts = [int(g) for g in m.groups() if g is not None]
    if len(parts) == 1:  # M
        return parts[0] * 60
    if len(parts) == 2:  # M:S
        return parts[0] * 60 + parts[1]
    return (parts[0] * 60 + parts[1]) * 60 + parts[2]  # H:M:S

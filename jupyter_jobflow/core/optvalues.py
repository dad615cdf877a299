"""The values of submit options: numbers, durations, sizes, array ranges, ``--export`` lists, names;
each checked with a one-line error that names the flag."""

from __future__ import annotations

import math
import re
from typing import Any

from . import limits
from .errors import InvalidSpec
from .timespec import parse_delay

RETRY_ON = ("failure", "error", "timeout")
# Repeatable options add up instead of replacing each other (in merges and across directives).
ACCUMULATING = frozenset({"env", "inputs", "outputs", "slurm"})

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GRES = re.compile(r"gpu(?::[A-Za-z][\w.-]*)?(?::([0-9]+))?")
_ARRAY = re.compile(r"[0-9]+(?:-[0-9]+(?::[0-9]+)?)?(?:,[0-9]+(?:-[0-9]+(?::[0-9]+)?)?)*(?:%[0-9]+)?")


def non_empty(flag: str, text: str) -> str:
    if not text.strip():
        raise InvalidSpec(f"{flag} expects a non-empty value")
    return text


def whole(flag: str, text: str, minimum: int | None = None) -> int:
    t = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,18}", t) or (minimum is not None and int(t) < minimum):
        what = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise InvalidSpec(f'{flag} expects {what}, got "{text}"')
    return int(t)


def seconds(flag: str, text: str) -> float:
    """A retry wait: a bare number is seconds (unlike --time and delays: "retry in 10" means seconds)."""
    t = text.strip()
    try:
        value = float(t) if _NUMBER.fullmatch(t) else float(parse_delay(t))
    except (ValueError, OverflowError):
        value = math.nan
    if not (0 <= value < math.inf):
        raise InvalidSpec(
            f'{flag} expects a duration (10, 10s, 5m, 1h30m or HH:MM:SS; a bare number is seconds), got "{text}"'
        )
    return limits.seconds(flag, value, text)


def factor(flag: str, text: str) -> float:
    t = text.strip()
    value = float(t) if _NUMBER.fullmatch(t) else math.nan
    if not (0 < value < math.inf):
        raise InvalidSpec(f'{flag} expects a number > 0, got "{text}"')
    if value > limits.MAX_BACKOFF:
        raise InvalidSpec(f'{flag} must be at most {limits.MAX_BACKOFF:g}, got "{text}"')
    return value


def yes_no(flag: str, text: str) -> bool:
    t = text.strip().lower()
    if t not in ("yes", "no"):
        raise InvalidSpec(f'{flag} expects yes or no, got "{text}"')
    return t == "yes"


_SIZE = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?:([KMGT])(?:I?B)?)?", re.IGNORECASE)
_SIZE_MIB = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


def parse_memory_size(text: str | int, flag: str = "--gpu-memory") -> int:
    """A memory size in MiB, rounded up: ``8G``/``8GB``/``8GiB`` = 8192, ``500M`` = 500, a bare
    number is MiB (as Slurm's ``--mem``). Units are binary (1G = 1024M). Must be more than 0."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text <= 0:
            raise InvalidSpec(f"{flag} must be more than 0, got {text}")
        return _memory_bound(flag, text, text)
    m = _SIZE.fullmatch(str(text).strip())
    if not m or len(str(text)) > 40:
        raise InvalidSpec(f'{flag} expects a size like 8G or 500M (a bare number is MiB), got "{text}"')
    unit = (m.group(2) or "M").upper()
    mib = math.ceil(float(m.group(1)) * _SIZE_MIB[unit])
    if mib <= 0:
        raise InvalidSpec(f'{flag} must be more than 0, got "{text}"')
    return _memory_bound(flag, mib, text)


def _memory_bound(flag: str, mib: int, text: Any) -> int:
    if mib > limits.MAX_GPU_MEMORY_MIB:
        raise InvalidSpec(f'{flag} must be at most {limits.MAX_GPU_MEMORY_MIB // (1 << 20)}T per GPU, '
                          f'got "{limits.shown(text)}"')
    return mib


def gres_gpus(text: str) -> int:
    m = _GRES.fullmatch(text.strip())
    if not m or len(m.group(1) or "") > 4:
        raise InvalidSpec(f'--gres expects gpu:<count> (or gpu:<type>:<count>), got "{text}"')
    return int(m.group(1) or 1)


def retry_causes(text: str) -> frozenset[str]:
    items = {i.strip().lower() for i in text.split(",")}
    if not items or not items <= {*RETRY_ON, "always"}:
        raise InvalidSpec(f'--retry-on expects a comma list of failure, error, timeout, always; got "{text}"')
    return frozenset(RETRY_ON) if "always" in items else frozenset(items)


def array_spec(text: str) -> str:
    t = re.sub(r"\s+", "", text)
    if len(t) > 4096 or not _ARRAY.fullmatch(t):
        raise InvalidSpec(f'--array expects indices like 0-9, 1,3,5, 0-15:4 or 0-9%2, got "{limits.shown(text, 60)}"')
    if any(int(n) > limits.MAX_ARRAY_INDEX for n in re.findall(r"[0-9]{1,12}", t)) or re.search(r"[0-9]{13}", t):
        raise InvalidSpec(f"--array: indices, steps and %N must be at most {limits.MAX_ARRAY_INDEX}, "
                          f'got "{limits.shown(text, 60)}"')
    return t


#: The most tasks one array may have (Slurm's MaxArraySize is 1001 by default).
MAX_ARRAY_TASKS = limits.MAX_ARRAY_TASKS


def array_indices(text: str) -> tuple[list[int], int | None]:
    """``"0-15:4%2"`` is ``([0, 4, 8, 12], 2)``: the task indices, sorted and distinct, and the
    most tasks that may run at once (None: no limit)."""
    t = array_spec(text)
    body, pct, limit_text = t.partition("%")
    limit = int(limit_text) if pct else None
    if limit is not None and not 1 <= limit <= MAX_ARRAY_TASKS:
        raise InvalidSpec(f'--array: the %N limit must be from 1 to {MAX_ARRAY_TASKS}, got "{text}"')
    indices: set[int] = set()
    for item in body.split(","):
        span, colon, step_text = item.partition(":")
        lo_text, dash, hi_text = span.partition("-")
        lo = int(lo_text)
        hi = int(hi_text) if dash else lo
        step = int(step_text) if colon else 1
        if hi < lo or step < 1:
            raise InvalidSpec(f'--array: invalid range "{item}" in "{text}"')
        if (hi - lo) // step + 1 + len(indices) > MAX_ARRAY_TASKS:
            raise InvalidSpec(f'--array "{text}" has more than {MAX_ARRAY_TASKS} tasks')
        indices.update(range(lo, hi + 1, step))
    return sorted(indices), limit


def env_item(text: str) -> tuple[str, str]:
    key, eq, value = text.partition("=")
    if not eq or not _ENV_KEY.fullmatch(key):
        raise InvalidSpec(f'--env expects KEY=VALUE, got "{text}"')
    return key, value


_EXPORT_BASES = {"ALL": "ALL", "NONE": "NONE", "NIL": "NONE"}


def parse_export(text: str) -> tuple[str, tuple[str, ...], dict[str, str]]:
    """``--export``'s value as ``(base, names, values)``: base ``ALL``, ``NONE`` or ``DEFAULT``
    (the default list of kept variables), then the names whose values the job keeps, and the
    ``NAME=value`` items (a value cannot hold a comma: use ``--env`` for that).

    >>> parse_export("NONE,WANDB_API_KEY,SEED=1")
    ('NONE', ('WANDB_API_KEY',), {'SEED': '1'})
    """
    base, names, values = "DEFAULT", [], {}
    items = [i.strip() for i in str(text).split(",")]
    if not any(items) or len(str(text)) > 10_000:
        raise InvalidSpec(f'--export expects ALL, NONE or a comma list of NAME and NAME=value, got "{text}"')
    for n, item in enumerate(items):
        if not item:  # "ALL," or "A,,B"
            continue
        if item.upper() in _EXPORT_BASES:
            if n:
                raise InvalidSpec(f'--export: {item.upper()} must come first, as in "{item.upper()},NAME=value"')
            base = _EXPORT_BASES[item.upper()]
            continue
        key, eq, value = item.partition("=")
        if not _ENV_KEY.fullmatch(key):
            raise InvalidSpec(f'--export: "{item}" is not NAME or NAME=value (expected ALL, NONE, or a comma list '
                              f'like "WANDB_API_KEY,SEED=1")')
        if eq:
            values[key] = value
        else:
            names.append(key)
    return base, tuple(dict.fromkeys(names)), values


def names(flag: str, texts: list[str], refs: bool = False) -> tuple[str, ...]:
    """Comma lists of variable names; with ``refs`` (``--in``) a name may say its job: ``X:JOB``."""
    names = [n.strip() for text in texts for n in text.split(",")]
    for n in names:
        name, colon, job = n.partition(":") if refs else (n, "", "")
        if not name.strip().isidentifier() or (colon and not job.strip()):
            form = "variable names (NAME or NAME:JOB)" if refs else "variable names"
            raise InvalidSpec(f'{flag} expects comma-separated {form}, got "{",".join(texts)}"')
    return tuple(dict.fromkeys(names))

"""The bounds every input is checked against, in one place, with one-line errors naming the range.

A value outside these is a typo or an attack, never a job: a 5,000-digit id, a time limit of a
million years, a back-off of 1e300, a 100-million-task array. Each would otherwise reach SQLite
(int64), ``epoll`` (a timeout of at most ~24.8 days) or ``float`` arithmetic and fail far from
the request that sent it. The parser (``options.py``), the API (``server/parsing.py``) and
``JobService`` all check against the same numbers. Stdlib only: kernels import it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import InvalidSpec

MAX_ID = 2**63 - 1  # SQLite's INTEGER
MAX_ID_DIGITS = 19
DAY = 86400
MAX_SECONDS = 366 * DAY  # time limits, dependency delays, retry delays and their cap
MAX_BACKOFF = 100.0
MAX_RETRIES = 1000
PRIORITY_RANGE = (-1_000_000, 1_000_000)
MAX_NAME = 256  # job and group names
MAX_PATH = 4096  # cwd
MAX_ARGV_WORDS = 10_000
MAX_ARGV_CHARS = 1 << 20  # all words together (Linux's ARG_MAX is 2 MiB, with the environment)
MAX_SCRIPT_CHARS = 4 << 20
MAX_ENV_VARS = 4096
MAX_ENV_CHARS = 1 << 20
MAX_DEPENDENCY_CHARS = 65_536
MAX_IDS = 100_000  # ids in one request (cancel, a list filter)
MAX_ARRAY_TASKS = 10_000  # tasks in one --array (Slurm's MaxArraySize is 1001 by default)
MAX_ARRAY_INDEX = 999_999_999
MAX_GPU_MEMORY_MIB = 1 << 24  # 16 TiB per GPU
#: the longest the scheduler sleeps at once: far timers are re-armed, never handed to the OS whole
MAX_SLEEP = float(DAY)

_ASCII_ID = re.compile(r"[0-9]+")


def shown(value: Any, width: int = 24) -> str:
    """``value`` as text for a message, cut so that a 5,000-digit number stays one short line."""
    text = str(value)
    return text if len(text) <= width else text[:width] + "..."


def job_id(text: Any, what: str = "job ID") -> int:
    """A job id from a path, a query or a body: ASCII digits, 1 to 2**63-1."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    elif isinstance(text, str) and _ASCII_ID.fullmatch(text.strip()) and len(text.strip()) <= MAX_ID_DIGITS:
        value = int(text.strip())
    else:
        raise InvalidSpec(f'Invalid {what} "{shown(text)}": expected a number from 1 to {MAX_ID}')
    if not 1 <= value <= MAX_ID:
        raise InvalidSpec(f'Invalid {what} "{shown(text)}": expected a number from 1 to {MAX_ID}')
    return value


def in_range(what: str, value: Any, lo: float, hi: float, *, unit: str = "") -> Any:
    """``value`` when ``lo <= value <= hi`` (finite), else a one-line error naming the range."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not (
        isinstance(value, float) and math.isnan(value)) and lo <= value <= hi
    if not ok:
        raise InvalidSpec(f"{what} must be from {_num(lo)} to {_num(hi)}{unit}, got {shown(value)}")
    return value


def seconds(what: str, value: float, given: Any = None) -> float:
    """A duration (time limit, delay, retry wait): finite, 0 to ``MAX_SECONDS``."""
    if not (isinstance(value, (int, float)) and 0 <= value <= MAX_SECONDS):
        raise InvalidSpec(f'{what} must be at most {MAX_SECONDS // DAY} days ({MAX_SECONDS // DAY}-0), '
                          f'got "{shown(value if given is None else given)}"')
    return value


def length(what: str, text: str, most: int) -> str:
    if len(text) > most:
        raise InvalidSpec(f"{what} is too long: {len(text)} characters, at most {most}")
    return text


def argv(what: str, words: list[str]) -> list[str]:
    if len(words) > MAX_ARGV_WORDS:
        raise InvalidSpec(f"{what} has too many words: {len(words)}, at most {MAX_ARGV_WORDS}")
    length(what, "".join(words), MAX_ARGV_CHARS)
    return words


def env(what: str, values: dict[str, str]) -> dict[str, str]:
    if len(values) > MAX_ENV_VARS:
        raise InvalidSpec(f"{what} has too many variables: {len(values)}, at most {MAX_ENV_VARS}")
    size = sum(len(k) + len(v) + 2 for k, v in values.items())
    if size > MAX_ENV_CHARS:
        raise InvalidSpec(f"{what} is too large: {size} characters, at most {MAX_ENV_CHARS}")
    return values


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)

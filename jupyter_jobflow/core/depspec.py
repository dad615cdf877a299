"""The dependency grammar (docs/rules.md, Dependencies) and its submit-time errors (docs/rules.md, Messages).

One grammar for gflow's flags (``--depends-on @``), Slurm's and CraneSched's strings
(``afterok:12+10m?afternotok:13``). Parsing gives a ``DepSpec`` whose targets may still be
``@``, ``@~N`` or a task name; ``resolve`` turns them into job ids at submit time (rule R1),
and ``str(spec)`` is the canonical string that is stored and shown.

>>> str(parse("afterok:100 + 01:30:00, afterany:7"))
'afterok:100+01:30:00,afterany:7'

Checks that need the store (E6 unknown job, E7 self, E8 cycle) belong to the engine.

Long because: the parser and its error messages are one piece. Each message quotes the column and
the fragment it failed at, so the messages live beside the code that knows the position.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from typing import Sequence

from .errors import InvalidSpec
from .limits import MAX_SECONDS
from .timespec import CLOCK, format_duration, parse_delay

CONDITION_TYPES = ("after", "afterok", "afternotok", "afterany", "aftercorr")

_E2_EXPECTED = (
    "expected <type>:<job_id>[+<delay>][:<job_id>[+<delay>]]... where <type> is "
    'after, afterok, afternotok, afterany, aftercorr; or "singleton"'
)
_E4_EXPECTED = "expected minutes (10), a unit (10s, 30m, 2h, 1d, 1w, 1h30m) or [D-]HH:MM:SS"
_E10 = "--dependency cannot be combined with --depends-on/--depends-on-all/--depends-on-any"
_E13 = "\"singleton\" takes no job IDs and can only be combined with ','"

_JOB_ID = re.compile(r"[0-9]+")
_MAX_ID_DIGITS = 18  # ids are int64 in the store; longer is a typo, not a job
_HISTORY_REF = re.compile(r"@~([0-9]{1,9})")
TASK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")  # a task name (a flow's dependency target)
_TYPE_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_BARE_TARGET = re.compile(r"[0-9]+|@(?:~[0-9]+)?")
# A number right after '+' that is followed by ':SS' (exactly two digits) reads as MM:SS (L3).
_MMSS_TAIL = re.compile(r":\s*[0-9]{2}(?![0-9])")
_DIGIT_RUN = re.compile(r"[0-9][0-9-]*(?:\s*:\s*[0-9]+)*")
_MMSS = re.compile(r"([0-9]+)\s*:\s*([0-9]{2})")


@dataclass(frozen=True)
class Condition:
    """One parent: ``afterok:12+10m`` is ``Condition("afterok", 12, 600)``.

    ``target`` is a job id once resolved; before that it may be ``"@"``, ``"@~N"`` or a task name.
    ``delay`` counts seconds from the event that satisfies the condition (rule L7).
    """

    type: str
    target: int | str
    delay: int = 0


@dataclass(frozen=True)
class DepSpec:
    """A whole dependency: conditions joined by AND (``,``) or OR (``?``), plus ``singleton``.

    Kept in canonical form so that equal dependencies compare equal: AND conditions are grouped
    by type in order of first appearance (the order ``str()`` prints them in), and an OR of one
    condition is an AND. ``source`` is the text as the user wrote it, for messages only.
    """

    op: str = "and"
    conditions: tuple[Condition, ...] = ()
    singleton: bool = False
    source: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in ("and", "or"):
            raise ValueError(f"op must be 'and' or 'or', not {self.op!r}")
        conditions = tuple(self.conditions)
        op = self.op
        if op == "or" and len(conditions) < 2:
            op = "and"
        if op == "or" and self.singleton:
            raise ValueError(_E13)
        if op == "and":
            first: dict[str, int] = {}
            for c in conditions:
                first.setdefault(c.type, len(first))
            conditions = tuple(sorted(conditions, key=lambda c: first[c.type]))  # stable
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "conditions", conditions)

    def __str__(self) -> str:
        if self.op == "or":
            return "?".join(f"{c.type}:{_target_text(c)}" for c in self.conditions)
        groups: dict[str, list[str]] = {}
        for c in self.conditions:
            groups.setdefault(c.type, []).append(_target_text(c))
        clauses = [f"{t}:{':'.join(targets)}" for t, targets in groups.items()]
        return ",".join((["singleton"] if self.singleton else []) + clauses)

    def job_ids(self) -> tuple[int, ...]:
        """The resolved parent ids, in order (unresolved references are left out)."""
        return tuple(c.target for c in self.conditions if isinstance(c.target, int))


def parse(text: str) -> DepSpec:
    """Parse a Slurm/Crane-style dependency string; ``@``/``@~N``/task names stay unresolved.

    Columns in messages are 1-based and count from the first non-blank character.
    """
    text = text.strip()
    if not text:
        raise InvalidSpec("Empty dependency string")
    if "," in text and "?" in text:
        raise InvalidSpec(
            f"Invalid dependency \"{text}\": cannot mix ',' (AND) and '?' (OR) in one dependency; "
            "use one separator (AND and OR cannot be nested)"
        )
    sep = "?" if "?" in text else ","
    conditions: list[Condition] = []
    singleton = False
    start = 0
    for piece in text.split(sep):
        clause = piece.strip()
        col = start + len(piece) - len(piece.lstrip()) + 1
        if not clause:  # point at the separator next to the gap
            raise _e2(text, start if start else len(piece) + 1)
        if clause == "singleton":
            if sep == "?":
                raise InvalidSpec(_E13)
            singleton = True
        else:
            conditions.extend(_parse_clause(clause, col))
        start += len(piece) + 1
    spec = DepSpec("or" if sep == "?" else "and", tuple(conditions), singleton, source=text)
    _check_unique(spec, text)
    return spec


def from_flags(
    *,
    dependency: str | Sequence[str] | None = None,
    depends_on: str | int | Sequence[str | int] | None = None,
    depends_on_all: str | int | Sequence[str | int] | None = None,
    depends_on_any: str | int | Sequence[str | int] | None = None,
) -> DepSpec | None:
    """Map gflow's flags (and ``--dependency``) to one spec, or None when none is given.

    ``--depends-on X`` = ``afterok:X``; ``--depends-on-all A,B`` = ``afterok:A:B``;
    ``--depends-on-any A,B`` = ``afterok:A?afterok:B``. Values are comma lists of ids, ``@``
    and ``@~N``, or lists of such strings (or of ints).
    """
    flags = {
        "--dependency": dependency,
        "--depends-on": depends_on,
        "--depends-on-all": depends_on_all,
        "--depends-on-any": depends_on_any,
    }
    given = [flag for flag, value in flags.items() if value is not None]
    if len(given) > 1:
        if "--dependency" in given:
            raise InvalidSpec(_E10)
        raise InvalidSpec(f"{given[0]} cannot be combined with {given[1]}")
    if not given:
        return None
    flag = given[0]
    value = flags[flag]
    if flag == "--dependency":
        return parse(value if isinstance(value, str) else ",".join(value))
    targets = _flag_targets(flag, value)
    op = "or" if flag == "--depends-on-any" else "and"
    spec = DepSpec(op, tuple(Condition("afterok", t) for t in targets))
    _check_unique(spec, str(spec))
    return spec


def resolve(
    spec: DepSpec,
    history: Sequence[int],
    *,
    scope_name: str = "this notebook",
    allow_task_refs: bool = False,
) -> DepSpec:
    """Replace ``@`` / ``@~N`` by ids from ``history`` (this scope's submissions, most recent first).

    Task names are kept when ``allow_task_refs`` (inside a flow, the flow resolves them) and
    rejected otherwise (E15). Two references to one job are a duplicate (E5).
    """
    resolved = tuple(
        replace(c, target=_resolve_target(c.target, history, scope_name, allow_task_refs))
        for c in spec.conditions
    )
    out = replace(spec, conditions=resolved)
    _check_unique(out, spec.source or str(spec))
    return out


def is_bare(text: str) -> bool:
    """Whether ``text`` is job ids, ``@`` or ``@~N`` without a type (``1``, ``@``, ``3,@~1``):
    gflow's ``--dependency`` spelling, which Slurm reads as ``afterany`` and gflow as ``afterok``."""
    return all(_BARE_TARGET.fullmatch(t.strip()) for t in text.split(",")) and bool(text.strip())


def bare_note(flag: str, text: str) -> str:
    """The one line that says how a typeless ``--dependency`` is read (gflow's way, afterok)."""
    targets = ":".join(t.strip() for t in text.split(","))
    return (f'{flag} {text.strip()} is read as afterok:{targets} (as gflow does: run only if it succeeds); '
            f'write afterany:{targets} to run after it ends either way (Slurm\'s meaning of a bare id)')


def missing_type(clause: str) -> InvalidSpec:
    """E2b: a bare id where its meaning would change (a Slurm script, the API)."""
    return InvalidSpec(
        f'Invalid dependency "{clause}": missing dependency type. '
        f'Write "afterok:{clause}" (run only if {clause} succeeds; gflow --depends-on) or '
        f'"afterany:{clause}" (run after {clause} ends either way; Slurm\'s default)'
    )


def _parse_clause(clause: str, col: int) -> list[Condition]:
    type_text, colon, _ = clause.partition(":")
    type_text = type_text.rstrip()
    if not colon:
        if _BARE_TARGET.fullmatch(clause):
            raise missing_type(clause)
        if clause.lower() == "singleton":
            raise _e3(clause, clause)
        raise _e2(clause, col)
    if type_text == "singleton":
        raise InvalidSpec(_E13)
    if type_text not in CONDITION_TYPES:
        if _TYPE_LIKE.fullmatch(type_text):
            raise _e3(type_text, clause)
        raise _e2(clause, col)
    return _parse_targets(type_text, clause, col, clause.index(":") + 1)


def _parse_targets(ctype: str, clause: str, col: int, i: int) -> list[Condition]:
    """Lex ``target[+delay](:target[+delay])*`` from ``clause[i:]`` (rules L1-L3)."""
    out = []
    while True:
        j = _find(clause, ":+", i)
        raw = clause[i:j]
        token = raw.strip()
        if not token:
            raise _e2(clause, col)
        target = _target(token)
        if target is None:
            raise _e2(token, col + i + len(raw) - len(raw.lstrip()))
        delay = 0
        if j < len(clause) and clause[j] == "+":
            delay, j = _parse_delay_at(clause, j + 1, token)
        out.append(Condition(ctype, target, delay))
        if j >= len(clause):
            return out
        i = j + 1  # clause[j] is ':'


def _parse_delay_at(clause: str, i: int, job: str) -> tuple[int, int]:
    """The delay starting at ``clause[i]`` and the index of the ':' (or end) after it."""
    k = _skip_space(clause, i)
    m = CLOCK.match(clause, k)
    if m:
        end = _skip_space(clause, m.end())
        if end == len(clause) or clause[end] == ":":  # longest match, L2
            try:
                return _bounded(parse_delay(m.group(0)), m.group(0), job, clause), end
            except ValueError:
                raise _e4(m.group(0), job, clause) from None
    j = _find(clause, ":", k)
    token = clause[k:j].strip()
    run = _DIGIT_RUN.match(clause, k)
    if _JOB_ID.fullmatch(token) and _MMSS_TAIL.match(clause, j):
        assert run is not None
        mmss = _MMSS.fullmatch(run.group(0))
        hint = ""
        if mmss:
            minutes, seconds = (g.lstrip("0") or "0" for g in mmss.groups())  # no int(): any length
            written = f"{minutes}m{seconds}s" if seconds != "0" else f"{minutes}m"
            hint = f" (MM:SS is not a delay; write +{written})"
        raise _e4(run.group(0), job, clause, hint)
    try:
        return _bounded(parse_delay(token), token, job, clause), j
    except ValueError:
        shown = run.group(0) if run and re.fullmatch(r"[0-9-]+", token) else token
        raise _e4(shown, job, clause) from None


def _target(token: str) -> int | str | None:
    """A job id, ``@``, ``@~N`` or task name; None when ``token`` is none of these."""
    if _JOB_ID.fullmatch(token):
        if token.startswith("0"):
            raise InvalidSpec(
                f'Invalid job ID "{token}" in dependency: job IDs are positive integers without leading zeros'
            )
        return int(token) if len(token) <= _MAX_ID_DIGITS else None
    if token == "@":
        return token
    m = _HISTORY_REF.fullmatch(token)
    if m:
        return f"@~{int(m.group(1))}"
    if TASK_NAME.fullmatch(token):
        return token
    return None


def _flag_targets(flag: str, value: str | int | Sequence[str | int]) -> list[int | str]:
    values = [value] if isinstance(value, (str, int)) else list(value)  # API callers pass ints
    targets = []
    for v in map(str, values):
        for item in v.split(","):
            target = _target(item.strip())
            if target is None:
                raise InvalidSpec(f'Invalid {flag} value "{v}": expected job IDs, @ or @~N separated by commas')
            targets.append(target)
    return targets


def _resolve_target(target: int | str, history: Sequence[int], scope: str, allow_task_refs: bool) -> int | str:
    if isinstance(target, int):
        return target
    if target == "@" or target.startswith("@~"):
        n = 0 if target == "@" else int(target[2:])
        if n < len(history):
            return int(history[n])
        which = "the most recent submission" if n == 0 else f"the {ordinal(n + 1)} most recent submission"
        k = len(history)
        have = "no jobs" if k == 0 else "only 1 job" if k == 1 else f"only {k} jobs"
        raise InvalidSpec(f'"{target}" refers to {which}, but {scope} has submitted {have}')
    if allow_task_refs:
        return target
    raise InvalidSpec(f'"{target}" is not a job ID: a dependency names jobs by ID, @ or @~N')


def _check_unique(spec: DepSpec, text: str) -> None:
    """L6: one job at most once in the whole expression, across types."""
    seen: set[int | str] = set()
    for c in spec.conditions:
        if c.target in seen:
            what = f"job {c.target}" if isinstance(c.target, int) else f'"{c.target}"'
            raise InvalidSpec(f'Invalid dependency "{text}": {what} appears more than once')
        seen.add(c.target)


def _target_text(c: Condition) -> str:
    return f"{c.target}+{format_duration(c.delay)}" if c.delay else str(c.target)


def ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _find(text: str, chars: str, start: int) -> int:
    """Index of the first of ``chars`` at or after ``start``, or ``len(text)``."""
    for i in range(start, len(text)):
        if text[i] in chars:
            return i
    return len(text)


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _e2(fragment: str, col: int) -> InvalidSpec:
    return InvalidSpec(f'Invalid dependency "{fragment}" (col {col}): {_E2_EXPECTED}')


def _e3(type_text: str, clause: str) -> InvalidSpec:
    choices = [*CONDITION_TYPES, "singleton"]
    close = difflib.get_close_matches(type_text.lower(), choices, n=1, cutoff=0.6)
    hint = f'did you mean "{close[0]}"?' if close else "expected one of " + ", ".join(choices)
    return InvalidSpec(f'Unknown dependency type "{type_text}" in "{clause}" ({hint})')


def _bounded(seconds: int, delay: str, job: str, clause: str) -> int:
    """A delay longer than ``limits.MAX_SECONDS`` is a typo (and would overflow a timer)."""
    if seconds > MAX_SECONDS:
        raise InvalidSpec(f'Invalid delay "+{delay}" for job {job} in "{clause}": a delay must be at most '
                          f"{MAX_SECONDS // 86400} days")
    return seconds


def _e4(delay: str, job: str, clause: str, hint: str = "") -> InvalidSpec:
    return InvalidSpec(f'Invalid delay "+{delay}" for job {job} in "{clause}": {_E4_EXPECTED}{hint}')

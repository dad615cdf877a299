"""Request bodies and query strings to ``JobService`` arguments, or an ``InvalidSpec`` naming the field.

Every check a handler needs on what a client sent lives here, so the handlers stay one call
long and a wrong type is always a 400 with the field's name (never a ``TypeError`` deep in the
service, which would be a 500). Pure functions: no tornado, no service.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any, Callable, Mapping

from ..core import limits
from ..core.errors import InvalidSpec
from ..core.optvalues import RETRY_ON, array_indices, parse_export
from ..core.request import API_FIELDS, JobRequest, executor_name, slurm_options
from ..core.timespec import parse_delay

_ID = re.compile(r"[1-9][0-9]*")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RANGE = re.compile(r"([1-9][0-9]*)-([1-9][0-9]*)")
MAX_RANGE = 100_000  # ``1-99999999`` would otherwise allocate a list of a hundred million ids


def json_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object (an empty body is ``{}``)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise InvalidSpec(f"Malformed JSON in the request body: {e}") from None
    if not isinstance(value, dict):
        raise InvalidSpec(f"The request body must be a JSON object, got {_kind(value)}")
    return value


def parse_ids(text: str) -> list[int]:
    """``"1,2,5-7"`` is ``[1, 2, 5, 6, 7]`` (order kept, duplicates dropped); gflow's K5 message otherwise."""
    ids: list[int] = []
    for word in (w.strip() for w in text.split(",")):
        if _ID.fullmatch(word) and len(word) <= limits.MAX_ID_DIGITS:
            ids.append(limits.job_id(word))
            continue
        m = _RANGE.fullmatch(word)
        lo, hi = (int(m.group(1)), int(m.group(2))) if m else (0, -1)
        if not m or len(word) > 2 * limits.MAX_ID_DIGITS + 1 or hi < lo or hi - lo >= MAX_RANGE or hi > limits.MAX_ID:
            raise InvalidSpec(f"Invalid job ID: {limits.shown(word)}")  # gflow's K5 words, cut short
        ids.extend(range(lo, hi + 1))
        if len(ids) > MAX_RANGE:
            raise InvalidSpec(f"Too many job IDs: at most {MAX_RANGE} in one request")
    return list(dict.fromkeys(ids))


# -- field types ------------------------------------------------------------------------------
def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def _wrong(field: str, expected: str, value: Any) -> InvalidSpec:
    return InvalidSpec(f'Field "{field}" must be {expected}, got {_kind(value)}')


def _str(field: str, v: Any) -> str:
    if not isinstance(v, str):
        raise _wrong(field, "a string", v)
    if "\0" in v:  # no path, argument or name can hold one
        raise InvalidSpec(f'Field "{field}" contains a NUL character')
    return v


def _text(most: int) -> "Check":
    """A string of at most ``most`` characters."""
    return lambda field, v: limits.length(f'Field "{field}"', _str(field, v), most)


def _bool(field: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _wrong(field, "true or false", v)
    return v


def _int(field: str, v: Any) -> int:
    if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, float) and v.is_integer())):
        raise _wrong(field, "an integer", v)
    if not -(2**63) <= v < 2**63:  # what SQLite can store
        raise InvalidSpec(f'Field "{field}" is out of range: {v}')
    return int(v)


def _number(field: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _wrong(field, "a number", v)
    return float(v)


def _duration(field: str, v: Any) -> float:
    """Seconds: a JSON number, or a string like ``30s``, ``5m``, ``1:00:00`` (bare string number = seconds)."""
    if isinstance(v, str):
        try:
            seconds = float(v) if re.fullmatch(r"[0-9]+(\.[0-9]*)?", v.strip()) else float(parse_delay(v))
        except ValueError:
            raise InvalidSpec(f'Field "{field}" must be a duration (30, "30s", "5m", "1:00:00"), '
                              f'got "{limits.shown(v)}"') from None
    else:
        seconds = _number(field, v)
    if seconds < 0:
        raise InvalidSpec(f'Field "{field}" must be 0 or more, got {v}')
    return limits.seconds(f'Field "{field}"', seconds, v)


def _time_limit(field: str, v: Any) -> str | float:
    if isinstance(v, str):
        return limits.length(f'Field "{field}"', v, 64)  # the service parses Slurm's formats (E22)
    value = _number(field, v)
    if value > 0:
        limits.seconds(f'Field "{field}"', value, v)
    return value


def _count_or_ids(field: str, v: Any) -> int | str:
    """An integer, or a string the service parses (``"0,2"`` devices, ``"8G"`` a size)."""
    if isinstance(v, str):
        return _str(field, v)
    return _int(field, v)


def _command(field: str, v: Any) -> list[str] | str:
    if isinstance(v, str):
        return limits.length(f'Field "{field}"', _str(field, v), limits.MAX_ARGV_CHARS)
    if isinstance(v, list) and all(isinstance(w, str) for w in v):
        return limits.argv(f'Field "{field}"', [_str(field, w) for w in v])
    raise _wrong(field, "a list of strings or a string", v)


def _targets(field: str, v: Any) -> str | int | list[str | int]:
    """gflow's ``--depends-on*`` values: ``"@"``, ``"1,2"``, ``3``, or a list of those."""
    if isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)):
        return _target(field, v)
    if isinstance(v, list) and v and len(v) <= limits.MAX_IDS and all(
            isinstance(x, str) or (isinstance(x, int) and not isinstance(x, bool)) for x in v):
        return [_target(field, x) for x in v]
    raise _wrong(field, 'a job id, "@", a comma list or a list of those', v)


def _target(field: str, v: str | int) -> str | int:
    if isinstance(v, int):
        return limits.job_id(v, f'job ID in "{field}"')
    return limits.length(f'Field "{field}"', _str(field, v), limits.MAX_DEPENDENCY_CHARS)


def _ranged(lo: float, hi: float, kind: "Check") -> "Check":
    return lambda field, v: limits.in_range(f'Field "{field}"', kind(field, v), lo, hi)


def _count_or_size(field: str, v: Any) -> int | str:
    value = _count_or_ids(field, v)
    return limits.length(f'Field "{field}"', value, 256) if isinstance(value, str) else value


def _retry_on(field: str, v: Any) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _wrong(field, "a list of strings", v)
    for x in v:
        if x not in RETRY_ON:
            raise InvalidSpec(f'Field "{field}": unknown outcome "{x}", expected {", ".join(RETRY_ON)}')
    return list(v)


def _env(field: str, v: Any) -> dict[str, str]:
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise _wrong(field, "an object of strings", v)
    for key, value in v.items():
        if not _ENV_KEY.fullmatch(key):
            raise InvalidSpec(f'Field "{field}": "{key}" is not a variable name')
        _str(f"{field}.{key}", value)
    return limits.env(f'Field "{field}"', dict(v))


def _by_option_rules(check: Callable[[str], Any], what: str) -> Callable[[str, Any], str]:
    """A field given as the option's own text, checked by the option parser's rule (``check``)."""
    def checked(field: str, v: Any) -> str:
        text = _str(field, v)
        try:
            check(text)
        except InvalidSpec as e:
            raise InvalidSpec(f'Field "{field}": {e}') from None
        return text

    checked.__doc__ = what
    return checked


_array = _by_option_rules(array_indices, 'Slurm\'s array indices ("0-9", "1,3,5", "0-15:4", "0-9%2")')
_export = _by_option_rules(parse_export, 'Slurm\'s --export ("ALL", "NONE", "NAME,NAME=value")')


Check = Callable[[str, Any], Any]

_NAME, _PATH, _DEP = _text(limits.MAX_NAME), _text(limits.MAX_PATH), _text(limits.MAX_DEPENDENCY_CHARS)
_PRIORITY = _ranged(*limits.PRIORITY_RANGE, _int)
_RETRIES = _ranged(0, limits.MAX_RETRIES, _int)

#: The check of each kind of request field (``core/request.py`` says each field's kind).
KIND_CHECKS: dict[str, Check] = {
    "command": _command, "script": _text(limits.MAX_SCRIPT_CHARS), "path": _PATH, "name": _NAME,
    "time_limit": _time_limit, "count_or_size": _count_or_size, "priority": _PRIORITY, "dependency": _DEP,
    "targets": _targets, "bool": _bool, "retries": _RETRIES, "duration": _duration,
    "backoff": _ranged(1, limits.MAX_BACKOFF, _number), "retry_on": _retry_on, "env": _env, "array": _array,
    "export": _export, "executor": lambda f, v: executor_name(f'Field "{f}"', v), "slurm": slurm_options,
}
#: ``POST jobs``: the fields of ``JobRequest`` a body may give, each with the check of its kind
SUBMIT_FIELDS: dict[str, Check] = {name: KIND_CHECKS[kind] for name, kind in API_FIELDS.items()}
UPDATE_FIELDS: dict[str, Check] = {name: SUBMIT_FIELDS[name] for name in (
    "time_limit", "priority", "name", "group", "gpus", "gpu_memory", "retries", "dependency")}
REDO_FIELDS: dict[str, Check] = {"in_place": _bool, "cascade": _bool, **{name: SUBMIT_FIELDS[name] for name in (
    "time_limit", "gpus", "priority", "name")}}


def fields(body: Mapping[str, Any], allowed: Mapping[str, Check], what: str) -> dict[str, Any]:
    """Check each field's type; ``null`` means "not given"; an unknown field is an error."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidSpec(f'Unknown field "{unknown[0]}" for {what}; known fields: {", ".join(allowed)}')
    return {k: allowed[k](k, v) for k, v in body.items() if v is not None}


ARGV_FIELDS: dict[str, Check] = {"argv": _command, "cwd": _PATH, "env": _env, "scope": _NAME, "scope_name": _NAME}


def words_submission(body: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], bool]:
    """A submission by ``gbatch``'s words (``{"argv": [...], "cwd", "env", "scope", "scope_name"}``):
    read here by the one parser every front uses (``cli.submission``), so ``gbatch`` need not load it.
    Returns the ``POST jobs`` body, the directive warnings and whether ``--parsable`` was given."""
    args = fields(body, ARGV_FIELDS, "a submission by words")
    argv = args.get("argv")
    if not isinstance(argv, list):
        raise _wrong("argv", "a list of strings", argv)
    terminal_only = {"-h", "--help", "--version", "-"} & set(argv)
    if terminal_only:
        raise InvalidSpec(f'"{sorted(terminal_only)[0]}" only works in a terminal: run gbatch there')
    if not os.path.isabs(args.get("cwd", "")):
        raise InvalidSpec('Field "cwd" must be the submitter\'s absolute working directory')
    from ..core.submission import submission

    try:
        return submission(argv, scope=args.get("scope") or "argv",
                          scope_name=args.get("scope_name") or "this terminal", cwd=args["cwd"],
                          env=args.get("env", {}))
    except OSError as err:  # a script file the service cannot read
        raise InvalidSpec(f"Cannot read {limits.shown(err.filename or argv[-1], 200)}: {err.strerror or err}") from None


def submit_args(body: Mapping[str, Any]) -> dict[str, Any]:
    """The checked fields of a ``POST jobs`` body (``JobRequest``'s, nulls left out)."""
    return fields(body, SUBMIT_FIELDS, "a submission")


def submit_request(body: Mapping[str, Any]) -> JobRequest:
    """The ``JobRequest`` of a ``POST jobs`` body."""
    return JobRequest(**submit_args(body))


def cancel_args(body: Mapping[str, Any]) -> tuple[list[int], bool, bool]:
    """``(ids, dry_run, cascade)`` from a ``POST jobs/cancel`` body; ids as a list or ``"1,3-5"``."""
    args = fields(body, {"ids": lambda f, v: v, "dry_run": _bool, "cascade": _bool}, "a cancel")
    raw = args.get("ids")
    if isinstance(raw, str):
        ids = parse_ids(raw)
    elif isinstance(raw, list):
        if len(raw) > limits.MAX_IDS:
            raise InvalidSpec(f'Field "ids" has too many ids: {len(raw)}, at most {limits.MAX_IDS}')
        ids = [_int("ids", i) for i in raw]
        if any(i <= 0 for i in ids):  # gflow's K5 words
            raise InvalidSpec(f"Invalid job ID: {next(i for i in ids if i <= 0)}")
        ids = [limits.job_id(i) for i in ids]
    elif raw is None:
        ids = []
    else:
        raise _wrong("ids", "a list of job ids or a string like \"1,3-5\"", raw)
    return ids, args.get("dry_run", False), args.get("cascade", False)


def _age(field: str, v: Any) -> str | float:
    """A retention age as given (``"30d"``, ``"none"``, seconds): ``retention.parse_retention`` reads it."""
    return _NAME(field, v) if isinstance(v, str) else _number(field, v)


#: ``POST purge``: ``older_than`` a duration (``"30d"``, ``"7-0"``, seconds as a number, ``"none"``)
PURGE_FIELDS: dict[str, Check] = {"older_than": _age, "dry_run": _bool}


def purge_args(body: Mapping[str, Any]) -> tuple[str | float | None, bool]:
    """``(older_than, dry_run)`` from a ``POST purge`` body; ``older_than`` None: the retention."""
    args = fields(body, PURGE_FIELDS, "a purge")
    return args.get("older_than"), args.get("dry_run", False)


# -- query strings ----------------------------------------------------------------------------
def path_id(text: str) -> int:
    """The ``<id>`` of a route (``jobs/<id>``): ``[0-9]+`` by the route's pattern, bounded here."""
    return limits.job_id(text)


def query_int(field: str, text: str | None, *, minimum: int = 0, maximum: int = 2**62) -> int | None:
    if text is None:
        return None
    try:
        value = int(text) if re.fullmatch(r"[+-]?[0-9]{1,1000}", text.strip()) else int("x")  # ASCII, under int()'s cap
    except ValueError:
        raise InvalidSpec(f'Query parameter "{field}" must be an integer, got "{limits.shown(text)}"') from None
    if value < minimum:
        raise InvalidSpec(f'Query parameter "{field}" must be {minimum} or more, got {value}')
    return min(value, maximum)  # beyond any file or list: the same answer, without overflowing a seek


def query_bool(field: str, text: str | None, default: bool) -> bool:
    if text is None:
        return default
    value = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(text.lower())
    if value is None:
        raise InvalidSpec(f'Query parameter "{field}" must be 1 or 0, got "{limits.shown(text)}"')
    return value


def query_history(text: str | None) -> bool | float:
    """``history``: absent or ``0`` none, ``1``/``true`` all that is kept, else that many seconds."""
    if text is None or text.lower() in ("0", "false", "no", ""):
        return False
    if text.lower() in ("1", "true", "yes", "all"):
        return True
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise InvalidSpec(f'Query parameter "history" must be 1 (all) or a number of seconds, '
                          f'got "{limits.shown(text)}"')
    return seconds


def query_list(text: str | None) -> list[str] | None:
    """``"a,b"`` is ``["a", "b"]``; absent or empty is None (no filter)."""
    words = [w.strip() for w in (text or "").split(",") if w.strip()]
    return words or None

"""Template variables in task commands and cells (V1-V4).

``{{run_id}}``, ``{{execution_date}}``, ``{{params.lr}}``, cube-studio's ``{{uuid.uuid4().hex[:4]}}``
and ``{{datetime.datetime.now().strftime("%Y%m%d")}}``: each ``{{ ... }}`` is rendered by Jinja2's
*sandboxed* environment, one expression at a time, and only when every name it uses is one of
``KNOWN``. Anything else (``{{foo}}``, a dict or set literal, an f-string's ``{{``) is left exactly
as written, with a one-line warning naming the task and line (W6): notebook code is full of
braces, so the text is never rendered as a whole. A known name without a value yet (``attempt``
at run creation) is left as written, silently, for the later pass that has it (V3).

``uuid`` and ``datetime`` are the modules, seen through a fixed list of their names (the module
``uuid`` imports ``os``: the sandbox would let ``uuid.os.system`` through); written alone they
print the run's uuid (hex) and creation time, as in V1.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import uuid as _uuid
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import InvalidSpec

CLOCK_FORMAT = "%Y-%m-%d %H:%M:%S"
KNOWN = ("uuid", "datetime", "run_id", "run_type", "task_name", "job_id", "attempt", "params", "creator", "runner",
         "pipeline_id", "flow_id", "pipeline_name", "flow_name", "execution_date", "data_interval_start",
         "data_interval_end")
_SPAN = re.compile(r"\{\{(.*?)\}\}")
_UUID_NAMES = ("uuid1", "uuid3", "uuid4", "uuid5", "UUID", "NAMESPACE_DNS", "NAMESPACE_URL", "NAMESPACE_OID",
               "NAMESPACE_X500")
_DATETIME_NAMES = ("datetime", "date", "time", "timedelta", "timezone", "MINYEAR", "MAXYEAR")


class _Module:
    """A module in templates: its listed names only; ``str()`` is the run's value (V1)."""

    def __init__(self, module: Any, names: tuple[str, ...], text: str):
        self._module, self._names, self._text = module, names, text

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._names:
            raise AttributeError(f"{self._module.__name__}.{name} is not available in templates")
        return getattr(self._module, name)

    def __str__(self) -> str:
        return self._text


def run_variables(*, run_id: str, run_type: str, flow_name: str, created: _dt.datetime, flow_id: Any = None,
                  creator: str | None = None, runner: str | None = None, execution_date: _dt.datetime | None = None,
                  data_interval_start: _dt.datetime | None = None, data_interval_end: _dt.datetime | None = None,
                  params: Mapping[str, Any] | None = None, run_uuid: str | None = None) -> dict[str, Any]:
    """The values frozen when a run is created (V1; ``task_name``, ``job_id``, ``attempt`` are
    added per task). ``execution_date`` is the trigger time of a manual run (Airflow)."""
    values: dict[str, Any] = {
        "uuid": _Module(_uuid, _UUID_NAMES, run_uuid or _uuid.uuid4().hex),
        "datetime": _Module(_dt, _DATETIME_NAMES, created.strftime(CLOCK_FORMAT)),
        "run_id": run_id, "run_type": run_type, "flow_name": flow_name, "pipeline_name": flow_name,
        "flow_id": flow_id, "pipeline_id": flow_id, "creator": creator, "runner": runner,
        "execution_date": (execution_date or created).strftime(CLOCK_FORMAT),
        "params": dict(params or {}),
    }
    for key, when in (("data_interval_start", data_interval_start), ("data_interval_end", data_interval_end)):
        if when is not None:
            values[key] = when.strftime(CLOCK_FORMAT)
    return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Rendered:
    text: str
    warnings: tuple[str, ...] = ()


def render(text: str, values: Mapping[str, Any], *, task: str) -> Rendered:
    """Substitute every ``{{ ... }}`` whose names are all known and have values; keep the rest."""
    env = _env()
    warnings: list[str] = []

    def one(m: re.Match[str]) -> str:
        span = m.group(0)
        line = text.count("\n", 0, m.start()) + 1
        names = _names(env, span)
        if not names or not names <= set(KNOWN):  # no name at all: a literal in code, {{ {"a": 1} }}
            warnings.append(f'Unrecognised template variable "{span}" left as-is in task "{task}" line {line} '
                            f"(known: {', '.join(KNOWN)})")
            return span
        if not names <= set(values):
            return span  # known, not yet valued (attempt, job_id): a later pass renders it
        try:
            compiled = env.from_string(span)
        except Exception as err:  # TemplateAssertionError: an unknown filter on known names (E31)
            raise InvalidSpec(f'Bad filter in "{span}" (task "{task}", line {line}): {_why(err)}') from None
        try:
            return compiled.render(**values)
        except Exception as err:  # undefined attribute, sandbox refusal, a type error: keep the text
            warnings.append(f'Template variable "{span}" left as-is in task "{task}" line {line}: {_why(err)}')
            return span

    return Rendered(_SPAN.sub(one, text), tuple(warnings))


def _names(env: Any, span: str) -> set[str] | None:
    """The names one ``{{ ... }}`` reads, or None when it is not a Jinja expression. (An
    expression binds no names, and filters are not names: an unknown filter is E31, below.)"""
    from jinja2 import TemplateSyntaxError, nodes

    try:
        tree = env.parse(span)
    except TemplateSyntaxError:
        return None
    return {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}


def _why(err: Exception) -> str:
    text = str(err).strip().rstrip(".").replace(f"'{__name__}._Module object'", "the module")
    m = re.match(r"No filter named '([^']+)'", text)
    return f'unknown filter "{m.group(1)}"' if m else " ".join(text.split()) or type(err).__name__


@functools.lru_cache(maxsize=None)
def _env() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters.update(strftime=_strftime, add_days=_add_days, iso=_iso)  # V2
    return env


def _when(value: Any) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        return value
    text = str(value)
    try:
        return _dt.datetime.strptime(text, CLOCK_FORMAT)
    except ValueError:
        return _dt.datetime.fromisoformat(text)


def _strftime(value: Any, fmt: str) -> str:
    return _when(value).strftime(fmt)


def _add_days(value: Any, days: int) -> Any:
    moved = _when(value) + _dt.timedelta(days=days)
    return moved if isinstance(value, _dt.datetime) else moved.strftime(CLOCK_FORMAT)


def _iso(value: Any) -> str:
    return _when(value).isoformat()


def render_task(task: Any, values: Mapping[str, Any], *, template: Any = None,
                flow_params: Mapping[str, Any] | None = None) -> Rendered:
    """The text a flow task runs (flowdef.Task): its command, script or cell, or its template's
    body with ``params`` = the template's checked values. ``no_template`` keeps the text as is."""
    if task.template is not None:
        if template is None:
            raise InvalidSpec(f'Task "{task.name}" uses template "{task.template}", which was not given')
        text = template.command if template.command is not None else template.script
        params = template.values(task.params, task.name)
    else:
        text = task.command if task.command is not None else task.script if task.script is not None else task.cell
        params = dict(flow_params or values.get("params") or {})
    if task.no_template:
        return Rendered(text)
    return render(text, {**values, "params": params, "task_name": task.name}, task=task.name)

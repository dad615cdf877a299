"""``JobRequest``: what a submission asks for, the one list of a job request's fields.

Every front builds one: the option parser (``options.to_request``), the API (``server/parsing.py``
derives the body fields it accepts, and their checks, from ``fields(JobRequest)``), the service
(``JobService.submit_request``), and redo (``request_from_job``); ``wire.request_to_json`` is its
JSON. A new request field is added here, once, and ``tests/test_request.py`` fails until the
parser, the API and ``openapi.yaml`` agree.

Each field's metadata says how the others see it:

- ``api``: the kind of value the ``POST jobs`` body takes (``server/parsing.py`` maps a kind to its
  check); absent: not a body field (``user`` comes from the host, ``redo_of`` from redo).
- ``options``: the ``gbatch`` option dests (``options.build_parser``) that set the field; absent:
  no option sets it (the front fills it in: ``scope``, a script's text).

Also the one ``--gpus`` rule (``parse_gpus``): whether the devices exist is the service's check.
Stdlib only: the magics import ``options``, which imports this module, in the user's kernel.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .errors import InvalidSpec
from .model import Job
from .slurmrules import PASSTHROUGH

#: Slurm's own options (``--partition``...) as parser dests; ``--gres``/``--gpus`` are our GPU options
SLURM_DESTS = {f"slurm_{name.replace('-', '_')}": name for name in PASSTHROUGH if name not in ("gres", "gpus")}

UNLIMITED = "UNLIMITED"  # a time limit of None in a request means "the default", so unlimited is said


def _f(default: Any = None, *, api: str | None = None, options: Sequence[str] = (), **kw: Any) -> Any:
    meta: dict[str, Any] = {"options": tuple(options)}
    if api is not None:
        meta["api"] = api
    if "default_factory" in kw:
        return field(metadata=meta, **kw)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class JobRequest:
    """One submission as asked (values as a client gives them: the service validates and resolves).

    ``command`` is argv (a string is split like a shell would), or ``script`` text run by
    ``interpreter``; ``time_limit`` None takes the service's default (``"UNLIMITED"``: none);
    ``gpus`` a count, ``"0,2"`` device ids (``parse_gpus``), or a tuple of ids; ``dependency`` a
    Slurm/Crane string or a ``DepSpec``, ``depends_on*`` gflow's flags. The order of the fields is
    the order the API lists them in its messages.
    """

    command: Sequence[str] | str | None = _f(api="command", options=("command",))
    script: str | None = _f(api="script")
    interpreter: str | None = _f(api="path")
    name: str | None = _f(api="name", options=("name",))
    time_limit: str | float | None = _f(api="time_limit", options=("time",))
    gpus: int | str | tuple[int, ...] = _f(0, api="count_or_size", options=("gpus", "gres"))
    gpu_memory: int | str | None = _f(api="count_or_size", options=("gpu_memory",))
    priority: int = _f(0, api="priority", options=("priority",))
    group: str | None = _f(api="name", options=("group",))
    dependency: Any = _f(api="dependency", options=("dependency",))  # str | DepSpec | None
    depends_on: Any = _f(api="targets", options=("depends_on",))
    depends_on_all: Any = _f(api="targets", options=("depends_on_all",))
    depends_on_any: Any = _f(api="targets", options=("depends_on_any",))
    auto_cancel: bool = _f(True, api="bool", options=("no_auto_cancel", "kill_on_invalid_dep"))
    hold: bool = _f(False, api="bool", options=("hold",))
    retries: int = _f(0, api="retries", options=("retries",))
    retry_delay: float = _f(0.0, api="duration", options=("retry_delay",))
    retry_backoff: float = _f(1.0, api="backoff", options=("retry_backoff",))
    retry_max_delay: float | None = _f(api="duration", options=("retry_max_delay",))
    retry_on: Iterable[str] | None = _f(api="retry_on", options=("retry_on",))
    cwd: str | None = _f(api="path", options=("chdir",))
    env: dict[str, str] | None = _f(api="env", options=("env",))
    scope: str | None = _f(api="name")
    scope_name: str = _f("this notebook", api="name")
    array: str | None = _f(api="array", options=("array",))
    export: str | None = _f(api="export", options=("export",))
    output: str | None = _f(api="path", options=("output",))
    error: str | None = _f(api="path", options=("error",))
    executor: str | None = _f(api="executor", options=("executor",))  # None: the host's default
    slurm: dict[str, str] | None = _f(api="slurm", options=tuple(SLURM_DESTS))  # passed through to sbatch
    user: str | None = _f()
    redo_of: int | None = _f()
    run_id: str | None = _f()  # the flow run (engine/flows.py) and its task: labels, not API fields
    task: str | None = _f()

    def but(self, **changes: Any) -> "JobRequest":
        return dataclasses.replace(self, **changes)


REQUEST_FIELDS = tuple(f.name for f in dataclasses.fields(JobRequest))
#: the fields a ``POST jobs`` body may give, in the API's order, with the kind of value each takes
API_FIELDS = {f.name: f.metadata["api"] for f in dataclasses.fields(JobRequest) if "api" in f.metadata}
DEFAULTS = {f.name: f.default for f in dataclasses.fields(JobRequest)}


#: the executors a request may name (whether this host has one is the service's check)
EXECUTORS = ("local", "slurm")


def executor_name(flag: str, value: object) -> str:
    """``--executor``'s value: one of ``EXECUTORS``."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    if text not in EXECUTORS:
        raise InvalidSpec(f'{flag} expects {" or ".join(EXECUTORS)}, got "{value}"')
    return text


def slurm_options(field: str, value: Any) -> dict[str, str]:
    """The API's ``slurm`` field: ``{"partition": "gpu", "mem": "16G"}``, names from ``PASSTHROUGH``."""
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidSpec(f'Field "{field}" expects an object of strings, got {str(value)[:80]}')
    for key in value:
        if key not in PASSTHROUGH:
            raise InvalidSpec(f'Field "{field}": "{key}" is not passed to Slurm; the options that are: '
                              + ", ".join(PASSTHROUGH))
    return dict(value)


# --- --gpus ----------------------------------------------------------------------------------

_GPU_IDS = re.compile(r"\[?\s*[0-9]+(?:\s*,\s*[0-9]+)*\s*,?\s*\]?")


def parse_gpus(value: int | str | Sequence[int]) -> tuple[int, tuple[int, ...] | None]:
    """``--gpus``: ``(count, None)`` for a count, ``(count, ids)`` for device ids.

    ``2`` (or ``"2"``) is a count; ``"0,2"`` names devices, and one device is ``"3,"`` (a bare
    ``3`` is a count); ``[0, 2]`` and ``"[0,2]"`` name devices too. Whether they exist is the
    service's check (``engine/submit.py``), not a rule of the words.

    >>> parse_gpus("2"), parse_gpus("2,0"), parse_gpus("3,")
    ((2, None), (2, (0, 2)), (1, (3,)))
    """
    if isinstance(value, bool):
        raise InvalidSpec(f'--gpus expects a count (2) or GPU ids (0,2), got "{value}"')
    if isinstance(value, int):
        if value < 0:
            raise InvalidSpec(f"--gpus must be 0 or more, got {value}")
        return value, None
    if isinstance(value, (tuple, list)):
        return _ids(value, value)
    text = str(value).strip()
    if re.fullmatch(r"[0-9]{1,4}", text):
        return int(text), None
    if len(text) < 200 and _GPU_IDS.fullmatch(text) and ("," in text or text.startswith("[")):
        return _ids([int(i) for i in text.strip("[] ").split(",") if i.strip()], value)
    raise InvalidSpec(f'--gpus expects a count (2) or GPU ids (0,2), got "{value}"')


def _ids(ids: Sequence[int], value: Any) -> tuple[int, tuple[int, ...]]:
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids):
        raise InvalidSpec(f'--gpus expects a count (2) or GPU ids (0,2), got "{value}"')
    if len(set(ids)) != len(ids):
        shown = value if isinstance(value, str) else ",".join(map(str, value))
        raise InvalidSpec(f'--gpus lists a GPU twice: "{shown}"')
    return len(ids), tuple(sorted(ids))


def format_gpus(count: int, ids: Sequence[int] | None) -> int | str:
    """The request value back: a count, or ids as ``--gpus`` writes them (one id keeps its comma)."""
    if ids is None:
        return count
    return ",".join(map(str, ids)) + ("," if len(ids) == 1 else "")


# --- from a stored job -----------------------------------------------------------------------


#: Request fields a stored job does not give back: its runner words are its command, its
#: dependency holds the gflow flags resolved, a copy is queued (not held) and is one job (a task
#: of an array keeps its task's environment), ``@`` is resolved already, and a copy of a flow
#: run's task is no task of that run (resume redoes a task in place).
NOT_FROM_JOB = frozenset({"interpreter", "depends_on", "depends_on_all", "depends_on_any", "hold", "array",
                          "scope_name", "run_id", "task"})


def request_from_job(job: Job, **changes: Any) -> JobRequest:
    """The request that submits ``job`` again as it was asked (redo, ``--cascade``), with ``changes``.

    Its stored environment is already filtered, so all of it is kept (``export="ALL"``); a script
    job gives its script text again (the runner words are its command), so the copy gets a script
    file of its own; its dependency is the resolved one, ids only.
    """
    command = job.command[:-1] if job.script is not None else job.command  # the script's path comes last
    r = job.retry
    request = JobRequest(
        command=list(command), script=job.script, name=job.name,
        time_limit=UNLIMITED if job.time_limit is None else job.time_limit,
        gpus=format_gpus(job.gpus, job.gpu_ids), gpu_memory=job.gpu_memory, priority=job.priority, group=job.group,
        dependency=job.dependency, auto_cancel=job.auto_cancel, retries=r.retries, retry_delay=r.delay,
        retry_backoff=r.backoff, retry_max_delay=r.max_delay, retry_on=r.retry_on, cwd=job.cwd, env=dict(job.env),
        export="ALL", scope=job.scope, user=job.user, output=job.output, error=job.error, redo_of=job.id,
        executor=job.executor, slurm=dict(job.slurm) or None,
    )
    return request.but(**changes)

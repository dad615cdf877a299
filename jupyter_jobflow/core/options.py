"""The one submit-option parser: ``gbatch``, the ``%%gbatch`` magic and in-cell directives.

Every front reads submit options through ``parse_submit_args`` (directives through
``parse_words``), so a flag means the same everywhere. argparse only splits the words; the
values are checked and normalised here, so a mistake is one ``InvalidSpec`` line and never a
``SystemExit`` inside a kernel.

Stdlib only: the magic imports this module in the user's kernel.

>>> opts = parse_submit_args(["--gpus", "1", "-t", "2:00:00", "python", "train.py", "--lr", "0.1"])
>>> opts.gpus, opts.time_limit, opts.command
(1, 7200, ['python', 'train.py', '--lr', '0.1'])
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import depspec, limits, outfiles
from .depspec import DepSpec
from .errors import InvalidSpec
from .optparser import _default_parser, build_parser  # noqa: F401 (build_parser: public)
from .optvalues import (
    ACCUMULATING,
    array_indices,
    array_spec,
    env_item,
    factor,
    gres_gpus,
    names,
    non_empty,
    parse_export,
    parse_memory_size,
    retry_causes,
    seconds,
    whole,
    yes_no,
)
from .request import REQUEST_FIELDS, SLURM_DESTS, UNLIMITED, JobRequest, executor_name, format_gpus, parse_gpus
from .timespec import parse_time_limit
from .wire import request_to_json


@dataclass(frozen=True)
class SubmitOptions:
    """Normalised submit options. ``explicit`` names the fields the user actually gave, which is
    what precedence (CLI > directives > server defaults) needs to know.
    """

    name: str | None = None
    time_limit: int | None = None  # seconds; None = unlimited (or not given: see time_given)
    gpus: int = 0
    gpu_ids: tuple[int, ...] | None = None
    gpu_memory: int | None = None  # MiB per GPU (--gpu-memory): shared mode
    priority: int = 0
    group: str | None = None
    dependency: DepSpec | None = None  # unresolved: @ and @~N are resolved at submit
    auto_cancel: bool = True
    hold: bool = False
    retries: int = 0
    retry_delay: float = 0.0
    retry_backoff: float = 1.0
    retry_max_delay: float | None = None
    retry_on: frozenset[str] = frozenset({"failure", "error"})
    array: str | None = None
    chdir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    export: str | None = None  # --export: ALL, NONE, NAME, NAME=value (see parse_export); None: the default list
    output: str | None = None  # --output file name, with %j %x %A %a patterns (outfiles.py)
    error: str | None = None  # --error file name
    executor: str | None = None  # --executor: local, slurm; None: the host's default
    slurm: dict[str, str] = field(default_factory=dict)  # Slurm's own options: {"partition": "gpu"}
    parsable: bool = False
    shell: bool = False
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    command: list[str] = field(default_factory=list)
    explicit: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()  # how a foreign spelling was read (``-d 1`` = afterok:1): one line each

    @property
    def time_given(self) -> bool:
        """Whether ``--time`` was given (``time_limit`` None alone can't tell UNLIMITED from unset)."""
        return "time_limit" in self.explicit


@dataclass(frozen=True)
class ParsedWords:
    """What one list of words said: the options, plus what a directive reader must report."""

    options: SubmitOptions
    flags: dict[str, str]  # field -> the option string that set it, as written ("-t")
    ignored: tuple[tuple[str, str], ...] = ()  # (canonical, as written) of ignored foreign options
    unknown: tuple[str, ...] = ()  # unrecognised option words
    bare_dependency: str | None = None  # a --dependency without a type, read as gflow's afterok


def parse_submit_args(argv: Sequence[str]) -> SubmitOptions:
    """Parse ``gbatch`` / ``%%gbatch`` words. ``--help`` raises ``HelpRequested`` (a terminal
    prints its text); anything else that is wrong raises ``InvalidSpec`` with a one-line message.
    """
    parsed = parse_words(argv)
    if parsed.unknown:
        word = parsed.unknown[0].split("=", 1)[0]
        raise InvalidSpec(f'unrecognized option "{word}"')
    return parsed.options


def parse_words(argv: Sequence[str], parser: argparse.ArgumentParser | None = None) -> ParsedWords:
    """Parse without judging unknown options: the caller says how to report them."""
    parser = parser or _default_parser()
    ns, unknown = parser.parse_known_args(list(argv))
    written: dict[str, str] = getattr(ns, "_written", {})
    options, flags = _normalise(ns, written)
    bare = ns.dependency if options.notes and ns.dependency is not None and depspec.is_bare(ns.dependency) else None
    return ParsedWords(options, flags, tuple(getattr(ns, "_ignored", ())), tuple(unknown), bare)


def merge(cli: SubmitOptions, directives: SubmitOptions) -> SubmitOptions:
    """Options from the command line win over directives, field by field.

    Only fields the CLI gave override; ``--env``, ``--in`` and ``--out`` add up (CLI keys win).
    """
    changes: dict[str, Any] = {}
    for name in cli.explicit:
        value = getattr(cli, name)
        if name in ("env", "slurm"):
            value = {**getattr(directives, name), **value}
        elif name in ACCUMULATING:
            value = tuple(dict.fromkeys(getattr(directives, name) + value))
        changes[name] = value
    return dataclasses.replace(directives, **changes, explicit=directives.explicit | cli.explicit,
                               notes=directives.notes + cli.notes)


# --- normalising the values -------------------------------------------------------------------


def _normalise(ns: argparse.Namespace, written: dict[str, str]) -> tuple[SubmitOptions, dict[str, str]]:
    values: dict[str, Any] = {}
    flags: dict[str, str] = {}

    def give(dest: str, **fields: Any) -> None:
        values.update(fields)
        flags.update(dict.fromkeys(fields, written[dest]))

    if ns.name is not None:
        give("name", name=limits.length("--name", non_empty("--name", ns.name), limits.MAX_NAME))
    if ns.time is not None:
        give("time", time_limit=parse_time_limit(ns.time))
    if ns.gpus is not None and ns.gres is not None:
        raise InvalidSpec("--gres cannot be combined with --gpus")
    if ns.gpus is not None:
        count, ids = parse_gpus(ns.gpus)
        give("gpus", gpus=count, gpu_ids=ids)
    if ns.gres is not None:
        give("gres", gpus=gres_gpus(ns.gres), gpu_ids=None)
    if ns.gpu_memory is not None:
        give("gpu_memory", gpu_memory=parse_memory_size(ns.gpu_memory))
    if ns.priority is not None:
        give("priority", priority=limits.in_range("--priority", whole("--priority", ns.priority),
                                                   *limits.PRIORITY_RANGE))
    if ns.group is not None:
        give("group", group=limits.length("--group", non_empty("--group", ns.group), limits.MAX_NAME))
    dep_dests = ("dependency", "depends_on", "depends_on_all", "depends_on_any")
    dep_given = [d for d in dep_dests if getattr(ns, d) is not None]
    notes: list[str] = []
    if dep_given:
        dep_values = {d: getattr(ns, d) for d in dep_dests}
        if dep_given == ["dependency"] and depspec.is_bare(ns.dependency):  # gflow's -d @, --dependency 1
            dep_values.update(dependency=None, depends_on=ns.dependency)
            notes.append(depspec.bare_note(written["dependency"], ns.dependency))
        spec = depspec.from_flags(**dep_values)
        give(dep_given[-1], dependency=spec)
    if ns.no_auto_cancel is not None or ns.kill_on_invalid_dep is not None:
        kill = None if ns.kill_on_invalid_dep is None else yes_no("--kill-on-invalid-dep", ns.kill_on_invalid_dep)
        if ns.no_auto_cancel and kill:
            raise InvalidSpec("--no-auto-cancel cannot be combined with --kill-on-invalid-dep=yes")
        dest = "kill_on_invalid_dep" if kill is not None else "no_auto_cancel"
        give(dest, auto_cancel=bool(kill))
    for dest in ("hold", "parsable", "shell"):
        if getattr(ns, dest) is not None:
            give(dest, **{dest: True})
    if ns.retries is not None:
        give("retries", retries=limits.in_range("--retries", whole("--retries", ns.retries, minimum=0),
                                                 0, limits.MAX_RETRIES))
    if ns.retry_delay is not None:
        give("retry_delay", retry_delay=seconds("--retry-delay", ns.retry_delay))
    if ns.retry_backoff is not None:
        give("retry_backoff", retry_backoff=factor("--retry-backoff", ns.retry_backoff))
    if ns.retry_max_delay is not None:
        give("retry_max_delay", retry_max_delay=seconds("--retry-max-delay", ns.retry_max_delay))
    if ns.retry_on is not None:
        give("retry_on", retry_on=retry_causes(ns.retry_on))
    if ns.array is not None:
        array_indices(ns.array)  # the task count and %N too, here rather than at the service
        give("array", array=array_spec(ns.array))
    if ns.chdir is not None:
        give("chdir", chdir=non_empty("--chdir", ns.chdir))
    if ns.env is not None:
        give("env", env=limits.env("--env", dict(env_item(item) for item in ns.env)))
    if ns.export is not None:
        parse_export(ns.export)
        give("export", export=ns.export.strip())
    for dest in ("output", "error"):
        if getattr(ns, dest) is not None:
            give(dest, **{dest: outfiles.check(f"--{dest}", getattr(ns, dest))})
    if ns.inputs is not None:
        give("inputs", inputs=names("--in", ns.inputs, refs=True))
    if ns.outputs is not None:
        give("outputs", outputs=names("--out", ns.outputs))
    if ns.executor is not None:
        give("executor", executor=executor_name("--executor", ns.executor))
    given = {name: getattr(ns, dest) for dest, name in SLURM_DESTS.items() if getattr(ns, dest, None) is not None}
    if given:
        values["slurm"] = {name: non_empty(f"--{name}", value) for name, value in given.items()}
        flags["slurm"] = written[next(d for d, n in SLURM_DESTS.items() if n in given)]
    command = list(ns.command or [])
    if command[:1] == ["--"]:  # "gbatch -- cmd": argparse keeps the "--" for REMAINDER
        command = command[1:]
    if command:
        values["command"] = command
    return SubmitOptions(**values, explicit=frozenset(values), notes=tuple(notes)), flags


# --- the job request and its JSON body (docs/api.md, POST jobs) ---------------------------------

#: Options fields that spell a request field another way (``to_request`` converts them), and
#: the fronts' own options, which are not part of a job request. Every other field of
#: ``SubmitOptions`` is the request field of the same name (tests/test_request.py checks it).
SPELLINGS = {"gpu_ids": "gpus", "chdir": "cwd"}
FRONT_ONLY = frozenset({"parsable", "shell", "inputs", "outputs", "explicit", "notes"})


def to_request(opts: SubmitOptions, *, scope: str | None = None, scope_name: str | None = None,
               cwd: str | None = None) -> JobRequest:
    """The job request of ``opts``: the fields the user gave, the rest left to the server.

    ``@`` stays unresolved: the server resolves it against ``scope``'s history. ``--chdir`` wins
    over ``cwd`` (the front's own directory; the server's is meaningless to the user).
    """
    values: dict[str, Any] = {name: getattr(opts, name) for name in REQUEST_FIELDS if name in opts.explicit}
    if "time_limit" in values and values["time_limit"] is None:
        values["time_limit"] = UNLIMITED
    if "gpus" in values:
        values["gpus"] = format_gpus(opts.gpus, opts.gpu_ids)
    # --env values are kept with the job: the service keeps what --export names (jobenv.py)
    export = ",".join([*([opts.export] if opts.export else []), *opts.env])
    if export:
        values["export"] = export
    if opts.chdir or cwd:  # a relative --chdir is relative to the front's directory
        values["cwd"] = os.path.join(cwd or "", os.path.expanduser(opts.chdir)) if opts.chdir else cwd
    if scope:
        values["scope"] = scope
    if scope_name:
        values["scope_name"] = scope_name
    return JobRequest(**values)


def to_submit_body(opts: SubmitOptions, *, scope: str | None = None, scope_name: str | None = None,
                   cwd: str | None = None) -> dict[str, Any]:
    """The ``POST jobs`` body for ``opts`` (``to_request``'s JSON), shared by ``gbatch`` and the
    magics. Front-only options (``--parsable``, ``--shell``, ``--in``, ``--out``) are not sent.
    The caller adds ``command`` or ``script``/``interpreter``.
    """
    return request_to_json(to_request(opts, scope=scope, scope_name=scope_name, cwd=cwd))

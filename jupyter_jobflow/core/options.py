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
import functools
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from . import depspec, limits, outfiles
from .depspec import DepSpec
from .errors import HelpRequested, InvalidSpec
from .request import REQUEST_FIELDS, UNLIMITED, JobRequest, format_gpus, parse_gpus
from .timespec import parse_delay, parse_time_limit
from .wire import request_to_json

RETRY_ON = ("failure", "error", "timeout")
# Repeatable options add up instead of replacing each other (in merges and across directives).
ACCUMULATING = frozenset({"env", "inputs", "outputs"})

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GRES = re.compile(r"gpu(?::[A-Za-z][\w.-]*)?(?::([0-9]+))?")
_ARRAY = re.compile(r"[0-9]+(?:-[0-9]+(?::[0-9]+)?)?(?:,[0-9]+(?:-[0-9]+(?::[0-9]+)?)?)*(?:%[0-9]+)?")


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
        if name == "env":
            value = {**directives.env, **cli.env}
        elif name in ACCUMULATING:
            value = tuple(dict.fromkeys(getattr(directives, name) + value))
        changes[name] = value
    return dataclasses.replace(directives, **changes, explicit=directives.explicit | cli.explicit,
                               notes=directives.notes + cli.notes)


# --- the parser --------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that never writes to stdout nor exits, in any host: ``-h`` (also ``-hh``) raises
    ``HelpRequested`` carrying the help text, which only a terminal prints (``cli.run``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InvalidSpec(_reword(message))

    def print_help(self, file: Any = None) -> None:
        raise HelpRequested(self.format_help())

    def print_usage(self, file: Any = None) -> None:
        raise HelpRequested(self.format_usage())

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise InvalidSpec(" ".join((message or f"{self.prog}: cannot parse the options").split()))


class _Record(argparse.Action):
    """Store the raw words and remember which option string set each dest (for W2/E20 messages)."""

    def __init__(self, option_strings: list[str], dest: str, repeat: bool = False, **kwargs: Any) -> None:
        self.repeat = repeat
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: Any, ns: Any, values: Any, option_string: str | None = None) -> None:
        if self.nargs == 0:
            values = True
        if self.repeat:
            values = [*(getattr(ns, self.dest) or []), values]
        setattr(ns, self.dest, values)
        ns._written = {**getattr(ns, "_written", {}), self.dest: option_string}


class _Ignore(argparse.Action):
    """A foreign option that is accepted and dropped (directives: Slurm's cluster options, docs/commands.md)."""

    def __call__(self, parser: Any, ns: Any, values: Any, option_string: str | None = None) -> None:
        ns._ignored = [*getattr(ns, "_ignored", []), (self.option_strings[0], option_string)]


def build_parser(
    prog: str = "gbatch",
    *,
    ignored: Iterable[tuple[tuple[str, ...], Any]] = (),
    add_help: bool = True,
) -> argparse.ArgumentParser:
    """The submit parser. ``ignored`` adds foreign options as ``(flags, nargs)`` that are accepted
    and reported in ``ParsedWords.ignored`` (directives use it for Slurm/Crane options).
    """
    p = _Parser(
        prog=prog,
        add_help=add_help,
        allow_abbrev=False,  # the long names are the contract; "--dep" must not guess
        description="Submit a job to the jupyter-jobflow queue.",
        epilog=(
            "Dependencies: afterok = parent Finished; afternotok = parent Failed, timed out, or "
            "cancelled because its own dependency failed; afterany = parent ended in any way; "
            "after = parent started. "
            "afternotok is NOT fired by a user cancel (use afterany for Slurm's behaviour)."
        ),
    )

    def opt(*flags: str, dest: str | None = None, flag: bool = False, repeat: bool = False, **kw: Any) -> None:
        p.add_argument(*flags, dest=dest, action=_Record, nargs=0 if flag else None, repeat=repeat, **kw)

    opt("--name", "-J", "--job-name", dest="name", metavar="NAME", help="job name (shown by gqueue)")
    opt("--time", "-t", dest="time", metavar="TIME",
        help="time limit: minutes (30 = 30 min), MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, "
             "90s, 2h30m, or UNLIMITED. A bare number is MINUTES (as in Slurm)")
    opt("--gpus", "-G", dest="gpus", metavar="N|IDS",
        help="GPUs: a count (2) or explicit device ids (0,2; one id: 3,)")
    opt("--gpu-memory", dest="gpu_memory", metavar="SIZE",
        help="share GPUs: the GPU memory the job needs on each of its GPUs (8G, 500M; a bare number is MiB). "
             "Jobs with --gpu-memory share a GPU while their memory fits; implies --gpus 1 when --gpus is not given")
    opt("--gres", dest="gres", metavar="gpu:N", help="Slurm spelling of --gpus: gpu:N (a gpu:TYPE:N type is ignored)")
    opt("--priority", dest="priority", metavar="INT", help="higher runs first (default 0)")
    opt("--group", dest="group", metavar="NAME", help="queue group (parallel limits, pause/resume)")
    opt("--dependency", "-d", dest="dependency", metavar="SPEC",
        help="Slurm/Crane dependency string, e.g. afterok:12:13, afterok:@+10m?afternotok:@~1, "
             "singleton,afterany:5. A bare id or @ is gflow's afterok (-d @ = afterok:@). afternotok is not fired "
             "by a user cancel; use afterany for Slurm's behaviour")
    opt("--depends-on", dest="depends_on", metavar="IDS",
        help="gflow: run after these jobs succeed (afterok); ids, @ (last submission) or @~N")
    opt("--depends-on-all", dest="depends_on_all", metavar="IDS",
        help="gflow: run after ALL of these jobs succeed (afterok:A:B:C)")
    opt("--depends-on-any", dest="depends_on_any", metavar="IDS",
        help="gflow: run after ANY of these jobs succeeds (afterok:A?afterok:B)")
    opt("--no-auto-cancel", dest="no_auto_cancel", flag=True,
        help="keep the job queued (DependencyNeverSatisfied) when its dependency can never be met, "
             "instead of cancelling it")
    opt("--kill-on-invalid-dep", dest="kill_on_invalid_dep", metavar="yes|no",
        help="Slurm spelling: no = --no-auto-cancel; yes = cancel (the default)")
    opt("--hold", dest="hold", flag=True, help="submit held; start it with release")
    opt("--retries", dest="retries", metavar="N", help="extra attempts after a failure (default 0)")
    opt("--retry-delay", dest="retry_delay", metavar="DURATION",
        help="wait before a retry: 10s, 5m, 1h30m or HH:MM:SS; a bare number is SECONDS here")
    opt("--retry-backoff", dest="retry_backoff", metavar="FACTOR",
        help="multiply the wait by this after each retry (default 1)")
    opt("--retry-max-delay", dest="retry_max_delay", metavar="DURATION",
        help="cap on one wait; same format as --retry-delay")
    opt("--retry-on", dest="retry_on", metavar="LIST",
        help="what is retried: comma list of failure, error, timeout, always (default failure,error)")
    opt("--array", dest="array", metavar="SPEC", help="job array indices: 0-9, 1,3,5, 0-15:4, 0-9%%2")
    opt("--chdir", "-D", dest="chdir", metavar="DIR", help="working directory of the job")
    opt("--env", dest="env", metavar="KEY=VALUE", repeat=True, help="set an environment variable (repeatable)")
    opt("--export", dest="export", metavar="LIST",
        help="which of your environment variables the job keeps (Slurm's --export): ALL, NONE, or a comma list "
             "of NAME and NAME=value, added to the default list (PATH, HOME, the active venv/conda, CUDA_*, ...; "
             "see docs/security.md) unless NONE or ALL comes first. Tokens of Jupyter and jobflow are never kept")
    opt("--output", "-o", dest="output", metavar="FILE",
        help="also write the job's output to FILE (its errors too, unless --error), relative to its working "
             "directory; %%j = job id, %%x = job name, %%A = array id, %%a = array task index (as sbatch). "
             "The log stays (gjob log)")
    opt("--error", "-e", dest="error", metavar="FILE", help="also write the job's errors (stderr) to FILE; same patterns")
    opt("--parsable", dest="parsable", flag=True, help="print only the job id")
    opt("--shell", dest="shell", flag=True, help="run the cell as a shell (bash) script instead of Python")
    opt("--in", dest="inputs", metavar="NAMES", repeat=True,
        help="variables the job needs (comma list, repeatable): a parent job's --out of that name, read when "
             "the job starts, else this notebook's variable at submit; NAME:JOB picks the parent")
    opt("--out", dest="outputs", metavar="NAMES", repeat=True,
        help="variables to bring back from the job (comma list, repeatable)")
    for flags, nargs in ignored:
        p.add_argument(*flags, action=_Ignore, nargs=nargs, help=argparse.SUPPRESS)
    p.add_argument("command", nargs=argparse.REMAINDER, help="command and its arguments")
    return p


@functools.lru_cache(maxsize=None)
def _default_parser() -> argparse.ArgumentParser:
    return build_parser()


def _reword(message: str) -> str:
    """argparse's messages, in the one-line style of the others."""
    m = re.match(r"argument (\S+): (.*)", message)
    if not m:
        return message
    option, problem = m.group(1).split("/")[0], m.group(2)
    if problem.startswith("expected"):
        return f"{option} expects a value"
    if problem.startswith("ignored explicit argument"):
        return f"{option} takes no value"
    return f"{option}: {problem}"


# --- normalising the values -------------------------------------------------------------------


def _normalise(ns: argparse.Namespace, written: dict[str, str]) -> tuple[SubmitOptions, dict[str, str]]:
    values: dict[str, Any] = {}
    flags: dict[str, str] = {}

    def give(dest: str, **fields: Any) -> None:
        values.update(fields)
        flags.update(dict.fromkeys(fields, written[dest]))

    if ns.name is not None:
        give("name", name=limits.length("--name", _non_empty("--name", ns.name), limits.MAX_NAME))
    if ns.time is not None:
        give("time", time_limit=parse_time_limit(ns.time))
    if ns.gpus is not None and ns.gres is not None:
        raise InvalidSpec("--gres cannot be combined with --gpus")
    if ns.gpus is not None:
        count, ids = parse_gpus(ns.gpus)
        give("gpus", gpus=count, gpu_ids=ids)
    if ns.gres is not None:
        give("gres", gpus=_gres(ns.gres), gpu_ids=None)
    if ns.gpu_memory is not None:
        give("gpu_memory", gpu_memory=parse_memory_size(ns.gpu_memory))
    if ns.priority is not None:
        give("priority", priority=limits.in_range("--priority", _int("--priority", ns.priority),
                                                   *limits.PRIORITY_RANGE))
    if ns.group is not None:
        give("group", group=limits.length("--group", _non_empty("--group", ns.group), limits.MAX_NAME))
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
        kill = None if ns.kill_on_invalid_dep is None else _yes_no("--kill-on-invalid-dep", ns.kill_on_invalid_dep)
        if ns.no_auto_cancel and kill:
            raise InvalidSpec("--no-auto-cancel cannot be combined with --kill-on-invalid-dep=yes")
        dest = "kill_on_invalid_dep" if kill is not None else "no_auto_cancel"
        give(dest, auto_cancel=bool(kill))
    for dest in ("hold", "parsable", "shell"):
        if getattr(ns, dest) is not None:
            give(dest, **{dest: True})
    if ns.retries is not None:
        give("retries", retries=limits.in_range("--retries", _int("--retries", ns.retries, minimum=0),
                                                 0, limits.MAX_RETRIES))
    if ns.retry_delay is not None:
        give("retry_delay", retry_delay=_seconds("--retry-delay", ns.retry_delay))
    if ns.retry_backoff is not None:
        give("retry_backoff", retry_backoff=_factor("--retry-backoff", ns.retry_backoff))
    if ns.retry_max_delay is not None:
        give("retry_max_delay", retry_max_delay=_seconds("--retry-max-delay", ns.retry_max_delay))
    if ns.retry_on is not None:
        give("retry_on", retry_on=_retry_on(ns.retry_on))
    if ns.array is not None:
        array_indices(ns.array)  # the task count and %N too, here rather than at the service
        give("array", array=_array(ns.array))
    if ns.chdir is not None:
        give("chdir", chdir=_non_empty("--chdir", ns.chdir))
    if ns.env is not None:
        give("env", env=limits.env("--env", dict(_env_item(item) for item in ns.env)))
    if ns.export is not None:
        parse_export(ns.export)
        give("export", export=ns.export.strip())
    for dest in ("output", "error"):
        if getattr(ns, dest) is not None:
            give(dest, **{dest: outfiles.check(f"--{dest}", getattr(ns, dest))})
    if ns.inputs is not None:
        give("inputs", inputs=_names("--in", ns.inputs, refs=True))
    if ns.outputs is not None:
        give("outputs", outputs=_names("--out", ns.outputs))
    command = list(ns.command or [])
    if command[:1] == ["--"]:  # "gbatch -- cmd": argparse keeps the "--" for REMAINDER
        command = command[1:]
    if command:
        values["command"] = command
    return SubmitOptions(**values, explicit=frozenset(values), notes=tuple(notes)), flags


def _non_empty(flag: str, text: str) -> str:
    if not text.strip():
        raise InvalidSpec(f"{flag} expects a non-empty value")
    return text


def _int(flag: str, text: str, minimum: int | None = None) -> int:
    t = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,18}", t) or (minimum is not None and int(t) < minimum):
        what = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise InvalidSpec(f'{flag} expects {what}, got "{text}"')
    return int(t)


def _seconds(flag: str, text: str) -> float:
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


def _factor(flag: str, text: str) -> float:
    t = text.strip()
    value = float(t) if _NUMBER.fullmatch(t) else math.nan
    if not (0 < value < math.inf):
        raise InvalidSpec(f'{flag} expects a number > 0, got "{text}"')
    if value > limits.MAX_BACKOFF:
        raise InvalidSpec(f'{flag} must be at most {limits.MAX_BACKOFF:g}, got "{text}"')
    return value


def _yes_no(flag: str, text: str) -> bool:
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


def _gres(text: str) -> int:
    m = _GRES.fullmatch(text.strip())
    if not m or len(m.group(1) or "") > 4:
        raise InvalidSpec(f'--gres expects gpu:<count> (or gpu:<type>:<count>), got "{text}"')
    return int(m.group(1) or 1)


def _retry_on(text: str) -> frozenset[str]:
    items = {i.strip().lower() for i in text.split(",")}
    if not items or not items <= {*RETRY_ON, "always"}:
        raise InvalidSpec(f'--retry-on expects a comma list of failure, error, timeout, always; got "{text}"')
    return frozenset(RETRY_ON) if "always" in items else frozenset(items)


def _array(text: str) -> str:
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
    t = _array(text)
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


def _env_item(text: str) -> tuple[str, str]:
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


def _names(flag: str, texts: list[str], refs: bool = False) -> tuple[str, ...]:
    """Comma lists of variable names; with ``refs`` (``--in``) a name may say its job: ``X:JOB``."""
    names = [n.strip() for text in texts for n in text.split(",")]
    for n in names:
        name, colon, job = n.partition(":") if refs else (n, "", "")
        if not name.strip().isidentifier() or (colon and not job.strip()):
            form = "variable names (NAME or NAME:JOB)" if refs else "variable names"
            raise InvalidSpec(f'{flag} expects comma-separated {form}, got "{",".join(texts)}"')
    return tuple(dict.fromkeys(names))


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

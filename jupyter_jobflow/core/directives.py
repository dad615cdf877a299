"""Submit options written inside a cell or script (docs/commands.md).

::

    #!/bin/bash
    #SBATCH --time=1:00:00
    # GFLOW --gpus 1
    python train.py

Directive lines count only in the leading comment block, as ``#SBATCH`` lines do for sbatch.
Each line is read by the same parser as ``gbatch`` (``options.parse_words``). A copy-pasted
Slurm script must not change meaning silently: the same option from two dialects with
different values is an error (E20), and cluster options we do not use are warned about (W3).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import re
import shlex
from dataclasses import dataclass, fields
from typing import Any

from . import depspec
from .errors import InvalidSpec
from .options import ACCUMULATING, ParsedWords, SubmitOptions, build_parser, merge, parse_words
from .request import SLURM_DESTS

_DIRECTIVE = re.compile(r"#(GBATCH|SBATCH|CBATCH|\s*GFLOW)(?=\s|$)(.*)")
_SLURM_CHOSEN = re.compile(r"^\s*#(?:GBATCH|\s*GFLOW)\b.*--executor[= ]\s*slurm\b", re.M)

# Slurm/CraneSched options that mean something on a cluster and nothing here: accepted,
# warned about once (W3), dropped. nargs as argparse takes it. Options that would change what
# the job gets (--gpus-per-node, --begin, ...) are deliberately absent: they fail as unknown (E21).
IGNORED_OPTIONS: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("--partition", "-p"), None),
    (("--nodes", "-N"), None),
    (("--ntasks", "-n"), None),
    (("--ntasks-per-node",), None),
    (("--cpus-per-task", "-c"), None),
    (("--mem",), None),
    (("--mem-per-cpu",), None),
    (("--open-mode",), None),
    (("--mail-type",), None),
    (("--mail-user",), None),
    (("--account", "-A"), None),
    (("--qos", "-q"), None),
    (("--reservation",), None),
    (("--constraint", "-C"), None),
    (("--nodelist", "-w"), None),
    (("--exclude", "-x"), None),
    (("--comment",), None),
    (("--exclusive",), "?"),
    (("--get-user-env",), "?"),
    (("--requeue",), 0),
    (("--no-requeue",), 0),
)


@dataclass(frozen=True)
class _Given:
    line: int
    dialect: str
    text: str
    value: Any


def read_directives(source: str, executor: str | None = None) -> tuple[SubmitOptions, list[str]]:
    """The options the leading directive lines of ``source`` give, and the warnings (W1-W3).

    Slurm's own options (``--partition``...) count when the job runs on Slurm (``executor``, the
    front's ``--executor``, or an ``--executor slurm`` directive); elsewhere they are warned about
    and dropped (W3), as before. Raises ``InvalidSpec`` naming the line for a bad directive (E20, E21, bad values).
    """
    on_slurm = executor == "slurm" or (executor is None and _SLURM_CHOSEN.search(source) is not None)
    options = SubmitOptions()
    warnings: list[str] = []
    history: dict[str, list[_Given]] = {}  # field -> every directive line that set it
    warned_ignored: set[str] = set()
    in_header = True
    for number, raw in enumerate(source.split("\n"), 1):
        line = raw.strip()
        m = _DIRECTIVE.match(line)
        if in_header and line and not line.startswith("#"):
            in_header = False  # the first command ends the block (a "#!" line is a comment)
        if not m:
            continue
        if not in_header:
            warnings.append(f"Line {number}: '{line}' after the first command is ignored")
            continue
        prefix, dialect = "#" + m.group(1), m.group(1).strip()
        parsed = _parse_line(number, prefix, line, m.group(2), on_slurm)
        if parsed.bare_dependency is not None:
            if dialect in ("SBATCH", "CBATCH"):  # Slurm and Crane read a bare id as afterany: no silent change
                raise InvalidSpec(f"Line {number}: {depspec.missing_type(parsed.bare_dependency.strip())}")
            warnings.extend(f"Line {number}: {note}" for note in parsed.options.notes)
        parsed = dataclasses.replace(parsed, options=dataclasses.replace(parsed.options, notes=()))
        for canonical, written in parsed.ignored:
            if canonical not in warned_ignored:
                warned_ignored.add(canonical)
                warnings.append(f'Line {number}: {prefix} option "{written}" is not used by jobflow and is ignored')
        warned_flags: set[str] = set()
        for f in fields(SubmitOptions):
            if f.name not in parsed.options.explicit or f.name in ACCUMULATING:
                continue
            given = _Given(number, dialect, line, getattr(parsed.options, f.name))
            earlier = history.setdefault(f.name, [])
            for other in reversed(earlier):
                if other.dialect != dialect and other.value != given.value:
                    raise InvalidSpec(f"Line {number} ({line}) conflicts with line {other.line} ({other.text})")
            flag = parsed.flags[f.name]
            same_dialect = [g for g in earlier if g.dialect == dialect]
            if same_dialect and flag not in warned_flags:
                warned_flags.add(flag)
                warnings.append(f"Line {number}: {flag} given again (first on line {same_dialect[0].line}); line {number} wins")
            earlier.append(given)
        options = merge(parsed.options, options)
    return options, warnings


def _parse_line(number: int, prefix: str, line: str, rest: str, on_slurm: bool = False) -> ParsedWords:
    try:
        words = shlex.split(_strip_comment(rest))
    except ValueError as err:  # unbalanced quotes
        raise InvalidSpec(f"Line {number}: cannot read '{line}': {err}") from None
    try:
        parsed = parse_words(words, _directive_parser(on_slurm))
    except InvalidSpec as err:
        raise InvalidSpec(f"Line {number}: {err}") from None
    if parsed.unknown:
        option = parsed.unknown[0].split("=", 1)[0]
        raise InvalidSpec(f'Line {number}: unknown {prefix} option "{option}"')
    if parsed.options.command:
        word = parsed.options.command[0]
        raise InvalidSpec(f"Line {number}: unexpected argument \"{word}\" in '{line}' (directives take options only)")
    return parsed


def _strip_comment(text: str) -> str:
    """Drop a trailing ``# comment``: a '#' that starts a word outside quotes (``--name run#1`` keeps it)."""
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i]
    return text


@functools.lru_cache(maxsize=None)
def _directive_parser(on_slurm: bool = False) -> argparse.ArgumentParser:
    # No --help: a directive must never print and exit. On Slurm, Slurm's own options are options.
    if on_slurm:
        own = {f"--{name}" for name in SLURM_DESTS.values()}
        return build_parser("directive", ignored=[o for o in IGNORED_OPTIONS if o[0][0] not in own], add_help=False)
    return build_parser("directive", ignored=IGNORED_OPTIONS, add_help=False, slurm=False)

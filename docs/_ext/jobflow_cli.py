"""The command reference, generated from the real argparse parsers (the terminal commands and the
notebook magics share them), so it cannot drift from the code. ``commands()`` is what both the
Sphinx build (``jobflow_docs.py``) and tests/test_docs_commands.py read."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Iterator


@dataclass
class Command:
    """One parser: a command (``gqueue``) or a subcommand (``gjob update``, ``gpipe template add``)."""

    name: str
    parser: argparse.ArgumentParser
    help: str = ""
    subcommands: list["Command"] = field(default_factory=list)
    note: str = ""

    def walk(self) -> Iterator["Command"]:
        yield self
        for sub in self.subcommands:
            yield from sub.walk()


def _with_subcommands(name: str, parser: argparse.ArgumentParser, help: str = "", note: str = "") -> Command:
    cmd = Command(name, parser, help or parser.description or "", note=note)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for verb, sub in action.choices.items():
                cmd.subcommands.append(_with_subcommands(f"{name} {verb}", sub, helps.get(verb, "")))
    return cmd


def commands() -> list[Command]:
    """Every command line a user types, each from the parser that reads it."""
    from jupyter_jobflow.cli import gcancel, ginfo, gjob, gpipe, gqueue, jobflow
    from jupyter_jobflow.core.optparser import build_parser
    from jupyter_jobflow.notebook.cellio import gresult_parser
    from jupyter_jobflow.server import daemon

    return [
        _with_subcommands("gbatch", build_parser(), note=(
            "`%%gbatch` (a cell) and `%gbatch` (a command) read the same options. `gbatch --state-dir DIR ...` "
            "(first word only) submits to that state directory.")),
        _with_subcommands("gqueue", gqueue.parser(), note="`%gqueue` is the same command."),
        _with_subcommands("gcancel", gcancel.parser(), note="`%gcancel` is the same command."),
        _with_subcommands("gjob", gjob.parser(), note="`%gjob` is the same command; `%glog` is `gjob log`."),
        _with_subcommands("ginfo", ginfo.parser(), note="`%ginfo` is the same command."),
        _with_subcommands("jobflow", jobflow.parser()),
        _with_subcommands("gpipe", gpipe.parser(), note="`%gpipe` is the same command (docs/flows.md)."),
        _with_subcommands("%gresult", gresult_parser(), note="A notebook's line magic only."),
        _with_subcommands("python -m jupyter_jobflow.server.daemon", daemon.parser(), note=(
            "What `jobflow daemon --detach` starts; not meant to be typed.")),
    ]


def magics() -> dict[str, str]:
    """Every magic the extension registers (``%name`` / ``%%name``) with its docstring's first line."""
    from jupyter_jobflow.notebook.magics import JobflowMagics

    found = {}
    for kind, prefix in (("cell", "%%"), ("line", "%")):
        for name, method in sorted(JobflowMagics.magics[kind].items()):
            doc = getattr(JobflowMagics, method if isinstance(method, str) else method.__name__).__doc__ or ""
            found[prefix + name] = " ".join(doc.strip().split("\n\n")[0].split())
    return found


def options(cmd: Command) -> list[argparse.Action]:
    """The options and arguments a user may write (not -h, not hidden ones, not the subcommand slot)."""
    return [a for a in cmd.parser._actions
            if a.help is not argparse.SUPPRESS and not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def option_strings(cmd: Command) -> list[str]:
    return [s for a in options(cmd) for s in a.option_strings]


def _cell(text: str) -> str:
    """One table cell: one line, pipes escaped (code spans too: GFM tables split on them)."""
    return " ".join(text.split()).replace("|", "\\|")


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = parser._get_formatter()._expand_help(action) if action.help else ""
    default = action.default
    if (default not in (None, False, [], argparse.SUPPRESS) and not action.option_strings == []
            and "default" not in text and not isinstance(action, argparse._StoreConstAction)):
        text += f" (default: `{default}`)"
    if action.choices and not isinstance(action, argparse._SubParsersAction):
        text += " One of: " + ", ".join(f"`{c}`" for c in action.choices) + "."
    return text


def _spelling(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    takes = action.nargs != 0 and not isinstance(action, (argparse._StoreTrueAction, argparse._StoreConstAction,
                                                          argparse.BooleanOptionalAction, argparse._CountAction))
    value = f" {action.metavar or action.dest.upper()}" if takes else ""
    return ", ".join(f"`{s}{value}`" for s in action.option_strings)


def _section(cmd: Command, depth: int) -> list[str]:
    usage = " ".join(cmd.parser.format_usage().replace("usage: ", "", 1).split())
    lines = [f"{'#' * depth} `{cmd.name}`", ""]
    if cmd.help:
        lines += [_cell(cmd.help), ""]
    if cmd.note:
        lines += [cmd.note, ""]
    lines += ["```text", usage, "```", ""]
    acts = options(cmd)
    if acts:
        lines += ["| Option | Meaning |", "|---|---|"]
        lines += [f"| {_cell(_spelling(a))} | {_cell(_help(cmd.parser, a))} |" for a in acts]
        lines.append("")
    if cmd.parser.epilog:
        lines += [_cell(cmd.parser.epilog), ""]
    for sub in cmd.subcommands:
        lines += _section(sub, depth + 1)
    return lines


def markdown() -> str:
    """The reference page's body (MyST markdown)."""
    lines = ["## Magics", "", "| Magic | What it does |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(doc.replace('``', '`'))} |" for name, doc in magics().items()]
    lines.append("")
    for cmd in commands():
        lines += _section(cmd, 2)
    return "\n".join(lines) + "\n"

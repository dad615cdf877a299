"""A submission by words: ``gbatch``'s words (also ``%gbatch``'s and the API's ``argv`` form)
become the ``POST jobs`` body; a script file's ``#SBATCH``/``#GFLOW`` directives count under the
words' options."""

from __future__ import annotations

import os
import sys
from typing import Any

from .errors import InvalidSpec


def _script(words: list[str], cwd: str) -> tuple[str, str] | None:
    """``(text, name)`` when the command is a script: ``-`` (stdin) or one word naming a text file."""
    if words == ["-"]:
        return sys.stdin.read(), "stdin"
    path = os.path.join(cwd, os.path.expanduser(words[0])) if len(words) == 1 else ""
    if not path or not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data[:8192]:
        return None  # a binary: run it as a command
    try:
        return data.decode(), os.path.basename(path)
    except UnicodeDecodeError:
        return None


def interpreter(text: str) -> str:
    """What runs the script: its ``#!`` line (``/usr/bin/env python3``), else bash."""
    first = text.split("\n", 1)[0]
    return first[2:].strip() if first.startswith("#!") and first[2:].strip() else "/bin/bash"


def submission(argv: list[str], *, scope: str, scope_name: str, cwd: str | None = None,
               env: dict[str, str] | None = None) -> tuple[dict[str, Any], list[str], bool]:
    """The ``POST jobs`` body for ``gbatch``'s words (also ``%gbatch``'s, and the service's for a
    submission by words): a command, or a script file (``-``: stdin) whose directives count under
    the words' options. ``cwd`` and ``env`` are the submitter's (default: this process's).
    Returns the body, the directive warnings, and whether only the id should be printed."""
    cwd = cwd or os.getcwd()
    from .options import merge, parse_submit_args, to_submit_body

    opts = parse_submit_args(argv)  # --help raises HelpRequested, printed by run()
    for flag, given in (("--in", opts.inputs), ("--out", opts.outputs), ("--shell", opts.shell)):
        if given:
            raise InvalidSpec(f"{flag} only works in a notebook (%%gbatch); gbatch runs commands and scripts")
    if not opts.command:
        raise InvalidSpec("Nothing to run: give a command, a script file, or - to read a script from stdin")
    script = _script(opts.command, cwd)
    notes: list[str] = list(opts.notes)  # how a gflow spelling was read (-d 1 = afterok:1)
    extra: dict[str, Any] = {}
    if script is not None:
        import dataclasses

        from .directives import read_directives

        text, name = script
        from_directives, directive_notes = read_directives(text, opts.executor or os.environ.get("JOBFLOW_EXECUTOR"))
        notes += directive_notes
        opts = dataclasses.replace(merge(opts, from_directives), command=[])
        extra = {"script": text, "interpreter": interpreter(text), "name": opts.name or name}
    body = {**to_submit_body(opts, scope=scope, scope_name=scope_name, cwd=cwd), **extra}
    # the submitter's environment: the service stores only what --export keeps (jobenv.py)
    body["env"] = {**(os.environ if env is None else env), **body.get("env", {})}
    return body, notes, opts.parsable

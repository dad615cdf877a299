"""The gflow-compatible terminal commands: ``gbatch``, ``gqueue``, ``gcancel``, ``ginfo`` (here),
``gjob`` and ``jobflow`` (``cli_admin.py``).

Each is thin: parse the words, one client call (``client.py``), print a view (``render.py``).
An error is one line on stderr, ``<command>: error: <message>``, exit status 1; never a
traceback. Imports are lazy so that ``gbatch --help`` loads neither tornado nor sqlite.

``python -m jupyter_jobflow.cli gqueue -t`` runs a command without its console script.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Sequence

from .errors import HelpRequested, InvalidSpec, JobflowError
from .gbatch import terminal_scope  # light: gbatch's fast path and the full path share it

MAX_IDS = 100_000  # a range larger than this is a typo, not a request


class Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one ``InvalidSpec`` line (not usage text and exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InvalidSpec(message)


def run(prog: str, body: Callable[[list[str]], int | None], argv: Sequence[str] | None = None) -> int:
    """Run one command: its exit status; errors become one line on stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return body(args) or 0
    except HelpRequested as asked:  # only a terminal prints help; the parser itself never exits
        sys.stdout.write(asked.text)
        return 0
    except JobflowError as err:
        return fail(prog, err)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:  # `gqueue | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as err:
        return fail(prog, f"{err.strerror or err}" + (f": {err.filename}" if err.filename else ""))
    except Exception as err:  # never a traceback; JOBFLOW_DEBUG=1 shows it
        if os.environ.get("JOBFLOW_DEBUG"):
            raise
        return fail(prog, f"internal error ({type(err).__name__}: {err}); set JOBFLOW_DEBUG=1 for the traceback")


def fail(prog: str, message: Any) -> int:
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return 1


def warn(text: str) -> None:
    print(text, file=sys.stderr)


def parse_ids(words: Sequence[str]) -> list[int]:
    """gflow's job id syntax (docs/rules.md, Cancelling): ``42``, ``1 2 3``, ``1,2,3``, ``1-5``, ``1,3,5-7,10``."""
    ids: list[int] = []
    for word in words:
        for piece in (p.strip() for p in word.split(",")):
            if not piece:
                continue
            lo, dash, hi = piece.partition("-")
            if not (lo.isdigit() and (not dash or hi.isdigit())) or int(lo) == 0 or dash and int(hi) < int(lo):
                raise InvalidSpec(f"Invalid job ID: {piece}")
            ids.extend(range(int(lo), int(hi) + 1) if dash else [int(lo)])
            if len(ids) > MAX_IDS:
                raise InvalidSpec(f"Too many job IDs: {piece} (at most {MAX_IDS} at once)")
    if not ids:
        raise InvalidSpec("No job IDs specified")
    return list(dict.fromkeys(ids))


def add_state_dir(p: argparse.ArgumentParser, *, sub: bool = False) -> None:
    """``--state-dir``; on a subcommand its default must not erase the main parser's value."""
    p.add_argument("--state-dir", metavar="DIR", default=argparse.SUPPRESS if sub else None,
                   help="the state directory whose service to use (default: $JOBFLOW_URL, $JOBFLOW_HOME, "
                        "or jobflow/ under Jupyter's data directory)")


def connect(state_dir: str | None = None) -> Any:
    from .client import Client

    return Client.discover(state_dir)


# --- gbatch -------------------------------------------------------------------------------------


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
        from_directives, directive_notes = read_directives(text)
        notes += directive_notes
        opts = dataclasses.replace(merge(opts, from_directives), command=[])
        extra = {"script": text, "interpreter": interpreter(text), "name": opts.name or name}
    body = {**to_submit_body(opts, scope=scope, scope_name=scope_name, cwd=cwd), **extra}
    # the submitter's environment: the service stores only what --export keeps (jobenv.py)
    body["env"] = {**(os.environ if env is None else env), **body.get("env", {})}
    return body, notes, opts.parsable


def _gbatch(argv: list[str]) -> int:
    state_dir = None
    if argv[:1] == ["--state-dir"] and len(argv) > 1:  # only first: later words may be the command's
        state_dir, argv = argv[1], argv[2:]
    elif argv[:1] and argv[0].startswith("--state-dir="):
        state_dir, argv = argv[0].split("=", 1)[1], argv[1:]
    body, notes, parsable = submission(argv, scope=terminal_scope(), scope_name="this terminal")
    client = connect(state_dir)
    for note in notes:
        warn(f"gbatch: warning: {note}")
    reply = client.submit(body)
    for warning in reply.get("warnings") or ():
        warn(warning)
    print(reply["id"] if parsable else reply.get("message") or f"Submitted batch job {reply['id']} ({reply['name']})")
    return 0


# --- gqueue -------------------------------------------------------------------------------------


def _gqueue(argv: list[str]) -> int:
    p = Parser(prog="gqueue", description="List jobs (default: queued, held and running ones).")
    p.add_argument("-a", "--all", action="store_true", help="also show finished, failed, cancelled and timed-out jobs")
    p.add_argument("-t", "--tree", action="store_true", help="dependency tree: each job under its first parent")
    p.add_argument("-s", "--states", metavar="LIST", help="states, names or codes: Queued,R,CD (implies -a)")
    p.add_argument("-j", "--jobs", metavar="IDS", help="job ids: 1,3,5-7 (implies -a)")
    p.add_argument("-N", "--name", metavar="TEXT", help="jobs whose name contains TEXT")
    p.add_argument("--limit", type=_limit, metavar="N",
                   help="as gflow: the first N jobs shown (a negative N: the last N; 0: all)")
    p.add_argument("-n", dest="gflow_n", metavar="N", help=argparse.SUPPRESS)  # refused below: see _refuse_n
    p.add_argument("-f", "--format", metavar="FIELDS",
                   help="columns: JOBID,NAME,ST,STATE,TIME,TIMELIMIT,NODES,NODELIST(REASON),REASON,PRIORITY,"
                        "DEPENDENCY,GROUP,USER,SUBMIT,COMMAND")
    p.add_argument("-o", "--output", default="table", choices=("table", "json", "csv", "html"),
                   help="output format (html: what %%gqueue shows in a notebook)")
    p.add_argument("-w", "--watch", nargs="?", const=2.0, type=float, metavar="SECONDS",
                   help="redraw every SECONDS (default 2) until Ctrl-C")
    add_state_dir(p)
    args = p.parse_args(argv)
    if args.gflow_n is not None:
        raise InvalidSpec(_refuse_n(args.gflow_n))
    from . import render

    fields = render.parse_fields(args.format)
    ids = ",".join(w.strip() for w in args.jobs.split(",") if w.strip()) if args.jobs else None
    if ids:
        parse_ids([ids])  # "Invalid job ID: abc" before asking anyone
    client = connect(args.state_dir)

    def draw() -> str:
        reply = client.jobs(state=args.states, ids=ids, name=args.name,
                            all=bool(args.all or args.states or ids))
        jobs = reply["jobs"]
        if args.limit:
            jobs = jobs[:args.limit] if args.limit > 0 else jobs[args.limit:]
        return render.queue(jobs, fields, fmt=args.output, tree=args.tree)

    if args.watch is None:
        print(draw())
        return 0
    import time

    interval = max(0.2, args.watch)
    try:
        while True:  # polling the REST list: simple, and enough for a terminal
            head = f"Every {interval:g}s: gqueue {' '.join(argv)}".rstrip() + "    " + time.strftime("%F %T")
            sys.stdout.write("\x1b[H\x1b[2J" + head + "\n\n" + draw() + "\n")
            sys.stdout.flush()
            time.sleep(interval)
    except KeyboardInterrupt:  # Ctrl-C is how a watch ends
        return 0


def _limit(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidSpec(f'--limit expects a whole number (5: the first 5 jobs, -5: the last 5, 0: all), got "{text}"') \
            from None


def _refuse_n(value: str) -> str:
    """``-n``: gflow's limit, once a name filter here. Refused, so that neither reading is silent."""
    return (f'-n is refused: in gflow "-n {value}" limits the number of jobs shown, here it once filtered names. '
            f'Write --limit {value} for the limit, or -N {value} (--name) for jobs whose name contains "{value}"')


# --- gcancel ------------------------------------------------------------------------------------


def _gcancel(argv: list[str]) -> int:
    p = Parser(prog="gcancel", description="Cancel jobs. A running job gets SIGTERM, then SIGKILL after the grace.")
    p.add_argument("ids", nargs="*", metavar="IDS", help="42, 1 2 3, 1,2,3, 1-5, 1,3,5-7,10")
    p.add_argument("--dry-run", action="store_true", help="change nothing; show each dependent's fate")
    p.add_argument("--cascade", action="store_true",
                   help="also cancel the dependents that would otherwise stay queued or be cancelled")
    add_state_dir(p)
    args = p.parse_args(argv)
    ids = parse_ids(args.ids)
    from .render import cancel_report

    reply = connect(args.state_dir).cancel(ids, dry_run=args.dry_run, cascade=args.cascade)
    text, warnings = cancel_report(reply)
    if text:
        print(text)
    for warning in warnings:
        warn(warning)
    return 1 if warnings else 0


# --- ginfo --------------------------------------------------------------------------------------


def _ginfo(argv: list[str]) -> int:
    p = Parser(prog="ginfo", description="GPUs and the jobs that hold them.")
    add_state_dir(p)
    args = p.parse_args(argv)
    from .render import gpus

    client = connect(args.state_dir)
    reply = client.gpus()
    held = [g for g in reply.get("gpus") or () if g.get("jobs") and "job_names" not in g]
    running = client.jobs(state="Running", all=True)["jobs"] if held else []  # names, where the reply lacks them
    print(gpus(reply, running))
    return 0


# --- entry points (pyproject [project.scripts]) -------------------------------------------------


def gbatch() -> None:
    sys.exit(run("gbatch", _gbatch))


def gqueue() -> None:
    sys.exit(run("gqueue", _gqueue))


def gcancel() -> None:
    sys.exit(run("gcancel", _gcancel))


def ginfo() -> None:
    sys.exit(run("ginfo", _ginfo))


def gjob() -> None:
    from .cli_admin import gjob_main

    sys.exit(run("gjob", gjob_main))


def jobflow() -> None:
    from .cli_admin import jobflow_main

    sys.exit(run("jobflow", jobflow_main))


COMMANDS = {"gbatch": gbatch, "gqueue": gqueue, "gcancel": gcancel, "ginfo": ginfo, "gjob": gjob, "jobflow": jobflow}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m jupyter_jobflow.cli {{{','.join(COMMANDS)}}} [args...]")
    name = sys.argv.pop(1)
    sys.argv[0] = name
    COMMANDS[name]()

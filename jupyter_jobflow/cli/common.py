"""What every terminal command shares: the one-line error convention (``run``), gflow's job id
syntax, ``--state-dir`` and the connection to the service.

Each command is one module (``gbatch.py``, ``gqueue.py``, ``gcancel.py``, ``ginfo.py``,
``gjob.py``, ``jobflow.py``): parse the words, one client call, print a view (``render.py``).
An error is one line on stderr, ``<command>: error: <message>``, exit status 1; never a
traceback. Imports are lazy so that ``gbatch --help`` loads neither tornado nor sqlite.
``python -m jupyter_jobflow.cli gqueue -t`` runs a command without its console script.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Sequence

from ..core.errors import HelpRequested, InvalidSpec, JobflowError

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
    from ..client.http import Client

    return Client.discover(state_dir)

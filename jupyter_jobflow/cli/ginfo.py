"""``ginfo``: the GPUs and the jobs that hold them."""

from __future__ import annotations

import sys

from .common import Parser, add_state_dir, connect, run


def parser() -> Parser:
    """The command line (the docs' reference is generated from it)."""
    p = Parser(prog="ginfo", description="GPUs and the jobs that hold them.")
    add_state_dir(p)
    return p


def command(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    from .render import gpus

    client = connect(args.state_dir)
    reply = client.gpus()
    held = [g for g in reply.get("gpus") or () if g.get("jobs") and "job_names" not in g]
    running = client.jobs(state="Running", all=True)["jobs"] if held else []  # names, where the reply lacks them
    print(gpus(reply, running))
    return 0


def main() -> None:
    sys.exit(run("ginfo", command))

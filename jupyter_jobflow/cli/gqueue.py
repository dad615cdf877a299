"""``gqueue``: list jobs, as a table, a tree, JSON, CSV or HTML; ``--watch`` redraws."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import InvalidSpec
from .common import Parser, add_state_dir, connect, parse_ids, run


def parser() -> Parser:
    """The command line (the docs' reference is generated from it)."""
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
                        "DEPENDENCY,GROUP,USER,SUBMIT,COMMAND,EXECUTOR (default: the first six, and EXECUTOR when "
                        "a job runs on Slurm)")
    p.add_argument("-o", "--output", default="table", choices=("table", "json", "csv", "html"),
                   help="output format (html: what %%gqueue shows in a notebook)")
    p.add_argument("-w", "--watch", nargs="?", const=2.0, type=float, metavar="SECONDS",
                   help="redraw every SECONDS (default 2) until Ctrl-C")
    add_state_dir(p)
    return p


def command(argv: list[str]) -> int:
    args = parser().parse_args(argv)
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
        shown = fields if args.format else render.default_fields(jobs)
        return render.queue(jobs, shown, fmt=args.output, tree=args.tree)

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


def main() -> None:
    sys.exit(run("gqueue", command))

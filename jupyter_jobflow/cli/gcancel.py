"""``gcancel``: cancel jobs, or with ``--dry-run`` show what each dependent would become."""

from __future__ import annotations

import sys

from .common import Parser, add_state_dir, connect, parse_ids, run, warn


def parser() -> Parser:
    """The command line (the docs' reference is generated from it)."""
    p = Parser(prog="gcancel", description="Cancel jobs. A running job gets SIGTERM, then SIGKILL after the grace.")
    p.add_argument("ids", nargs="*", metavar="IDS", help="42, 1 2 3, 1,2,3, 1-5, 1,3,5-7,10")
    p.add_argument("--dry-run", action="store_true", help="change nothing; show each dependent's fate")
    p.add_argument("--cascade", action="store_true",
                   help="also cancel the dependents that would otherwise stay queued or be cancelled")
    add_state_dir(p)
    return p


def command(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    ids = parse_ids(args.ids)
    from .render import cancel_report

    reply = connect(args.state_dir).cancel(ids, dry_run=args.dry_run, cascade=args.cascade)
    text, warnings = cancel_report(reply)
    if text:
        print(text)
    for warning in warnings:
        warn(warning)
    return 1 if warnings else 0


def main() -> None:
    sys.exit(run("gcancel", command))

"""``gpipe``'s schedule verbs (docs/schedules.md): schedule, schedules, backfill, mark-success.
``gpipe.py`` adds them to its parser and hands them their parsed words; times are ISO 8601."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, Callable

VERBS = ("schedule", "schedules", "backfill", "mark-success")


def add_verbs(verb: Callable[[str, str], Any]) -> None:
    s = verb("schedule", "set or show a flow's cron schedule")
    s.add_argument("name", metavar="NAME")
    s.add_argument("--cron", metavar="EXPR", help='5 fields ("0 2 * * *") or an alias (@daily)')
    s.add_argument("--tz", metavar="TZ", help="IANA time zone of the expression (default UTC)")
    s.add_argument("--start", metavar="T", help="first tick considered (default: now)")
    s.add_argument("--end", metavar="T", help="last tick considered")
    s.add_argument("--catchup", action=argparse.BooleanOptionalAction, default=None,
                   help="run every missed tick, oldest first (default: only the latest)")
    s.add_argument("--depends-on-past", action=argparse.BooleanOptionalAction, default=None,
                   help="a tick's run starts once the previous tick's run has Finished")
    s.add_argument("--max-active-runs", type=int, metavar="N", help="runs of the flow active at once (default 1)")
    s.add_argument("--expired-limit", type=int, metavar="N", help="waiting scheduled runs kept (0: all)")
    on = s.add_mutually_exclusive_group()
    on.add_argument("--enable", dest="enabled", action="store_const", const=True, default=None)
    on.add_argument("--disable", dest="enabled", action="store_const", const=False)
    s.add_argument("-o", "--output", choices=["text", "json"], default="text")
    ls = verb("schedules", "list the schedules with their next tick")
    ls.add_argument("-o", "--output", choices=["table", "json"], default="table")
    b = verb("backfill", "runs for a flow's past ticks in [--from, --to]")
    b.add_argument("name", metavar="NAME")
    b.add_argument("--from", dest="start", required=True, metavar="T1")
    b.add_argument("--to", dest="end", required=True, metavar="T2")
    b.add_argument("--reprocess", choices=["none", "failed", "completed"], default="none",
                   help="ticks that already have a run: none (skip), failed (rerun failed), completed (rerun all)")
    b.add_argument("--max-active-runs", type=int, metavar="N", help="this backfill's runs active at once")
    b.add_argument("--run-backwards", action="store_true", help="newest tick first")
    b.add_argument("--dry-run", action="store_true", help="print each tick's action; create nothing")
    b.add_argument("-o", "--output", choices=["table", "json"], default="table")
    verb("mark-success", "count a run as Finished (depends_on_past's override)").add_argument(
        "run_id", metavar="RUN_ID")


def command(client: Any, args: Any) -> int:
    if args.verb == "schedule":
        fields = {"cron": args.cron, "tz": args.tz, "start": args.start, "end": args.end, "catchup": args.catchup,
                  "depends_on_past": args.depends_on_past, "max_active_runs": args.max_active_runs,
                  "expired_limit": args.expired_limit, "enabled": args.enabled}
        if any(v is not None for v in fields.values()):
            shown = client.set_schedule(args.name, **fields, cwd=os.getcwd())
        else:
            shown = client.schedule(args.name)
        print(json.dumps(shown, indent=2) if args.output == "json" else schedule_line(shown))
    elif args.verb == "schedules":
        items = client.schedules()["schedules"]
        print(json.dumps(items, indent=2) if args.output == "json" else schedules_table(items))
    elif args.verb == "backfill":
        reply = client.backfill(args.name, args.start, args.end, reprocess=args.reprocess,
                                max_active_runs=args.max_active_runs, run_backwards=args.run_backwards,
                                dry_run=args.dry_run)
        if args.output == "json":
            print(json.dumps(reply["ticks"], indent=2))
        else:
            lines = [f"{t['execution_date']}  {t['action']}" for t in reply["ticks"]] or ["No tick in that range"]
            if not args.dry_run:
                lines.append(f"Created {len(reply['run_ids'])} backfill runs of flow {args.name}")
            print("\n".join(lines))
    elif args.verb == "mark-success":
        shown = client.mark_success(args.run_id)
        print(f"Marked run {shown['run_id']} as successful")
    return 0


def schedule_line(s: dict[str, Any]) -> str:
    rules = [k for k in ("catchup", "depends_on_past") if s.get(k)]
    rules += [f"max_active_runs={s['max_active_runs']}"]
    if s.get("expired_limit"):
        rules.append(f"expired_limit={s['expired_limit']}")
    state = "enabled" if s["enabled"] else "disabled"
    nxt = s["next_tick"] if s["enabled"] and s["next_tick"] else "-"
    return f"Flow {s['flow']}: \"{s['cron']}\" in {s['tz']}, {state}, next tick {nxt} ({', '.join(rules)})"


def schedules_table(items: list[dict[str, Any]]) -> str:
    rows = [["FLOW", "CRON", "TZ", "ENABLED", "NEXT_TICK"]]
    rows += [[s["flow"], s["cron"], s["tz"], "yes" if s["enabled"] else "no", s["next_tick"] or "-"] for s in items]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

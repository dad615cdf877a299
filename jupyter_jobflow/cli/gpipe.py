"""``gpipe``: flows (docs/flows.md): create, update, flows, template add/rm/ls, run, runs, show,
cancel, resume, run-task, log. One line per answer; errors one line, ``gpipe: error: ...``; ``-o json``
on the verbs that list or show. ``%gpipe`` runs this same code in a notebook (magics.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..core.errors import InvalidSpec
from ..core.timespec import format_duration
from . import gpipe_schedules
from .common import Parser, add_state_dir, connect, run, warn

FOLLOW_POLL = 0.5  # seconds between two reads of a run's log with -f
TERMINAL = ("Finished", "Failed", "Cancelled")


def parser() -> Parser:
    p = Parser(prog="gpipe", description="Flows: pipelines of tasks from a notebook or a YAML file, their runs.")
    add_state_dir(p)
    sub = p.add_subparsers(dest="verb", required=True, parser_class=Parser,
                           metavar="{create,update,flows,template,run,runs,show,cancel,resume,run-task,log,"
                           "schedule,schedules,backfill,mark-success}")

    def verb(name: str, help: str) -> Parser:
        s = sub.add_parser(name, help=help, description=help)
        add_state_dir(s, sub=True)
        return s

    for name, help in (("create", "store a flow from a .yaml/.yml or .ipynb file"),
                       ("update", "store a new version of a flow")):
        s = verb(name, help)
        s.add_argument("name", metavar="NAME")
        s.add_argument("file", metavar="FILE")
    fl = verb("flows", "your flows, at their latest version")
    fl.add_argument("-o", "--output", choices=["table", "json"], default="table")
    t = verb("template", "templates: gpipe template add NAME FILE, rm NAME [--force], ls")
    tsub = t.add_subparsers(dest="action", required=True, parser_class=Parser, metavar="{add,rm,ls}")
    ta = tsub.add_parser("add", help="add a template version from a .yaml file")
    ta.add_argument("name", metavar="NAME")
    ta.add_argument("file", metavar="FILE")
    tr = tsub.add_parser("rm", help="remove a template, every version (runs keep their copy)")
    tr.add_argument("name", metavar="NAME")
    tr.add_argument("--force", action="store_true", help="even while active runs use it")
    tl = tsub.add_parser("ls", help="every template, at its latest version")
    tl.add_argument("-o", "--output", choices=["table", "json"], default="table")
    for s_ in (ta, tr, tl):
        add_state_dir(s_, sub=True)
    r = verb("run", "start a run of a flow")
    r.add_argument("name", metavar="NAME")
    r.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="a flow parameter")
    r.add_argument("--parsable", action="store_true", help="print the run id alone")
    r.add_argument("--dry-run", action="store_true", help="print the plan; start nothing")
    rs = verb("runs", "list runs, newest first")
    rs.add_argument("name", nargs="?", metavar="NAME")
    rs.add_argument("-n", "--limit", type=int, metavar="N")
    show = verb("show", "one run and its tasks")
    show.add_argument("run_id", metavar="RUN_ID")
    for s in (rs, show):
        s.add_argument("-o", "--output", choices=["table", "json"], default="table")
    verb("cancel", "cancel a run's tasks").add_argument("run_id", metavar="RUN_ID")
    res = verb("resume", "re-queue a run's failed tasks and what depends on them")
    res.add_argument("run_id", metavar="RUN_ID")
    one = res.add_mutually_exclusive_group()
    one.add_argument("--from", dest="from_task", metavar="TASK", help="rerun TASK and its descendants too")
    one.add_argument("--only", metavar="TASK", help="rerun TASK alone")
    one.add_argument("--as-new-run", action="store_true", help="a new run; finished tasks copied as memoized")
    rt = verb("run-task", "run one task alone (a debug run) with the inputs of a run")
    rt.add_argument("name", metavar="NAME")
    rt.add_argument("task", metavar="TASK")
    rt.add_argument("--run", metavar="RUN_ID", help="whose inputs (default: the latest finished run)")
    rt.add_argument("--load", action="store_true",
                    help="in a notebook (%%gpipe): load the task's inputs and code into the kernel; run nothing")
    log = verb("log", "every task's log, each line prefixed [task attempt]")
    log.add_argument("run_id", metavar="RUN_ID")
    log.add_argument("--task", metavar="TASK")
    log.add_argument("-f", "--follow", action="store_true", help="keep printing until the run has ended")
    gpipe_schedules.add_verbs(verb)
    return p


def read_source(path: str) -> tuple[str, str]:
    """``(text, format)`` of a flow file: ``.yaml``/``.yml`` or ``.ipynb``."""
    suffix = Path(path).suffix.lower()
    fmt = {".yaml": "yaml", ".yml": "yaml", ".ipynb": "ipynb", ".json": "json"}.get(suffix)
    if fmt is None:
        raise InvalidSpec(f"{path}: a flow file is .yaml, .yml or .ipynb")
    try:
        return Path(path).read_text(), fmt
    except OSError as err:
        raise InvalidSpec(f"Cannot read {path}: {err.strerror or err}") from None


def params(words: list[str]) -> dict[str, str]:
    out = {}
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key.strip():
            raise InvalidSpec(f'-p expects KEY=VALUE, got "{word}"')
        out[key.strip()] = value
    return out


def command(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    client = connect(args.state_dir)
    verb = args.verb
    if verb in ("create", "update"):
        text, fmt = read_source(args.file)
        saved = client.save_flow(args.name, text, fmt)
        if verb == "create" and saved["version"] > 1:
            warn(f"gpipe: warning: flow {args.name} existed; this is version {saved['version']}")
        print(f"{'Created' if saved['version'] == 1 else 'Updated'} flow {saved['name']} version {saved['version']}")
    elif verb == "flows":
        flows = client.flows()["flows"]
        rows = [["NAME", "VERSION", "TASKS"]] + [[f["name"], str(f["version"]), str(f["tasks"])] for f in flows]
        print(json.dumps(flows, indent=2) if args.output == "json" else _table(rows))
    elif verb == "template":
        _template(client, args)
    elif verb == "run":
        reply = client.create_run(args.name, params(args.param), dry_run=args.dry_run, cwd=os.getcwd())
        _warnings(reply)
        if args.dry_run:
            print(plan_text(reply["plan"]))
        else:
            print(reply["run_id"] if args.parsable else reply["message"])
    elif verb == "runs":
        runs = client.runs(args.name, limit=args.limit)["runs"]
        print(json.dumps(runs, indent=2) if args.output == "json" else runs_table(runs))
    elif verb == "show":
        shown = client.run(args.run_id)
        print(json.dumps(shown, indent=2) if args.output == "json" else run_text(shown))
    elif verb == "cancel":
        shown = client.cancel_run(args.run_id)
        print(f"Cancelled run {shown['run_id']}")
    elif verb == "resume":
        reply = client.resume_run(args.run_id, from_task=args.from_task, only=args.only, as_new_run=args.as_new_run)
        _warnings(reply)
        if args.as_new_run:
            print(f"Started run {reply['run_id']} of flow {reply['flow']} (resumed from {args.run_id})")
        else:
            print(f"Resumed run {reply['run_id']}")
    elif verb == "run-task":
        if args.load:
            raise InvalidSpec("--load loads a task into a notebook's kernel: use %gpipe run-task NAME TASK --load "
                              "in the notebook")
        reply = client.run_task(args.name, args.task, run=args.run, cwd=os.getcwd())
        print(reply["message"])
    elif verb == "log":
        return _log(client, args.run_id, args.task, args.follow)
    elif verb in gpipe_schedules.VERBS:
        return gpipe_schedules.command(client, args)
    return 0


def _template(client: Any, args: Any) -> None:
    if args.action == "add":
        saved = client.add_template(args.name, read_source_text(args.file))
        print(f"Added template {saved['name']} version {saved['version']}")
    elif args.action == "rm":
        gone = client.remove_template(args.name, force=args.force)
        if gone["active_runs"]:
            warn(f"gpipe: warning: active runs {', '.join(gone['active_runs'])} keep their copy of it")
        print(f"Removed template {gone['name']} ({gone['versions']} version{'s' if gone['versions'] != 1 else ''})")
    else:
        templates = client.templates()["templates"]
        rows = [["NAME", "VERSION", "OWNER"]] + [[t["name"], str(t["version"]), t["owner"]] for t in templates]
        print(json.dumps(templates, indent=2) if args.output == "json" else _table(rows))


def read_source_text(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as err:
        raise InvalidSpec(f"Cannot read {path}: {err.strerror or err}") from None


def _warnings(reply: dict[str, Any]) -> None:
    for w in reply.get("warnings") or ():
        warn(f"gpipe: warning: {w}")


def _log(client: Any, run_id: str, task: str | None, follow: bool) -> int:
    offset = 0
    while True:
        reply = client.run_log(run_id, task=task, offset=offset)
        sys.stdout.write(reply["text"])
        sys.stdout.flush()
        offset = reply["next_offset"]
        if not follow or client.run(run_id)["state"] in TERMINAL and not client.run_log(
                run_id, task=task, offset=offset)["text"]:
            return 0
        time.sleep(FOLLOW_POLL)


def _duration(item: dict[str, Any]) -> str:
    start, end = item.get("started_at"), item.get("ended_at")
    if start is None:
        return "-"
    return format_duration((end or time.time()) - start)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def runs_table(runs: list[dict[str, Any]]) -> str:
    rows = [["RUN_ID", "FLOW", "TYPE", "EXECUTION_DATE", "STATE", "TASKS", "DURATION", "REASON"]]
    rows += [[r["run_id"], r["flow"], r["run_type"], r.get("execution_date") or "-", r["state"], str(r["tasks"]),
              _duration(r), r["reason"] or "-"] for r in runs]
    return _table(rows)


def run_text(run: dict[str, Any]) -> str:
    head = (f"Run {run['run_id']} of flow {run['flow']} ({run['run_type']}): {run['state']}"
            + (f" ({run['reason']})" if run.get("reason") else "") + f", {_duration(run)}")
    rows = [["TASK", "STATE", "ATTEMPTS", "DURATION", "JOB", "DEPENDS", "REASON"]]
    rows += [[t["name"], t["state"], str(t["attempts"]), _duration(t), str(t["job_id"] or "-"), t["depends"] or "-",
              t["reason"] or "-"] for t in run["tasks"]]
    return head + "\n" + _table(rows)


def plan_text(plan: list[dict[str, Any]]) -> str:
    lines = []
    for i, step in enumerate(plan, 1):
        when = "starts at once" if step["starts_at_once"] else f"after {step['depends']}"
        command = " ".join(step["command"].split())
        lines.append(f"{i}. {step['task']} ({when}): {command[:200]}")
    return "\n".join(lines)


def main() -> None:
    sys.exit(run("gpipe", command))

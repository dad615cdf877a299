"""``gjob``: one job: show, log, hold, release, redo, update, explain."""

from __future__ import annotations

import sys
import time
from typing import Any

from ..core.errors import InvalidSpec, JobflowError, NotFound, Unavailable
from ..core.model import TERMINAL
from .common import Parser, add_state_dir, connect, fail, parse_ids, run, warn

FOLLOW_POLL = 0.2  # seconds between log reads with -f


def parser() -> Parser:
    p = Parser(prog="gjob", description="Inspect and change one job.")
    add_state_dir(p)
    sub = p.add_subparsers(dest="verb", required=True, metavar="{show,log,hold,release,redo,update,explain}",
                           parser_class=Parser)

    def verb(name: str, help: str, ids: str = "ID") -> Parser:
        s = sub.add_parser(name, help=help, description=help)
        s.add_argument("ids", nargs="+" if ids == "IDS" else None, metavar=ids,
                       help="job ids: 1,3,5-7" if ids == "IDS" else "job id")
        add_state_dir(s, sub=True)
        return s

    verb("show", "everything about jobs: fields, dependency status, attempts", "IDS")
    log = verb("log", "print a job's log (the latest attempt unless --attempt)")
    log.add_argument("-f", "--follow", action="store_true", help="keep printing until the job has ended")
    log.add_argument("--attempt", type=int, metavar="N", help="which attempt (1, 2, ...)")
    verb("hold", "keep queued jobs from starting", "IDS")
    verb("release", "let held jobs start again", "IDS")
    redo = verb("redo", "run an ended job again: a new job, or with --in-place a new attempt of the same one")
    redo.add_argument("--in-place", action="store_true", help="same job id, a new attempt (older logs are kept)")
    redo.add_argument("--cascade", action="store_true", help="also bring back the dependents cancelled because of it")
    update = verb("update", "change a waiting job (a running job: only --time, --priority, --name)")
    for s in (redo, update):
        s.add_argument("-t", "--time", "--time-limit", dest="time_limit", metavar="TIME", help="new time limit")
        s.add_argument("-G", "--gpus", metavar="N|IDS", help="GPU count or ids")
        s.add_argument("--priority", type=int, metavar="INT")
        s.add_argument("--name", "-J", metavar="NAME")
    update.add_argument("--group", metavar="NAME")
    update.add_argument("--retries", type=int, metavar="N")
    update.add_argument("-d", "--dependency", metavar="SPEC", help='a new dependency string, or "none" to drop it')
    update.add_argument("--depends-on", metavar="IDS")
    update.add_argument("--depends-on-all", metavar="IDS")
    update.add_argument("--depends-on-any", metavar="IDS")
    verb("explain", "every gate between a waiting job and its start")
    return p


def command(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    client = connect(args.state_dir)
    verb = args.verb
    if verb in ("show", "hold", "release"):
        return _each(args.verb, parse_ids(args.ids), client)
    ids = parse_ids([args.ids])
    if len(ids) > 1:
        raise InvalidSpec(f"gjob {verb} takes one job ID, got {args.ids}")
    job_id = ids[0]
    if verb == "log":
        return _log(client, job_id, args.attempt, args.follow)
    if verb == "explain":
        print("\n".join(client.explain(job_id)))
    elif verb == "redo":
        job = client.redo(job_id, in_place=args.in_place or None, cascade=args.cascade or None,
                          time_limit=args.time_limit, gpus=args.gpus, priority=args.priority, name=args.name)["job"]
        if job["id"] == job_id:
            print(f"Job {job_id} ({job['name']}) requeued in place [{job['state']}]")
        else:
            print(f"Submitted batch job {job['id']} ({job['name']}), a redo of job {job_id}")
    elif verb == "update":
        fields = {"time_limit": args.time_limit, "gpus": args.gpus, "priority": args.priority, "name": args.name,
                  "group": args.group, "retries": args.retries, "dependency": _dependency(args)}
        if all(v is None for v in fields.values()):
            raise InvalidSpec("Nothing to update: give --time, --gpus, --priority, --name, --group, --retries "
                              "or a dependency")
        job = client.update(job_id, **fields)["job"]
        print(f"Job {job_id} ({job['name']}) updated [{job['state']}]")
    return 0


def _dependency(args: Any) -> str | None:
    """The new dependency as a canonical string (``@`` left for the server to resolve)."""
    flags = {k: getattr(args, k) for k in ("depends_on", "depends_on_all", "depends_on_any")}
    if args.dependency is not None and args.dependency.strip().lower() in ("", "none"):
        if any(v is not None for v in flags.values()):
            raise InvalidSpec("--dependency none cannot be combined with "
                              "--depends-on/--depends-on-all/--depends-on-any")
        return "none"
    if args.dependency is None and all(v is None for v in flags.values()):
        return None
    from ..core.depspec import from_flags

    spec = from_flags(dependency=args.dependency, **flags)
    return str(spec) if spec is not None else "none"


def _each(verb: str, ids: list[int], client: Any) -> int:
    """show/hold/release for each id; with several ids a failing one is an error line, the rest go on."""
    from . import render

    status = 0
    for n, job_id in enumerate(ids):
        try:
            if verb == "show":
                print(("\n" if n else "") + render.show(client.job(job_id)))
            elif verb == "hold":
                client.hold(job_id)
                print(f"Job {job_id} put on hold.")
            else:
                client.release(job_id)
                print(f"Job {job_id} released.")
        except JobflowError as err:
            if len(ids) == 1 or isinstance(err, Unavailable):
                raise
            status = fail("gjob", err)
    return status


def _log(client: Any, job_id: int, attempt: int | None, follow: bool) -> int:
    """Print a log from its start; with ``follow``, go on (into later attempts unless ``attempt``
    names one) until the job has ended."""
    job = client.job(job_id)["job"]
    current, offset = attempt or job.get("attempt") or 0, 0
    if not current and not follow:
        warn(f"Job {job_id} ({job['name']}) has no log yet: it is {job['state']}"
             + (f" ({job['reason']})" if job.get("reason") else ""))
        return 0

    def drain() -> None:
        nonlocal offset
        while current:
            try:
                reply = client.log(job_id, attempt=current, offset=offset)
            except NotFound:
                if follow and attempt is None:
                    return  # the attempt has begun, its log file not yet
                raise
            if not reply.get("text"):
                return
            sys.stdout.write(reply["text"])
            sys.stdout.flush()
            offset = reply["offset"]

    drain()
    while follow:
        job = client.job(job_id)["job"]  # state first, then the text: nothing written before the end is missed
        latest = job.get("attempt") or 0
        if attempt is not None and latest > attempt:
            break
        if latest > current:  # a retry or an in-place redo started
            drain()
            if current:
                warn(f"--- job {job_id} attempt {latest} ---")
            current, offset = latest, 0
        drain()
        if job["state"] in TERMINAL:
            break
        time.sleep(FOLLOW_POLL)
    drain()
    return 0


def main() -> None:
    sys.exit(run("gjob", command))

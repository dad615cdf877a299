"""``gjob`` (one job: show, log, hold, release, redo, update, explain) and ``jobflow`` (the daemon:
start, status, stop). Thin, like ``cli.py``, whose plumbing they share."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from .cli import Parser, add_state_dir, connect, fail, parse_ids, warn
from .errors import InvalidSpec, JobflowError, NotFound, Unavailable

TERMINAL = {"Finished", "Failed", "Cancelled", "Timeout"}
FOLLOW_POLL = 0.2  # seconds between log reads with -f


# --- gjob ---------------------------------------------------------------------------------------


def _gjob_parser() -> Parser:
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


def gjob_main(argv: list[str]) -> int:
    args = _gjob_parser().parse_args(argv)
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
    from .depspec import from_flags

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


# --- jobflow ------------------------------------------------------------------------------------


def jobflow_main(argv: list[str]) -> int:
    p = Parser(prog="jobflow", description="The jobflow service of a state directory.")
    add_state_dir(p)
    sub = p.add_subparsers(dest="verb", required=True, metavar="{daemon,status,stop,purge}", parser_class=Parser)
    d = sub.add_parser("daemon", help="serve the state directory (foreground unless --detach)")
    d.add_argument("--port", type=int, metavar="N", help="port on 127.0.0.1 (default: any free one)")
    d.add_argument("--detach", action="store_true", help="start in the background and return once it answers")
    d.add_argument("--retention", metavar="D", help="keep finished jobs this long, then purge them (30d, 7-0, "
                   "none; default: $JOBFLOW_RETENTION, else 30d)")
    add_state_dir(d, sub=True)
    add_state_dir(sub.add_parser("status", help="which host serves the state directory, and its job counts"), sub=True)
    s = sub.add_parser("stop", help="stop the daemon of the state directory (running jobs go on)")
    s.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS")
    add_state_dir(s, sub=True)
    pg = sub.add_parser("purge", help="forget finished jobs (and their logs) that ended long ago")
    pg.add_argument("--older-than", metavar="D", help="ended more than D ago (30d, 7-0, 12h; default: the "
                    "host's retention)")
    pg.add_argument("--dry-run", action="store_true", help="only list what would be purged")
    add_state_dir(pg, sub=True)
    args = p.parse_args(argv)
    from .paths import default_state_dir

    state_dir = Path(args.state_dir).expanduser() if args.state_dir else default_state_dir()
    if args.verb == "daemon" and args.retention is not None:
        from .retention import ENV, parse_retention

        parse_retention(args.retention)  # a mistake is one line here, not in the daemon
        os.environ[ENV] = args.retention  # the daemon, detached or not, reads it
    if args.verb == "daemon" and args.detach:
        from .client import ensure_daemon

        info = ensure_daemon(state_dir, port=args.port)
        print(f"jobflow daemon (pid {info.get('pid')}) serves {state_dir} at {info.get('url')}")
    elif args.verb == "daemon":
        from .server.daemon import serve

        serve(state_dir, port=args.port or 0)
    elif args.verb == "status":
        return _status(connect(args.state_dir))
    elif args.verb == "purge":
        print(connect(args.state_dir).purge(older_than=args.older_than, dry_run=args.dry_run)["text"])
    else:
        return _stop(state_dir, args.timeout)
    return 0


def _status(client: Any) -> int:
    st = client.status()
    counts = ", ".join(f"{k} {v}" for k, v in (st.get("counts") or {}).items() if v) or "no jobs"
    host = {"daemon": "jobflow daemon", "jupyter": "Jupyter server"}.get(st.get("host"), st.get("host") or "service")
    print(f"{host} (pid {st.get('pid')}, version {st.get('version')}) serves "
          f"{st.get('state_dir')} at {client.url}")
    print(f"Jobs: {counts}")
    scheduler = st.get("scheduler")
    if scheduler and (scheduler != "running" or st.get("restarts")):  # quiet when all is well
        why = f": {st.get('error')}" if st.get("error") else ""
        print(f"Scheduler: {scheduler} (restarted {st.get('restarts', 0)} times){why}")
    return 1 if scheduler == "failed" else 0


def _stop(state_dir: Path, timeout: float) -> int:
    import signal

    from .paths import read_endpoint

    info = read_endpoint(state_dir)
    if not info or not isinstance(info.get("pid"), int):
        print(f"No jobflow daemon is running for {state_dir}")
        return 0
    pid = info["pid"]
    if info.get("host") == "jupyter":
        return fail("jobflow", f"{state_dir} is served by a Jupyter server (pid {pid}); stop that server instead")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return fail("jobflow", f"the daemon (pid {pid}) is still running {timeout:g}s after SIGTERM")
        time.sleep(0.05)
    print(f"Stopped jobflow daemon (pid {pid}) of {state_dir}; running jobs go on and are re-adopted at its next start")
    return 0


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, waiting for its parent to reap it, has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

"""``jobflow``: the standalone service: ``daemon``, ``status``, ``stop``, ``purge``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from .common import Parser, add_state_dir, connect, fail, run


def parser() -> Parser:
    """The command line (the docs' reference is generated from it)."""
    p = Parser(prog="jobflow", description="The jobflow service of a state directory.")
    add_state_dir(p)
    sub = p.add_subparsers(dest="verb", required=True, metavar="{daemon,status,stop,purge}", parser_class=Parser)
    d = sub.add_parser("daemon", help="serve the state directory (foreground unless --detach)")
    d.add_argument("--port", type=int, metavar="N", help="port on 127.0.0.1 (default: any free one)")
    d.add_argument("--detach", action="store_true", help="start in the background and return once it answers")
    d.add_argument("--retention", metavar="D", help="keep finished jobs this long, then purge them (30d, 7-0, "
                   "none; default: $JOBFLOW_RETENTION, else 30d)")
    d.add_argument("--executor", metavar="NAME", help="where jobs that name none run: local or slurm "
                   "(default: $JOBFLOW_EXECUTOR, else local; docs/slurm.md)")
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
    return p


def command(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    from ..client.discovery import default_state_dir

    state_dir = Path(args.state_dir).expanduser() if args.state_dir else default_state_dir()
    if args.verb == "daemon" and args.retention is not None:
        from ..engine.retention import ENV, parse_retention

        parse_retention(args.retention)  # a mistake is one line here, not in the daemon
        os.environ[ENV] = args.retention  # the daemon, detached or not, reads it
    if args.verb == "daemon" and args.executor is not None:
        from ..core.request import executor_name

        os.environ["JOBFLOW_EXECUTOR"] = executor_name("--executor", args.executor)  # the daemon, detached or not, reads it
    if args.verb == "daemon" and args.detach:
        from ..client.http import ensure_daemon

        info = ensure_daemon(state_dir, port=args.port)
        print(f"jobflow daemon (pid {info.get('pid')}) serves {state_dir} at {info.get('url')}")
    elif args.verb == "daemon":
        from ..server.daemon import serve

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

    from ..client.discovery import read_endpoint

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


def main() -> None:
    sys.exit(run("jobflow", command))

"""``jobflow daemon``: the same API as the Jupyter extension, on a plain tornado server.

For terminals, tests and plain IPython when no Jupyter server runs. Foreground until SIGTERM or
SIGINT; bound to 127.0.0.1 by default; every request needs the daemon's token, which is written,
with the URL and pid, to ``endpoint.json`` (mode 0600) in the state directory and removed on a
clean exit. Running jobs outlive the daemon; the next host re-adopts them.

    python -m jupyter_jobflow.server.daemon --state-dir DIR [--port N]

A second host on the same state directory fails at once with one line naming the holder of its
lock (exit status 1), before it opens the database, binds a port or touches the endpoint file; so
do a damaged or newer database, an unwritable state directory and a full disk, each in one line
naming the path.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from ..client import discovery as paths
from ..core.errors import JobflowError
from .auth import TOKEN
from .base import HostContext
from .routes import make_handlers
from .static import static_handlers

log = logging.getLogger("jupyter_jobflow.daemon")


def make_app(context: HostContext, token: str) -> Application:
    """The daemon's tornado application: the shared handler table under ``/jobflow/api/``, and the
    panel's JavaScript under ``/jobflow/static/`` (for notebooks whose kernel found this daemon)."""
    return Application(make_handlers("/jobflow/api", TOKEN) + static_handlers("/jobflow"), jobflow=context,
                       jobflow_token=token, websocket_ping_interval=30, log_function=_log_request)


def serve(state_dir: str | os.PathLike[str], port: int = 0, host: str = "127.0.0.1", *,
          simulated_gpus: int | None = None, kill_grace: float = 30.0, default_time_limit: float | None = None,
          token: str | None = None, retention: str | None = None) -> None:
    """Serve ``state_dir`` until SIGTERM/SIGINT. Raises ``Unavailable`` (naming the holder) when
    another host schedules it. ``port=0`` picks a free port; the endpoint file says which."""
    logging.basicConfig(level=logging.INFO, format="[jobflow daemon %(asctime)s] %(message)s", stream=sys.stderr)
    asyncio.run(_serve(Path(state_dir).expanduser(), port, host, token or secrets.token_hex(24),
                       dict(simulated_gpus=simulated_gpus, kill_grace=kill_grace,
                            default_time_limit=default_time_limit, retention=retention)))


async def _serve(state_dir: Path, port: int, host: str, token: str, options: dict[str, Any]) -> None:
    from ..engine.service import JobService

    service = JobService(state_dir, **options)
    try:
        service.start()
    except BaseException:
        service.close()
        raise
    server: HTTPServer | None = None
    try:
        sockets = bind_sockets(port, host)
        server = HTTPServer(make_app(HostContext(service, "daemon"), token))
        server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
        service.set_endpoint(url, token)  # its jobs reach it with JOBFLOW_URL/JOBFLOW_TOKEN
        paths.write_endpoint(state_dir, {"url": url, "token": token, "pid": os.getpid(), "host": "daemon"})
        log.info("serving %s at %s (pid %d)", state_dir, url, os.getpid())
        await _until_signalled()
        log.info("stopping; running jobs go on and are re-adopted by the next host")
    finally:
        paths.remove_endpoint(state_dir, os.getpid())
        if server is not None:
            server.stop()
        service.close()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _log_request(handler: RequestHandler) -> None:
    status = handler.get_status()
    level = logging.WARNING if status >= 500 else logging.DEBUG
    req = handler.request  # the path only: a query may hold the token
    log.log(level, "%d %s %s %.1fms", status, req.method, req.path, 1000 * req.request_time())


def parser() -> argparse.ArgumentParser:
    """The command line (the docs' reference is generated from it)."""
    p = argparse.ArgumentParser(prog="jobflow daemon", description=__doc__.split("\n\n")[0])
    p.add_argument("--state-dir", default=None, help="default: $JOBFLOW_HOME, else jobflow/ under Jupyter's data dir")
    p.add_argument("--port", type=int, default=0, help="default: any free port")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--simulated-gpus", type=int, default=None, metavar="N")
    p.add_argument("--kill-grace", type=float, default=30.0, metavar="SECONDS")
    p.add_argument("--retention", metavar="D", help="keep finished jobs this long (30d, 7-0, none; default: "
                   "$JOBFLOW_RETENTION, else 30d)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        serve(args.state_dir or paths.default_state_dir(), args.port, args.host,
              simulated_gpus=args.simulated_gpus, kill_grace=args.kill_grace, retention=args.retention)
    except (JobflowError, OSError) as e:
        print(f"jobflow daemon: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A small HTTP client of the jobflow API (docs/api.md), for the terminal commands and the magics.

Stdlib only, and light: ``gbatch`` starts fast, and a kernel pays nothing to import it.

Discovery (``Client.discover``): ``$JOBFLOW_URL`` + ``$JOBFLOW_TOKEN`` (the Jupyter extension
exports them to its kernels), else the endpoint file of the state directory (``--state-dir``,
``$JOBFLOW_HOME``, or the default). An explicit ``state_dir`` argument wins over the
environment. ``ensure_daemon`` starts a detached ``jobflow daemon`` when none serves a directory.

    >>> client = Client.discover()
    >>> client.submit({"command": ["python", "train.py"], "gpus": 1})["message"]
    'Submitted batch job 7 (train.py)'
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote, urlencode, urlsplit

from ..core import errors
from ..core.errors import JobflowError, Unavailable
from .discovery import ENDPOINT, default_state_dir, read_endpoint

API = "jobflow/api/"


def error_from_reply(status: int, body: bytes | str | dict[str, Any] | None) -> JobflowError:
    """The ``JobflowError`` an error reply stands for: the same class the server raised (by its
    ``reason``), else the class of its HTTP status; the message is the server's one line."""
    data: Any = body
    if isinstance(body, (bytes, str)):
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
    message = data.get("message") if isinstance(data, dict) else None
    if not message:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
        message = " ".join(text.split())[:200] or f"HTTP {status}"
    cls = getattr(errors, str(data.get("reason") or ""), None) if isinstance(data, dict) else None
    if cls is errors.HelpRequested:  # the help text is the terminal's to print, never a reply's
        cls = errors.InvalidSpec
    if not (isinstance(cls, type) and issubclass(cls, JobflowError)):
        by_status = {400: errors.InvalidSpec, 404: errors.NotFound, 409: errors.Conflict, 503: Unavailable}
        cls = by_status.get(status, JobflowError)
        if status in (401, 403):
            message = f"the jobflow service refused the token ({status}): {message}"
    err = cls(" ".join(str(message).split()))
    err.status = status
    return err


def api_root(url: str) -> str:
    """``http://h:p/base/`` -> ``http://h:p/base/jobflow/api/`` (a URL already at the API stays)."""
    url = url if url.endswith("/") else url + "/"
    return url if url.endswith(API) else url + API


class Client:
    """One jobflow service: its API root URL and token. Every method is one request."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 30.0, state_dir: Path | None = None):
        self.url = api_root(url)
        self.token = token
        self.timeout = timeout
        self.state_dir = state_dir  # the directory it was discovered for (None: from the environment)

    @classmethod
    def discover(cls, state_dir: str | os.PathLike[str] | None = None, *, timeout: float = 30.0) -> "Client":
        """The service for ``state_dir`` (see the module doc); ``Unavailable`` when none runs."""
        if state_dir is None and os.environ.get("JOBFLOW_URL"):
            return cls(os.environ["JOBFLOW_URL"], os.environ.get("JOBFLOW_TOKEN"), timeout=timeout)
        directory = Path(state_dir).expanduser() if state_dir is not None else default_state_dir()
        info = read_endpoint(directory)
        if not info or not info.get("url"):
            raise Unavailable(f"no jobflow service is running for {directory}: start one with "
                              f"`jobflow daemon --detach`, or open JupyterLab")
        return cls(info["url"], info.get("token"), timeout=timeout, state_dir=directory)

    # -- transport -----------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        """One request; the decoded JSON reply, or the ``JobflowError`` of an error reply."""
        import http.client  # here, not at the top: `gbatch --help` must not pay for it

        parts = urlsplit(self.url)
        target = parts.path + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            target += "?" + urlencode(params)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(parts.hostname or "127.0.0.1", parts.port, timeout=self.timeout)
        try:
            conn.request(method, target, body=data, headers=headers)
            reply = conn.getresponse()
            raw = reply.read()
        except (OSError, http.client.HTTPException) as err:
            raise Unavailable(f"cannot reach the jobflow service at {self.url}: {_why(err)}") from None
        finally:
            conn.close()
        if reply.status >= 400:
            raise error_from_reply(reply.status, raw)
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise Unavailable(f"the jobflow service at {self.url} sent a reply that is not JSON "
                              f"(HTTP {reply.status})") from None

    # -- the routes (docs/api.md) ---------------------------------------------------------------
    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "jobs", body)

    # flows (docs/api.md, Flows)
    def save_flow(self, name: str, source: str, fmt: str = "yaml") -> dict[str, Any]:
        return self.request("POST", "flows", {"name": name, "source": source, "format": fmt})

    def flows(self) -> dict[str, Any]:
        return self.request("GET", "flows")

    def add_template(self, name: str, source: str) -> dict[str, Any]:
        return self.request("POST", "templates", {"name": name, "source": source})

    def templates(self) -> dict[str, Any]:
        return self.request("GET", "templates")

    def remove_template(self, name: str, *, force: bool = False) -> dict[str, Any]:
        return self.request("DELETE", f"templates/{name}", query={"force": 1 if force else None})

    def task_inputs(self, name: str, task: str, *, run: str | None = None) -> dict[str, Any]:
        return self.request("GET", f"flows/{name}/tasks/{task}/inputs", query={"run": run})

    def create_run(self, name: str, params: dict[str, Any] | None = None, *, dry_run: bool = False,
                   cwd: str | None = None) -> dict[str, Any]:
        return self.request("POST", f"flows/{name}/runs", {"params": params or {}, "dry_run": dry_run, "cwd": cwd})

    def runs(self, flow: str | None = None, *, limit: int | None = None) -> dict[str, Any]:
        return self.request("GET", "runs", query={"flow": flow, "limit": limit})

    def run(self, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"runs/{run_id}")

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        return self.request("POST", f"runs/{run_id}/cancel")

    def resume_run(self, run_id: str, *, from_task: str | None = None, only: str | None = None,
                   as_new_run: bool = False) -> dict[str, Any]:
        return self.request("POST", f"runs/{run_id}/resume", {"from": from_task, "only": only, "as_new_run": as_new_run})

    def run_task(self, name: str, task: str, *, run: str | None = None, cwd: str | None = None) -> dict[str, Any]:
        return self.request("POST", f"flows/{name}/tasks/{task}/run", {"run": run, "cwd": cwd})

    def run_log(self, run_id: str, *, task: str | None = None, offset: int = 0) -> dict[str, Any]:
        return self.request("GET", f"runs/{run_id}/log", query={"task": task, "offset": offset})

    # -- schedules (docs/schedules.md) ------------------------------------------------------
    def set_schedule(self, name: str, **fields: Any) -> dict[str, Any]:
        return self.request("PUT", f"flows/{name}/schedule", {k: v for k, v in fields.items() if v is not None})

    def schedule(self, name: str) -> dict[str, Any]:
        return self.request("GET", f"flows/{name}/schedule")

    def schedules(self) -> dict[str, Any]:
        return self.request("GET", "schedules")

    def backfill(self, name: str, start: str, end: str, **fields: Any) -> dict[str, Any]:
        body = {"from": start, "to": end, **{k: v for k, v in fields.items() if v is not None}}
        return self.request("POST", f"flows/{name}/backfill", body)

    def mark_success(self, run_id: str) -> dict[str, Any]:
        return self.request("POST", f"runs/{run_id}/mark-success")

    def jobs(self, *, state: str | None = None, ids: str | None = None, name: str | None = None,
             group: str | None = None, all: bool = True, limit: int | None = None,
             offset: int | None = None) -> dict[str, Any]:
        return self.request("GET", "jobs", query={"state": state, "ids": ids, "name": name, "group": group,
                                                  "all": int(all), "limit": limit, "offset": offset})

    def job(self, job_id: int) -> dict[str, Any]:
        return self.request("GET", f"jobs/{_id(job_id)}")

    def cancel(self, ids: Iterable[int], *, dry_run: bool = False, cascade: bool = False) -> dict[str, Any]:
        return self.request("POST", "jobs/cancel", {"ids": list(ids), "dry_run": dry_run, "cascade": cascade})

    def hold(self, job_id: int) -> dict[str, Any]:
        return self.request("POST", f"jobs/{_id(job_id)}/hold", {})

    def release(self, job_id: int) -> dict[str, Any]:
        return self.request("POST", f"jobs/{_id(job_id)}/release", {})

    def redo(self, job_id: int, **fields: Any) -> dict[str, Any]:
        """Fields: ``in_place``, ``cascade``, ``time_limit``, ``gpus``, ``priority``, ``name``."""
        return self.request("POST", f"jobs/{_id(job_id)}/redo", _given(fields))

    def update(self, job_id: int, **fields: Any) -> dict[str, Any]:
        return self.request("PATCH", f"jobs/{_id(job_id)}", _given(fields))

    def explain(self, job_id: int) -> list[str]:
        return self.request("GET", f"jobs/{_id(job_id)}/explain")["lines"]

    def log(self, job_id: int, *, attempt: int | None = None, offset: int = 0,
            limit: int | None = None) -> dict[str, Any]:
        return self.request("GET", f"jobs/{_id(job_id)}/log",
                            query={"attempt": attempt, "offset": offset, "limit": limit})

    def gpus(self) -> dict[str, Any]:
        return self.request("GET", "gpus")

    def status(self) -> dict[str, Any]:
        return self.request("GET", "status")

    def purge(self, *, older_than: str | float | None = None, dry_run: bool = False) -> dict[str, Any]:
        """Forget finished jobs older than ``older_than`` (default: the host's retention)."""
        return self.request("POST", "purge", {"older_than": older_than, "dry_run": dry_run})


def ensure_daemon(state_dir: str | os.PathLike[str] | None = None, *, port: int | None = None,
                  timeout: float = 20.0) -> dict[str, Any]:
    """The endpoint of the service for ``state_dir``, starting ``jobflow daemon`` detached (its own
    session; output to ``state_dir/daemon.log``) when none runs. Waits at most ``timeout`` seconds
    for its endpoint file; ``Unavailable`` with the log's last line when it does not come."""
    directory = Path(state_dir).expanduser() if state_dir is not None else default_state_dir()
    info = read_endpoint(directory)
    if info:
        return info
    import subprocess

    directory.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "jupyter_jobflow.server.daemon", "--state-dir", str(directory)]
    if port is not None:
        argv += ["--port", str(port)]
    log_path = directory / "daemon.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, cwd=str(directory))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_endpoint(directory)
        if info:
            return info
        if proc.poll() is not None:
            info = read_endpoint(directory)  # lost a race with another host: use that one
            if info:
                return info
            raise Unavailable(f"jobflow daemon for {directory} exited with status {proc.returncode}: "
                              f"{_last_line(log_path)}")
        time.sleep(0.05)
    raise Unavailable(f"jobflow daemon for {directory} did not write {ENDPOINT} within {timeout:g}s "
                      f"(see {log_path})")


def _id(job_id: Any) -> str:
    return quote(str(job_id), safe="")


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _why(err: BaseException) -> str:
    if isinstance(err, ConnectionRefusedError):
        return "connection refused (is it still running?)"
    if isinstance(err, TimeoutError):
        return "timed out"
    return str(err) or type(err).__name__


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1].strip() if lines else f"(nothing in {path})"

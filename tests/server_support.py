"""Helpers for the server tests: a real daemon subprocess, a urllib client, event-stream waits.

Every wait is bounded and woken by a real condition (the endpoint file appearing, a message on
the event stream), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from jupyter_jobflow.core import model

TERMINAL = tuple(s.value for s in model.TERMINAL)  # the product's terminal states, as the API writes them


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 15.0, proc: subprocess.Popen | None = None,
             log: Path | None = None):
    """Poll ``condition`` (a file, a process) every 20 ms until it is truthy; fail after ``timeout``
    or as soon as ``proc`` exits (with its ``log``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            output = log.read_text(errors="replace") if log else ""
            raise AssertionError(f"{what}: the process exited with {proc.returncode}: {output}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout}s")
        time.sleep(0.02)


# -- the daemon, from outside ------------------------------------------------------------------
class Daemon:
    """``python -m jupyter_jobflow.server.daemon`` on ``state_dir``, driven over HTTP with urllib."""

    def __init__(self, state_dir: Path, *args: str):
        self.state_dir = state_dir
        self.log_path = state_dir.parent / f"{state_dir.name}.daemon.log"  # a file: a pipe could fill up
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "jupyter_jobflow.server.daemon", "--state-dir",
                                          str(state_dir), "--simulated-gpus", "2", "--kill-grace", "1", *args],
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.info = wait_for(lambda: _endpoint_of(state_dir, self.proc.pid), "endpoint.json", proc=self.proc,
                             log=self.log_path)
        self.url, self.token = self.info["url"], self.info["token"]

    def api(self, path: str) -> str:
        return self.url + "jobflow/api/" + path

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = "default",
                raw: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.api(path), data=data, method=method, headers=dict(headers or {}))
        if token is not None:
            req.add_header("Authorization", f"token {self.token if token == 'default' else token}")
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text)
            except ValueError:
                return e.code, text.decode(errors="replace")

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, reply = self.request(method, path, body)
        assert status in (200, 201), (status, reply)
        return reply

    def events(self, query: str = ""):
        from websocket import create_connection

        url = self.url.replace("http://", "ws://") + "jobflow/api/events" + (f"?{query}" if query else "")
        return create_connection(url, header=[f"Authorization: token {self.token}"], timeout=15)

    def wait_job(self, job_id: int, states: tuple[str, ...] = TERMINAL, timeout: float = 20.0) -> dict[str, Any]:
        """The job once its state is one of ``states``, woken by the event stream."""
        ws = self.events()
        try:
            snapshot = json.loads(ws.recv())
            job = next((j for j in snapshot["jobs"] if j["id"] == job_id), None)
            deadline = time.monotonic() + timeout
            while job is None or job["state"] not in states:
                ws.settimeout(max(0.01, deadline - time.monotonic()))
                msg = json.loads(ws.recv())
                if msg.get("job_id") == job_id and msg.get("job"):
                    job = msg["job"]
            return job
        finally:
            ws.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cancel_everything(self) -> None:
        if self.proc.poll() is not None:
            return
        active = [j["id"] for j in self.ok("GET", "jobs?all=0")["jobs"]]
        if active:
            self.request("POST", "jobs/cancel", {"ids": active})
            for jid in active:
                self.wait_job(jid)


def _endpoint_of(state_dir: Path, pid: int) -> dict[str, Any] | None:
    try:
        info = json.loads((state_dir / "endpoint.json").read_text())
    except (OSError, ValueError):
        return None
    return info if info.get("pid") == pid else None


# -- the event stream, from inside a pytest-jupyter test ----------------------------------------
class Stream:
    """A tornado WebSocket client on ``events``, with bounded waits for messages."""

    def __init__(self, ws: Any):
        self.ws, self.seen = ws, []

    async def next(self, timeout: float = 15.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.read_message(), timeout)
        assert raw is not None, "the event stream closed"
        msg = json.loads(raw)
        self.seen.append(msg)
        return msg

    async def until(self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} on the event stream after {timeout}s; saw {self.seen[-5:]}")
            try:
                msg = await self.next(left)
            except asyncio.TimeoutError:
                continue
            if predicate(msg):
                return msg

    async def job(self, job_id: int, *states: str, timeout: float = 15.0) -> dict[str, Any]:
        """The next event that shows job ``job_id`` in one of ``states`` (default: ended)."""
        states = states or TERMINAL
        msg = await self.until(lambda m: m.get("type") == "event" and m.get("job_id") == job_id
                               and m["job"]["state"] in states, f"job {job_id} in {states}", timeout)
        return msg["job"]

    def close(self) -> None:
        self.ws.close()


def wait_for_job(service: Any, job_id: int, *states: str, timeout: float = 15.0):
    """An in-process ``JobService``'s job once its state is one of ``states``, woken by its events."""
    import threading

    changed = threading.Event()
    unsubscribe = service.subscribe(lambda _event: changed.set())
    deadline = time.monotonic() + timeout
    try:
        while (job := service.get(job_id)).state.value not in states:
            if not changed.wait(max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"job {job_id} is {job.state.value}, not in {states} after {timeout}s")
            changed.clear()
        return job
    finally:
        unsubscribe()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

"""An executor whose attempts are no processes: the test says when one starts, ends or is lost.

It keeps the executor contract (executors/__init__.py) without a process or a real second, so
the engine's rules (time limits from ``started``, kill grace, delays, retries, restart recovery)
are tested in milliseconds with ``FakeClock`` (engine/clock.py). Its state lives in a
``FakeBackend`` (what a Slurm controller would hold): a "restarted" executor over the same
backend finds the attempts again. Shipped, not kept under tests/: it is the contract's smallest
implementation, for the next executor's author to read and for anyone's tests to drive an engine.
"""

from __future__ import annotations

import signal as _signal
import threading
from dataclasses import dataclass, field
from typing import Callable

from ...core.errors import InvalidSpec, NotFound
from . import AttemptEvent, ExitStatus, Handle, LaunchRequest, Sink


@dataclass
class FakeAttempt:
    request: LaunchRequest
    state: str = "pending"  # pending, running, ended, lost, killed
    status: ExitStatus | None = None
    began: bool = False
    started_at: float | None = None  # by the executor's clock, if it has one
    log: bytes = b""


@dataclass
class FakeBackend:
    """What outlives a fake executor: its attempts, and every signal sent, with the time."""

    attempts: dict[tuple[int, int], FakeAttempt] = field(default_factory=dict)
    signals: list[tuple[int, int, int, float]] = field(default_factory=list)  # job, attempt, signal, when
    lock: threading.RLock = field(default_factory=threading.RLock)
    executors: list["FakeExecutor"] = field(default_factory=list)  # each reports what it watches


class FakeExecutor:
    name = "fake"

    def __init__(self, clock: Callable[[], float] | None = None, backend: FakeBackend | None = None,
                 *, starts_at_once: bool = False, ignores: frozenset[int] = frozenset()):
        self.clock = clock
        self.backend = backend or FakeBackend()
        self.starts_at_once = starts_at_once  # like a local process; else pending until ``start``
        self.ignores = set(ignores)  # signals an attempt survives (a job that ignores SIGTERM)
        self.fail_launch: Exception | None = None  # the next launch raises this
        self._sink: Sink = lambda event: None
        self._watched: set[tuple[int, int]] = set()
        self.backend.executors.append(self)

    def restarted(self) -> "FakeExecutor":
        """A new executor over the same backend, as after the host restarted."""
        return FakeExecutor(self.clock, self.backend, starts_at_once=self.starts_at_once, ignores=frozenset(self.ignores))

    # -- the contract -----------------------------------------------------------------------
    def bind(self, sink: Sink) -> None:
        self._sink = sink

    def launch(self, req: LaunchRequest) -> Handle:
        if self.fail_launch is not None:
            err, self.fail_launch = self.fail_launch, None
            raise err
        if not req.argv:
            raise InvalidSpec(f"job {req.job_id}: empty command")
        with self.backend.lock:
            self.backend.attempts[(req.job_id, req.attempt)] = FakeAttempt(req)
        if self.starts_at_once:
            self.start(req.job_id, req.attempt)
        return {"fake": [req.job_id, req.attempt]}

    def watch(self, job_id: int, attempt: int, handle: Handle) -> None:
        key = (job_id, attempt)
        with self.backend.lock:
            self._watched.add(key)
            self._report(key)

    def adopt(self, job_id: int, attempt: int) -> Handle | None:
        with self.backend.lock:
            return {"fake": [job_id, attempt]} if (job_id, attempt) in self.backend.attempts else None

    def signal(self, handle: Handle, sig: int) -> None:
        key = tuple(handle["fake"])
        with self.backend.lock:
            a = self.backend.attempts.get(key)
            if a is None or a.state not in ("pending", "running"):
                return
            self.backend.signals.append((*key, int(sig), self._now()))
            if sig == _signal.SIGKILL or sig not in self.ignores:
                self._finish(key, "ended", ExitStatus(None, int(sig), None))

    def kill(self, handle: Handle) -> None:
        with self.backend.lock:
            a = self.backend.attempts.get(tuple(handle["fake"]))
            if a is not None:
                a.state = "killed"

    def leader_pid(self, handle: Handle) -> int | None:
        return None

    def read_log(self, job_id: int, attempt: int, offset: int = 0, limit: int = 1 << 20) -> tuple[bytes, int]:
        with self.backend.lock:
            a = self.backend.attempts.get((job_id, attempt))
            if a is None:
                raise NotFound(f"No log for job {job_id} attempt {attempt}")
            data = a.log[offset:offset + limit]
        return data, offset + len(data)

    def close(self) -> None:
        self._watched.clear()

    # -- what the test makes happen ---------------------------------------------------------
    def start(self, job_id: int, attempt: int = 1) -> None:
        """The attempt really begins now (a Slurm job leaving its queue)."""
        with self.backend.lock:
            a = self.backend.attempts[(job_id, attempt)]
            assert a.state == "pending", f"job {job_id}.{attempt} is {a.state}, not pending"
            a.state, a.began, a.started_at = "running", True, self._now()
            self._report_all((job_id, attempt))

    def end(self, job_id: int, attempt: int = 1, exit_code: int | None = 0, signal: int | None = None) -> None:
        """The attempt ends with ``exit_code``, or killed by ``signal``."""
        self._finish((job_id, attempt), "ended", ExitStatus(None if signal else exit_code, signal, None))

    def lose(self, job_id: int, attempt: int = 1) -> None:
        """The attempt vanishes without a status (a node lost, the OOM killer took the supervisor)."""
        self._finish((job_id, attempt), "lost", None)

    def write_log(self, job_id: int, attempt: int, data: bytes) -> None:
        with self.backend.lock:
            self.backend.attempts[(job_id, attempt)].log += data

    def state(self, job_id: int, attempt: int = 1) -> str | None:
        a = self.backend.attempts.get((job_id, attempt))
        return a.state if a else None

    def launched(self) -> list[tuple[int, int]]:
        """Every attempt launched so far, in order."""
        return list(self.backend.attempts)

    # -- inside -----------------------------------------------------------------------------
    def _now(self) -> float | None:
        return self.clock() if self.clock is not None else None

    def _finish(self, key: tuple[int, int], state: str, status: ExitStatus | None) -> None:
        with self.backend.lock:
            a = self.backend.attempts[key]
            assert a.state in ("pending", "running"), f"job {key[0]}.{key[1]} is {a.state} already"
            was_pending = a.state == "pending"
            a.state, a.status = state, status
            if was_pending and state == "ended" and status is not None and status.signal is None:
                a.began, a.started_at = True, self._now()  # it ran, however briefly
            self._report_all(key)

    def _report_all(self, key: tuple[int, int]) -> None:
        for executor in list(self.backend.executors):
            executor._report(key)

    def _report(self, key: tuple[int, int]) -> None:
        """Tell the engine what the attempt's state is, if it watches it (again after a restart)."""
        if key not in self._watched:
            return
        a = self.backend.attempts.get(key)
        if a is None or a.state == "pending":
            return
        if a.began:
            self._sink(AttemptEvent("started", *key, at=a.started_at))
        if a.state == "ended":
            self._sink(AttemptEvent("ended", *key, status=a.status))
            self._watched.discard(key)
        elif a.state in ("lost", "killed"):  # killed: what the store could not record ends unseen
            self._sink(AttemptEvent("lost", *key))
            self._watched.discard(key)

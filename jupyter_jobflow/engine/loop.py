"""The ``Engine``'s thread: wait on the wake pipe and the next timer, run one ``step`` per wake-up,
restart after a failure with a back-off, and give up loudly after ``MAX_RESTARTS`` in a row."""

from __future__ import annotations

import logging
import os
import selectors
import sqlite3
import threading
from typing import Any

log = logging.getLogger("jupyter_jobflow")

#: The longest the loop sleeps at once: ``epoll`` refuses a timeout past ~24.8 days (int32 ms), so
#: a far timer (``--time 25-0``, ``afterok:N+4w``) is re-armed after this, never handed over whole.
MAX_SLEEP = 86400.0
#: Loop failures in a row that are restarted (with a back-off) before the scheduler gives up loudly.
MAX_RESTARTS = 5

STORE_RETRY_SECONDS = 1.0  # after a commit the database refused, the next try


class LoopMixin:
    """Part of ``Engine`` (scheduler.py composes it)."""

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:  # the pipe is full: a wake-up is already pending
            pass

    def start(self) -> None:
        """Recover, then run the scheduler loop in a daemon thread."""
        self.recover()
        self._stopping = False
        self._stopped.clear()
        self.given_up, self._failures_in_a_row = False, 0
        self._thread = threading.Thread(target=self._supervise, name="jobflow-scheduler", daemon=True)
        self._thread.start()
        self.wake()

    def stop(self) -> None:
        """Stop scheduling. Running jobs go on; the next start re-adopts them."""
        self._stopping = True
        self._stopped.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        for executor in self.executors.values():  # the next start watches again (reconcile_attempts)
            executor.close()

    def _supervise(self) -> None:
        """Run the loop; when it fails, say so (``health``) and restart it after a short back-off,
        up to ``MAX_RESTARTS`` failures in a row; then give up loudly (submissions answer 503)."""
        while not self._stopping:
            try:
                self._loop()
                return
            except Exception as err:
                self.failure = " ".join(f"{type(err).__name__}: {err}".split())[:500]
                self._failures_in_a_row += 1
                if self._failures_in_a_row > MAX_RESTARTS:
                    self.given_up = True
                    log.critical("the scheduler failed %d times in a row and stopped: %s",
                                 self._failures_in_a_row, self.failure)
                    return
                self.restarts += 1
                self._stopped.wait(min(5.0, 0.05 * 2 ** self._failures_in_a_row))
                with self.lock:  # the failed step was rolled back: the store is the truth again
                    try:
                        self._load()
                    except Exception:
                        log.exception("the scheduler could not reload its jobs; it tries again")
                    self._to_watch.update(self.handles)

    def _loop(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        try:
            while not self._stopping:
                with self.lock:
                    timeout = 0 if self._to_watch else max(0.0, self._next_wake - self.clock())
                    if timeout and self._clock_wakes:  # a FakeClock wakes us when it moves
                        timeout = MAX_SLEEP
                    if not timeout <= MAX_SLEEP:  # far, infinite or NaN: look again within a day
                        timeout = MAX_SLEEP
                for key, _ in selector.select(timeout):
                    os.read(self._wake_r, 4096)
                if not self._stopping:
                    self.step()
                    self._failures_in_a_row = 0
        except Exception:
            log.exception("the scheduler loop failed; jobs keep running and are re-adopted on restart")
            raise
        finally:
            selector.close()

    def health(self) -> dict[str, Any]:
        """``scheduler``: running, restarting, failed (gave up) or stopped; the last failure's cause."""
        alive = self._thread is not None and self._thread.is_alive()
        state = "failed" if self.given_up else "restarting" if alive and self._failures_in_a_row else \
            "running" if alive else "stopped"
        return {"scheduler": state, "error": self.failure, "restarts": self.restarts, "database": self.store_error}

    def _refused(self, err: sqlite3.Error) -> None:
        """The store refused a commit: nothing of the step happened. Reload, and try again soon."""
        self.store_error = f"the database refused a write ({err}); jobs wait until it accepts writes again"
        log.error("jobflow: %s", self.store_error)
        self._load()
        self._next_wake = min(self._next_wake, self.clock() + STORE_RETRY_SECONDS)

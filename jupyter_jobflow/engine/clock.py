"""A clock that tests move by hand (``advance``), so nothing waits real seconds for a time limit,
a kill grace, a dependency delay or a retry back-off.

The engine and the service take any ``clock`` callable (``time.time`` by default). A
``FakeClock`` is one, and more: when it moves, it calls back whoever listens (``on_advance``),
which is how the scheduler's thread learns that a timer may be due: it sleeps on its wake pipe
without a timeout instead of sleeping fake seconds for real.
"""

from __future__ import annotations

import threading
from typing import Callable


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0):
        self._now = start
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def __call__(self) -> float:
        return self.now()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and wake whoever listens; returns the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += seconds
            now = self._now
        for fn in list(self._listeners):
            fn()
        return now

    def on_advance(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call ``fn`` after every ``advance``; returns how to stop."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

"""The locks a ``JobService`` verb runs under: the engine's, and for a verb that also inserts
jobs, the submit lock first (the one order; the other deadlocks)."""

from __future__ import annotations

import functools
from typing import Any, Callable


def atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run a verb under the engine's lock, so that the state it checks is the state it changes
    (the scheduler thread cannot start a job between ``hold``'s check and its write)."""
    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.engine.lock:
            return method(self, *args, **kwargs)

    return locked


def submitting_atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    """``atomic`` for a verb that also inserts jobs (redo): the submit lock first, then the engine's,
    the order ``submit`` takes them in. Requests run on several threads; the other order deadlocks."""
    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._submit_lock, self.engine.lock:
            return method(self, *args, **kwargs)

    return locked

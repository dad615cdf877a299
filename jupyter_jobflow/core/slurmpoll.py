"""How often the Slurm executor asks the controller (one ``squeue`` for all its jobs per poll).

Pure, the clock passed in: after a poll that saw a change, ask again soon (``fastest``); while
nothing changes, wait ``factor`` times longer each time, up to ``slowest``; never wait past a job's
time limit (its end is news), nor longer than ``watched`` while someone watches (a panel, ``gjob
log -f``). Cluster admins' top complaint about such tools is polling: this keeps an idle pipeline
at one call per ``slowest`` seconds, whatever the number of jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .errors import InvalidSpec


@dataclass(frozen=True)
class PollPolicy:
    """Seconds: the shortest and longest wait between polls, the back-off factor, and the longest
    wait while someone watches."""

    fastest: float = 1.0
    slowest: float = 30.0
    factor: float = 2.0
    watched: float = 2.0

    def __post_init__(self) -> None:
        if not 0.1 <= self.fastest <= self.slowest <= 3600:
            raise InvalidSpec(f"Slurm poll interval: need 0.1 <= fastest ({self.fastest}) <= slowest "
                              f"({self.slowest}) <= 3600 seconds")
        if not 1.0 <= self.factor <= 10.0:
            raise InvalidSpec(f"Slurm poll back-off factor must be between 1 and 10, got {self.factor}")
        if self.watched < self.fastest:
            raise InvalidSpec(f"Slurm poll interval while watched ({self.watched}) is below fastest ({self.fastest})")

    def next_wait(self, previous: float | None, *, changed: bool, now: float, ends: Iterable[float] = (),
                  watched: bool = False) -> float:
        """Seconds until the next poll. ``previous``: the last wait (None: the first poll);
        ``ends``: when running jobs reach their time limits (start + limit), in the clock's seconds."""
        wait = self.fastest if changed or previous is None else min(self.slowest, previous * self.factor)
        if watched:
            wait = min(wait, self.watched)
        upcoming = [end - now for end in ends if end > now]
        if upcoming:
            wait = min(wait, max(self.fastest, min(upcoming)))
        return max(self.fastest, wait)

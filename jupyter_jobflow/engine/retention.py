"""Retention: which finished jobs to forget, and the timer that forgets them.

A job is purged once it has ended (CD, F, CA, TO) longer ago than the retention (default 30 days,
``$JOBFLOW_RETENTION``) unless a job that still waits or runs depends on it directly, or a task
of its job array is still active (the run is not over). Purging removes everything of a job at
once: its rows, edges, attempts and events (``Store.purge_jobs``), its entry in the engine's
mirror (``Engine.forget``), its cached JSON, and its files (``remove_files``). Ids are never
reused (the jobs table is AUTOINCREMENT).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ..core.errors import InvalidSpec
from ..core.model import Job
from ..core.timespec import format_duration, parse_time_limit

log = logging.getLogger("jupyter_jobflow")

ENV = "JOBFLOW_RETENTION"
DEFAULT = "30d"
PURGE_EVERY = 3600.0  # clock seconds between automatic purges
_OFF = ("0", "none", "never", "off", "unlimited", "infinite")


def parse_retention(value: str | float | int | None) -> float | None:
    """Seconds to keep finished jobs, or ``None`` to keep them all. ``None`` (the argument)
    means the default: ``$JOBFLOW_RETENTION``, else 30 days. Strings use the ``--time`` formats
    (``30d``, ``7-0``, ``12h``; a bare number is minutes); numbers are seconds; 0 or ``none``
    disables purging."""
    if value is None:
        try:
            return parse_retention(os.environ.get(ENV) or DEFAULT)
        except InvalidSpec as e:
            raise InvalidSpec(f"${ENV}: {e}") from None
    if isinstance(value, bool):
        raise InvalidSpec(f"Invalid retention {value!r}: expected a duration like 30d or 7-0, or none")
    if isinstance(value, (int, float)):
        if value < 0 or value != value:
            raise InvalidSpec(f"Invalid retention {value!r}: expected 0 (keep every job) or more seconds")
        return float(value) or None
    text = str(value).strip()
    if text.lower() in _OFF:
        return None
    try:
        seconds = parse_time_limit(text)
    except InvalidSpec:
        raise InvalidSpec(f'Invalid retention "{text}": expected a duration like 30d, 7-0 or 12h, '
                          f'or none to keep every job') from None
    return float(seconds) if seconds else None


@dataclass
class Selection:
    """What a purge with cutoff ``cutoff`` takes (``ids``) and the old jobs it must keep."""

    ids: list[int]
    kept: list[int] = field(default_factory=list)


def select(jobs: Mapping[int, Job], dependents: Mapping[int, Iterable[int]], cutoff: float,
           among: Iterable[int] | None = None) -> Selection:
    """The finished jobs (of ``among``, default all) that ended before ``cutoff`` and that
    nothing active still needs."""
    active_arrays = {j.array_of for j in jobs.values() if j.array_of is not None and not j.state.terminal}
    ids, kept = [], []
    for job in jobs.values() if among is None else (jobs[i] for i in among if i in jobs):
        ended = job.ended_at if job.ended_at is not None else job.submitted_at
        if not job.state.terminal or ended >= cutoff:
            continue
        needed = any(c in jobs and not jobs[c].state.terminal for c in dependents.get(job.id, ()))
        (kept if needed or job.array_of in active_arrays else ids).append(job.id)
    return Selection(sorted(ids), sorted(kept))


def remove_files(state_dir: Path, jobs: Iterable[Job]) -> int:
    """Delete what the host wrote for ``jobs``: ``logs/<id>/``, ``status/<id>.*``,
    ``scripts/<id>``, the saved variables ``vars/<id>/`` and the ``--in`` pickle the job read.
    Returns how many paths went; a file already gone is no error."""
    jobs = list(jobs)
    ids = {j.id for j in jobs}
    removed = 0
    for job in jobs:
        for path in (state_dir / "logs" / str(job.id), state_dir / "vars" / str(job.id)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        removed += _unlink(state_dir / "scripts" / str(job.id))
        inputs = _inputs_file(job, state_dir / "vars" / "in")
        if inputs is not None:
            removed += _unlink(inputs)
    try:
        with os.scandir(state_dir / "status") as entries:  # one listing, not one glob per job
            for entry in entries:
                head = entry.name.split(".", 1)[0]
                if head.isdigit() and int(head) in ids:
                    removed += _unlink(Path(entry.path))
    except FileNotFoundError:
        pass
    return removed


def _inputs_file(job: Job, inputs_dir: Path) -> Path | None:
    """The ``--in`` variables of a cell job (``cellrunner --inputs PATH``), if under ``vars/in``."""
    words = list(job.command)
    if "--inputs" in words[:-1]:
        path = Path(words[words.index("--inputs") + 1])
        if path.parent == inputs_dir:
            return path
    return None


def _unlink(path: Path) -> int:
    try:
        path.unlink()
        return 1
    except FileNotFoundError:
        return 0


def format_ids(ids: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``1-3,7`` (what ``parse_ids`` reads back)."""
    parts: list[str] = []
    start = prev = None
    for i in sorted(ids):
        if prev is not None and i == prev + 1:
            prev = i
            continue
        if start is not None:
            parts.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = i
    if start is not None:
        parts.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(parts)


@dataclass
class PurgeReport:
    ids: list[int]
    kept: list[int]
    older_than: float | None
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)

    def render(self) -> str:
        if self.older_than is None:
            return "Retention is off (none): no job is purged"
        age = format_duration(self.older_than)
        verb = "Would purge" if self.dry_run else "Purged"
        n = len(self.ids)
        lines = [f"{verb} {n} job{'s' if n != 1 else ''} that ended more than {age} ago"
                 + (f": {format_ids(self.ids)}" if n else "")]
        if self.kept:
            lines.append(f"Kept {len(self.kept)} that active jobs still need (a dependent waits or runs, "
                         f"or its array is active): {format_ids(self.kept)}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"ids": self.ids, "kept": self.kept, "count": len(self.ids), "older_than": self.older_than,
                "dry_run": self.dry_run, "removed": self.counts, "text": self.render()}


class Purger:
    """Purges at start and then every ``every`` seconds of ``clock``, in its own thread (the first
    purge of a large old store takes seconds, mostly deleting files: the host serves meanwhile).
    It looks at the clock every ``poll`` real seconds, so a test that moves the clock sees the
    purge within ``poll``."""

    def __init__(self, purge: Callable[[], Any], clock: Callable[[], float], every: float = PURGE_EVERY,
                 poll: float = 60.0):
        self.purge, self.clock, self.every, self.poll = purge, clock, every, poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._due = 0.0

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="jobflow-purge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _loop(self) -> None:
        self._run()
        while not self._stop.wait(self.poll):
            if self.clock() >= self._due:
                self._run()

    def _run(self) -> None:
        self._due = self.clock() + self.every
        try:
            self.purge()
        except Exception:  # a failed purge (disk full, ...) is tried again at the next one
            log.exception("jobflow: the automatic purge failed; it is tried again in %s",
                          format_duration(self.every))

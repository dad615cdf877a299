"""The event stream (``GET events``, a WebSocket): only a listener on ``JobService.subscribe``.

On open it subscribes first, then sends the snapshot (or replays the stored events after
``since``), then forwards live events; every event carries its ``seq`` and anything at or below
the last seq sent is dropped, so a client sees each event once, in order, with no gap. The
service calls listeners from the scheduler thread; ``IOLoop.add_callback`` (thread-safe) hops each
event onto the loop that opened the socket, and only that loop writes to it.

The snapshot holds the active jobs and those that ended in the last 24 hours (at most 1,000 of
those), not every retained job: ``total`` and ``omitted`` say how many more ``GET jobs`` pages.

Topics: ``jobs`` (the default: snapshot and events), ``gpus`` (the ``GET gpus`` view on open and
after every sample of the GPU monitor, from ``subscribe_gpus``, in the sampler's thread: the same
hop), ``runs`` (``{"topic": "runs", "run": <summary>}`` after changes to a flow run's jobs, from
the run watcher's thread: the same hop) and ``log:<id>`` (the job's log as it grows, read on its events and every 0.5 s while it
runs).

Clients listen; the one thing they may send is ``{"visible": false}`` / ``{"visible": true}``: while
the page is hidden the stream does not renew its watch (the lease lapses and Slurm's poll backs off),
and it renews at once when the page shows again. Anything else a client sends is ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.websocket import WebSocketClosedError

from ..core import limits
from ..core.errors import InvalidSpec, JobflowError
from ..core.model import JobState
from ..core.wire import job_to_json
from . import parsing
from .base import JobflowHandler

LOG_POLL_MS = 500
WATCH_RENEW_MS = 2000  # an open stream renews its watch of the jobs (a 5 s lease) this often
CLIENT_MESSAGE_MAX = 256  # characters: {"visible": false} is tiny, so a longer message is not even parsed


@dataclass
class Topics:
    jobs: bool = False
    gpus: bool = False
    runs: bool = False
    logs: list[int] = field(default_factory=list)


def parse_topics(text: str | None) -> Topics:
    topics = Topics()
    for word in parsing.query_list(text) or ["jobs"]:
        if word in ("jobs", "gpus", "runs"):
            setattr(topics, word, True)
        elif word.startswith("log:") and re.fullmatch(r"[0-9]{1,19}", word[4:]):  # ASCII: "²".isdigit()
            topics.logs.append(limits.job_id(word[4:]))
        else:
            raise InvalidSpec(f'Unknown topic "{limits.shown(word)}": expected jobs, gpus, runs or log:<job id>')
    return topics


def client_visibility(message: str | bytes) -> bool | None:
    """``True``/``False`` from ``{"visible": <bool>}`` in a text frame; ``None`` for anything else (ignored)."""
    if not isinstance(message, str) or len(message) > CLIENT_MESSAGE_MAX:  # bytes: a binary frame
        return None
    try:
        data = json.loads(message)
    except ValueError:
        return None
    visible = data.get("visible") if isinstance(data, dict) else None
    return visible if isinstance(visible, bool) else None


@dataclass
class LogTail:
    job_id: int
    attempt: int = 0
    offset: int = 0


class EventsHandler(JobflowHandler):
    """The WebSocket body; ``make_handlers`` adds the host's socket base and its auth guard."""

    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Check the query before the upgrade, so a mistake is a JSON 400/404, not a closed socket."""
        self.since = parsing.query_int("since", self.get_argument("since", None))
        self.topics = parse_topics(self.get_argument("topics", None))
        self.tails = {jid: LogTail(jid, self.service.get(jid).attempt) for jid in self.topics.logs}
        await super().get(*args, **kwargs)  # type: ignore[misc]

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)  # type: ignore[misc]  # Jupyter's WebSocketMixin starts its pings here
        self.loop = IOLoop.current()
        self.closed, self.sent, self.poll, self.eyes = False, 0, None, None
        self.visible = True  # until the client says its page is hidden (old clients never do)
        unsubscribe = [self.service.subscribe(self._from_scheduler)]  # before reading: nothing is missed
        if self.topics.gpus:
            unsubscribe.append(self.service.subscribe_gpus(self._gpus_from_sampler))
        if self.topics.runs:  # flow runs: a summary after changes to a run's jobs (engine/flowruns.py)
            unsubscribe.append(self.service.subscribe_runs(
                lambda run: self.loop.add_callback(self._send, {"type": "run", "topic": "runs", "run": run})))
        self.unsubscribe = lambda: [fn() for fn in unsubscribe]
        seq, jobs, total = self.service.stream_snapshot()
        first = self.service.store.first_event_seq()
        if self.since is not None and self.since <= seq and (not first or self.since >= first - 1):
            self.sent = self.since
            while not self.closed and (batch := self.service.events_since(self.sent)):
                for event in batch:
                    self._deliver(event)
        else:  # no since, one from another store, or from before a purge: start over from a snapshot
            self.sent = seq
            if self.topics.jobs:  # active and recent jobs only: the rest is paged with GET jobs
                self._send({"type": "snapshot", "seq": seq, "jobs": [job_to_json(j) for j in jobs],
                            "total": total, "omitted": total - len(jobs)})
        if self.topics.gpus:
            self._send({"type": "gpus", **self.service.gpu_view()})
        for jid in list(self.tails):
            self._tail(jid)
        if (self.topics.jobs or self.tails) and not self.closed:  # someone watches: Slurm's poll tightens while the stream is open
            self._watch()
            self.eyes = PeriodicCallback(self._watch, WATCH_RENEW_MS)
            self.eyes.start()
        if self.tails and not self.closed:
            self.poll = PeriodicCallback(self._poll_logs, LOG_POLL_MS)
            self.poll.start()

    def on_message(self, message: str | bytes) -> None:
        """Only ``{"visible": <bool>}`` means something: a hidden page is not watching."""
        visible = client_visibility(message)
        if visible is None or visible == self.visible or self.closed:
            return
        self.visible = visible
        if visible and self.eyes:  # shown again: watch now, not at the next renewal
            self._watch()

    def on_close(self) -> None:
        self._stop()

    # -- from the scheduler thread ---------------------------------------------------------
    def _from_scheduler(self, event: dict[str, Any]) -> None:
        self.loop.add_callback(self._deliver, event)

    def _gpus_from_sampler(self, view: dict[str, Any]) -> None:
        self.loop.add_callback(self._send, {"type": "gpus", **view})

    # -- on the loop -----------------------------------------------------------------------
    def _deliver(self, event: dict[str, Any]) -> None:
        if self.closed or event["seq"] <= self.sent:
            return
        self.sent = event["seq"]
        if self.topics.jobs:
            self._send({"type": "event", **event})
        if event.get("job_id") in self.tails:
            self._tail(event["job_id"])


    def _watch(self) -> None:
        if not self.visible:  # hidden: let the lease lapse
            return
        self.service.watching(None if self.topics.jobs else list(self.tails), WATCH_RENEW_MS / 1000 * 2.5)

    def _poll_logs(self) -> None:
        for jid in list(self.tails):
            try:
                running = self.service.get(jid).state is JobState.RUNNING
            except JobflowError:
                running = False
            if running:
                self._tail(jid)

    def _tail(self, job_id: int) -> None:
        """Send what the job's log gained since the last read, finishing earlier attempts first."""
        tail = self.tails[job_id]
        try:
            latest = self.service.get(job_id).attempt
        except JobflowError:  # the job is gone (purged): nothing more to tail
            self.tails.pop(job_id, None)
            return
        for attempt in range(max(tail.attempt, 1), latest + 1):
            if attempt != tail.attempt:
                tail.attempt, tail.offset = attempt, 0
            while not self.closed:
                try:
                    text, nxt, _ = self.service.read_log(job_id, attempt=attempt, offset=tail.offset)
                except JobflowError:  # the attempt's log file is not there yet: the next look finds it
                    return
                if nxt <= tail.offset:
                    break
                tail.offset = nxt
                self._send({"type": "log", "job_id": job_id, "attempt": attempt, "offset": nxt, "text": text})

    def _send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            self.write_message(json.dumps(message))  # type: ignore[attr-defined]
        except WebSocketClosedError:  # closed without a close handshake: on_close may never come
            self._stop()

    def _stop(self) -> None:
        if getattr(self, "closed", True):
            return
        self.closed = True
        self.unsubscribe()
        if self.poll:
            self.poll.stop()
        if self.eyes:
            self.eyes.stop()

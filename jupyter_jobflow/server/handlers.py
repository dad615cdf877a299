"""The REST handlers of docs/api.md, and the route table both hosts mount.

Each verb is thin: parse (``parsing``), one ``JobService`` call, ``wire`` to JSON. The classes
here know nothing of authentication: ``make_handlers(prefix, auth)`` composes each with the host's
base classes (``jupyter_auth.JUPYTER`` or ``auth.TOKEN``) and wraps every verb in the host's
guard, so the Jupyter extension and the daemon serve the same bodies. Errors become JSON in one
place, ``JobflowHandler.write_error``.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from tornado import web
from tornado.ioloop import IOLoop

from .. import __version__
from ..errors import JobflowError, NotFound, Unavailable
from ..model import JobState
from ..wire import job_json_text, attempt_to_json, job_to_json
from . import parsing

if TYPE_CHECKING:
    from ..service import JobService

log = logging.getLogger(__name__)
VERBS = ("get", "post", "patch", "put", "delete")
MAX_LOG_READ = 16 << 20  # bytes per log request: the read buffer is allocated up front
MAX_MESSAGE = 1000  # an error message quotes the input: a 5,000-digit id is cut, not echoed whole
#: where REST bodies run: never on the host's event loop (Jupyter's: every notebook's UI), which
#: would wait whenever a body waits on the engine lock while the scheduler starts many jobs. Reads
#: have their own threads, so writers queued behind a long scheduler step never hold up a list.
_READS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jobflow-api-read")
_WRITES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jobflow-api-write")


@dataclass
class HostContext:
    """What every handler reaches through ``settings["jobflow"]``."""

    service: "JobService | None"
    host: str  # "jupyter" or "daemon"
    #: why there is no service (the state directory is scheduled by another host)
    unavailable: str | None = None


class JobflowHandler:
    """Mixin of every jobflow handler (REST and WebSocket): the service, JSON in and out, errors."""

    settings: dict[str, Any]
    request: Any

    @property
    def context(self) -> HostContext:
        return self.settings["jobflow"]

    @property
    def service(self) -> "JobService":
        ctx = self.context
        if ctx.service is None:
            raise Unavailable(ctx.unavailable or "The jobflow scheduler is not running")
        return ctx.service

    def body(self) -> dict[str, Any]:
        return parsing.json_body(self.request.body)

    def reply(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.reply_text(json.dumps(data), status, headers)

    def reply_text(self, text: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        """Keep the answer; ``_off_loop`` writes it on the loop (tornado objects are not thread-safe)."""
        self._answer = (status, {"Content-Type": "application/json", **(headers or {})}, text)

    def _write_answer(self) -> None:
        status, headers, text = self._answer
        self.set_status(status)
        for key, value in headers.items():
            self.set_header(key, value)
        self.finish(text)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """The one place an exception becomes ``{"message", "reason"}`` with its status."""
        error = kwargs["exc_info"][1] if "exc_info" in kwargs else None
        if isinstance(error, sqlite3.Error):  # the store refused the change (a full disk): it rolled back
            error = self._refused(error)
        if isinstance(error, JobflowError):
            # one short line whatever the input quoted in it held (a "\n", 5,000 digits)
            status_code, message, reason = error.status, _one_line(str(error)), type(error).__name__
        elif isinstance(error, web.HTTPError):
            message = error.log_message % error.args if error.log_message and error.args else error.log_message
            message, reason = message or http.client.responses.get(status_code, "Error"), error.reason
        else:
            message, reason = http.client.responses.get(status_code, "Error"), None
        self.set_status(status_code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": reason or http.client.responses.get(status_code)}))

    def _refused(self, error: sqlite3.Error) -> Unavailable:
        where = self.context.service.state_dir if self.context.service else "the state directory"
        return Unavailable(f"The jobflow database refused the change ({error}); nothing was stored: free disk "
                           f"space for {where}, then try again")

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        where = f"{self.request.method} {self.request.path}"  # the path only: a query may hold the token
        logger = getattr(self, "log", None) or log  # Jupyter's handlers log to the server's logger
        if isinstance(value, sqlite3.Error):
            logger.warning("%s: %s", where, self._refused(value))
        elif isinstance(value, JobflowError):  # a user's mistake, answered with a 4xx: no traceback
            logger.info("%s: %s %s", where, type(value).__name__, value)
        elif isinstance(value, web.HTTPError):
            logger.warning("%d %s: %s", value.status_code, where,
                           value.log_message or value.reason or http.client.responses.get(value.status_code, ""))
        else:
            logger.error("Uncaught exception in %s", where, exc_info=(typ, value, tb))

    # tornado's RequestHandler provides these; declared for readers and type checkers
    set_status: Callable[..., None]
    set_header: Callable[..., None]
    finish: Callable[..., Any]
    get_argument: Callable[..., Any]


def _one_line(text: str, most: int = MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[:most - 30] + " ... " + text[-25:]


# -- jobs -------------------------------------------------------------------------------------
class JobsHandler(JobflowHandler):
    def get(self) -> None:
        arg = self.get_argument
        jobs = self.service.list(states=parsing.query_list(arg("state", None)),
                                 ids=parsing.parse_ids(arg("ids")) if arg("ids", None) else None,
                                 name=arg("name", None), group=arg("group", None),
                                 all=parsing.query_bool("all", arg("all", None), True))
        offset = parsing.query_int("offset", arg("offset", None)) or 0
        limit = parsing.query_int("limit", arg("limit", None))
        page = jobs[offset: None if limit is None else offset + limit]
        # assembled from each job's cached text
        self.reply_text(f'{{"jobs": [{", ".join(job_json_text(j) for j in page)}], "total": {len(jobs)}}}')

    def post(self) -> None:
        body, notes, parsable = self.body(), [], False
        if isinstance(body, dict) and "argv" in body:  # gbatch's words, as typed
            body, notes, parsable = parsing.words_submission(body)
        sub = self.service.submit(**parsing.submit_args(body))
        reply = {"id": sub.id, "name": sub.name, "state": sub.state.value, "parsable": parsable,
                 "warnings": [f"gbatch: warning: {n}" for n in notes] + list(sub.warnings), "message": str(sub)}
        if sub.array_ids:
            reply["array_ids"] = list(sub.array_ids)
        self.reply(reply, 201, {"Location": f"jobs/{sub.id}"})


class JobHandler(JobflowHandler):
    def get(self, job_id: str) -> None:
        shown = self.service.show(parsing.path_id(job_id))
        self.reply({"job": job_to_json(shown["job"]), "attempts": [attempt_to_json(a) for a in shown["attempts"]],
                    "dependency": shown["dependency"], "dependents": shown["dependents"]})

    def patch(self, job_id: str) -> None:
        changes = parsing.fields(self.body(), parsing.UPDATE_FIELDS, "an update")
        job = self.service.update(parsing.path_id(job_id), **changes)
        self.reply({"job": job_to_json(job)})


class CancelHandler(JobflowHandler):
    def post(self) -> None:
        ids, dry_run, cascade = parsing.cancel_args(self.body())
        report = self.service.cancel(ids, dry_run=dry_run, cascade=cascade)
        self.reply({"targets": [job_to_json(j) for j in report.targets], "cancelled": report.cancelled,
                    "dependents": [{"id": f.job.id, "name": f.job.name, "condition": f.condition,
                                    "outcome": f.outcome} for f in report.dependents],
                    "warnings": report.warnings, "dry_run": report.dry_run, "text": report.render()})


class HoldHandler(JobflowHandler):
    def post(self, job_id: str) -> None:
        self.reply({"job": job_to_json(self.service.hold(parsing.path_id(job_id)))})


class ReleaseHandler(JobflowHandler):
    def post(self, job_id: str) -> None:
        self.reply({"job": job_to_json(self.service.release(parsing.path_id(job_id)))})


class RedoHandler(JobflowHandler):
    def post(self, job_id: str) -> None:
        job = self.service.redo(parsing.path_id(job_id), **parsing.fields(self.body(), parsing.REDO_FIELDS,
                                                                            "a redo"))
        self.reply({"job": job_to_json(job)})


class ExplainHandler(JobflowHandler):
    def get(self, job_id: str) -> None:
        self.reply({"lines": self.service.explain(parsing.path_id(job_id))})


class LogHandler(JobflowHandler):
    def get(self, job_id: str) -> None:
        arg = self.get_argument
        limit = parsing.query_int("limit", arg("limit", None), minimum=1, maximum=MAX_LOG_READ)
        text, offset, attempt = self.service.read_log(
            parsing.path_id(job_id), attempt=parsing.query_int("attempt", arg("attempt", None), minimum=1),
            offset=parsing.query_int("offset", arg("offset", None)) or 0, **({"limit": limit} if limit else {}))
        self.reply({"text": text, "offset": offset, "attempt": attempt,
                    "state": self.service.get(parsing.path_id(job_id)).state.value})


# -- machine ----------------------------------------------------------------------------------
class GpusHandler(JobflowHandler):
    def get(self) -> None:
        self.reply(self.service.gpu_view(history=parsing.query_history(self.get_argument("history", None))))


class StatusHandler(JobflowHandler):
    def get(self) -> None:
        counts = {s.value: 0 for s in JobState}
        for job in self.service.list():
            counts[job.state.value] += 1
        self.reply({"version": __version__, "pid": os.getpid(), "state_dir": str(self.service.state_dir),
                    "host": self.context.host, "counts": counts, **self.service.health()})


class PurgeHandler(JobflowHandler):
    def post(self) -> None:
        older_than, dry_run = parsing.purge_args(self.body())
        self.reply(self.service.purge(older_than, dry_run=dry_run).to_json())


class NoRouteHandler(JobflowHandler):
    """Any other path under the API prefix: a JSON 404 (after auth) rather than an HTML page."""

    def get(self, *args: Any) -> None:
        raise NotFound(f"No such route: {self.request.method} {self.request.path}")

    post = patch = put = delete = get


# -- the route table --------------------------------------------------------------------------
JOB = r"(?P<job_id>[0-9]+)"


def routes() -> list[tuple[str, type]]:
    """``(path under the API prefix, handler body)``; the WebSocket last. Order matters only for
    tornado's first match, and no two patterns overlap."""
    from .events import EventsHandler

    return [
        ("jobs", JobsHandler),
        ("jobs/cancel", CancelHandler),
        (f"jobs/{JOB}", JobHandler),
        (f"jobs/{JOB}/hold", HoldHandler),
        (f"jobs/{JOB}/release", ReleaseHandler),
        (f"jobs/{JOB}/redo", RedoHandler),
        (f"jobs/{JOB}/explain", ExplainHandler),
        (f"jobs/{JOB}/log", LogHandler),
        ("gpus", GpusHandler),
        ("status", StatusHandler),
        ("purge", PurgeHandler),
        ("events", EventsHandler),
    ]


def make_handlers(prefix: str, auth: Any) -> list[tuple[str, type]]:
    """The handler table of one host: every body composed with ``auth.Api`` (or ``auth.Socket``
    for the WebSocket) and every verb wrapped in that base's ``guard``.

    ``prefix`` is the path the API hangs under: ``jobflow/api`` in Jupyter (which adds its
    ``base_url``), ``/jobflow/api`` in the daemon.
    """
    from .events import EventsHandler

    table = []
    for path, body in routes():
        base = auth.Socket if issubclass(body, EventsHandler) else auth.Api
        table.append((_join(prefix, path), _compose(body, base)))
    table.append((_join(prefix, "(.*)"), _compose(NoRouteHandler, auth.Api)))
    return table


def _compose(body: type, base: Any) -> type:
    from .events import EventsHandler

    def wrap(v: str) -> Callable[..., Any]:
        verb = vars(body)[v]
        return verb if issubclass(body, EventsHandler) else _off_loop(verb, _READS if v == "get" else _WRITES)

    verbs = {v: base.guard(wrap(v)) for v in VERBS if v in vars(body)}
    return type(body.__name__, (body, base), {**verbs, "__module__": body.__module__})


def _off_loop(verb: Callable[..., None], pool: ThreadPoolExecutor) -> Callable[..., Any]:
    """Run a REST body in ``pool`` and write its answer back on the loop: the one place every
    route gets this. An exception comes back through the await to ``write_error``, on the loop."""
    @functools.wraps(verb)
    async def answered(self: Any, *args: Any, **kwargs: Any) -> None:
        self._answer = None
        await IOLoop.current().run_in_executor(pool, functools.partial(verb, self, *args, **kwargs))
        if self._answer is not None:
            self._write_answer()

    return answered


def _join(prefix: str, path: str) -> str:
    return prefix.rstrip("/") + "/" + path



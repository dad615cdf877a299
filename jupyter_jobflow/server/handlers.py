"""The REST handlers of docs/api.md, one class per route.

Each verb is thin: parse (``parsing``), one ``JobService`` call, ``wire`` to JSON. The classes
here know nothing of authentication or threads: ``routes.make_handlers`` composes each with the
host's base classes and runs its verbs off the host's event loop.
"""

from __future__ import annotations

import os
from typing import Any

from .. import __version__
from ..core.errors import NotFound
from ..core.model import JobState
from ..core.wire import job_json_text, job_to_json, shown_to_json
from . import parsing
from .base import JobflowHandler

MAX_LOG_READ = 16 << 20  # bytes per log request: the read buffer is allocated up front


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
        sub = self.service.submit_request(parsing.submit_request(body))
        reply = {"id": sub.id, "name": sub.name, "state": sub.state.value, "parsable": parsable,
                 "warnings": [f"gbatch: warning: {n}" for n in notes] + list(sub.warnings), "message": str(sub)}
        if sub.array_ids:
            reply["array_ids"] = list(sub.array_ids)
        self.reply(reply, 201, {"Location": f"jobs/{sub.id}"})


class JobHandler(JobflowHandler):
    def get(self, job_id: str) -> None:
        self.reply(shown_to_json(self.service.show(parsing.path_id(job_id))))

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

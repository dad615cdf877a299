"""The route table both hosts mount, and how a handler body becomes a host's handler.

``make_handlers(prefix, auth)`` composes each body with the host's base classes
(``jupyter_auth.JUPYTER`` or ``auth.TOKEN``) and wraps every verb in the host's guard, so the
Jupyter extension and the daemon serve the same bodies; REST verbs run off the host's loop."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from tornado.ioloop import IOLoop

from .events import EventsHandler
from .flow_handlers import (
    FlowHandler,
    FlowRunsHandler,
    FlowsHandler,
    RunCancelHandler,
    RunHandler,
    RunLogHandler,
    RunResumeHandler,
    RunsHandler,
    TaskInputsHandler,
    TaskRunHandler,
    TemplateHandler,
    TemplatesHandler,
)
from .handlers import (
    CancelHandler,
    ExplainHandler,
    GpusHandler,
    HoldHandler,
    JobHandler,
    JobsHandler,
    LogHandler,
    NoRouteHandler,
    PurgeHandler,
    RedoHandler,
    ReleaseHandler,
    StatusHandler,
)
from .schedule_handlers import BackfillHandler, MarkSuccessHandler, ScheduleHandler, SchedulesHandler

VERBS = ("get", "post", "patch", "put", "delete")
#: where REST bodies run: never on the host's event loop (Jupyter's: every notebook's UI), which
#: would wait whenever a body waits on the engine lock while the scheduler starts many jobs. Reads
#: have their own threads, so writers queued behind a long scheduler step never hold up a list.
_READS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jobflow-api-read")
_WRITES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jobflow-api-write")


# -- the route table --------------------------------------------------------------------------
JOB = r"(?P<job_id>[0-9]+)"
#: flow, template, task names and run ids as core/flowtask.py allows them (depspec.TASK_NAME)
NAME = r"(?P<name>[A-Za-z_][A-Za-z0-9_-]*)"
TASK = r"(?P<task>[A-Za-z_][A-Za-z0-9_-]*)"
RUN = r"(?P<run_id>[A-Za-z_][A-Za-z0-9_-]*)"


def routes() -> list[tuple[str, type]]:
    """``(path under the API prefix, handler body)``; the WebSocket last. Order matters only for
    tornado's first match, and no two patterns overlap."""
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
        ("flows", FlowsHandler),
        (f"flows/{NAME}", FlowHandler),
        (f"flows/{NAME}/runs", FlowRunsHandler),
        (f"flows/{NAME}/tasks/{TASK}/run", TaskRunHandler),
        (f"flows/{NAME}/tasks/{TASK}/inputs", TaskInputsHandler),
        ("templates", TemplatesHandler),
        (f"templates/{NAME}", TemplateHandler),
        ("runs", RunsHandler),
        (f"runs/{RUN}", RunHandler),
        (f"runs/{RUN}/cancel", RunCancelHandler),
        (f"runs/{RUN}/resume", RunResumeHandler),
        (f"runs/{RUN}/log", RunLogHandler),
        (f"flows/{NAME}/schedule", ScheduleHandler),
        (f"flows/{NAME}/backfill", BackfillHandler),
        ("schedules", SchedulesHandler),
        (f"runs/{RUN}/mark-success", MarkSuccessHandler),
        ("events", EventsHandler),
    ]


def make_handlers(prefix: str, auth: Any) -> list[tuple[str, type]]:
    """The handler table of one host: every body composed with ``auth.Api`` (or ``auth.Socket``
    for the WebSocket) and every verb wrapped in that base's ``guard``.

    ``prefix`` is the path the API hangs under: ``jobflow/api`` in Jupyter (which adds its
    ``base_url``), ``/jobflow/api`` in the daemon.
    """
    table = []
    for path, body in routes():
        base = auth.Socket if issubclass(body, EventsHandler) else auth.Api
        table.append((_join(prefix, path), _compose(body, base)))
    table.append((_join(prefix, "(.*)"), _compose(NoRouteHandler, auth.Api)))
    return table


def _compose(body: type, base: Any) -> type:
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



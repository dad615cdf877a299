"""The REST handlers of the flow routes (docs/api.md, Flows): thin, like handlers.py.

Bodies are checked here in one line each (a field of the wrong type, an unknown field); the flow
verbs (engine/flows.py, flowruns.py) do the rest. Names in paths are flow, task and run names,
checked by the routes' patterns.
"""

from __future__ import annotations

from typing import Any

from ..core import limits
from ..core.errors import InvalidSpec
from . import parsing
from .base import JobflowHandler

MAX_SOURCE = 16 << 20  # characters of a flow's or a template's source


def _body(handler: Any, allowed: dict[str, type | tuple[type, ...]], what: str) -> dict[str, Any]:
    body = handler.body()
    if not isinstance(body, dict):
        raise InvalidSpec(f"The body of {what} must be a JSON object")
    for key, value in body.items():
        if key not in allowed:
            raise InvalidSpec(f'Unknown field "{limits.shown(key)}" in {what}; expected one of: {", ".join(allowed)}')
        if value is not None and not isinstance(value, allowed[key]):
            kind = getattr(allowed[key], "__name__", "a value of the documented type")
            raise InvalidSpec(f'Field "{key}" of {what} must be {kind}')
    for key in ("source",):
        if isinstance(body.get(key), str) and len(body[key]) > MAX_SOURCE:
            raise InvalidSpec(f"The {key} of {what} is longer than {MAX_SOURCE} characters")
    return body


def _required(body: dict[str, Any], key: str, what: str) -> Any:
    if body.get(key) is None:
        raise InvalidSpec(f'{what} needs "{key}"')
    return body[key]


class FlowsHandler(JobflowHandler):
    def get(self) -> None:
        self.reply({"flows": self.service.flows()})

    def post(self) -> None:
        body = _body(self, {"name": str, "source": str, "format": str}, "POST flows")
        saved = self.service.save_flow(_required(body, "name", "POST flows"), _required(body, "source", "POST flows"),
                                       body.get("format") or "yaml")
        created = saved.pop("created")
        self.reply(saved, 201 if created else 200)


class FlowHandler(JobflowHandler):
    def get(self, name: str) -> None:
        self.reply(self.service.flow(name))


class TemplatesHandler(JobflowHandler):
    def get(self) -> None:
        self.reply({"templates": self.service.templates()})

    def post(self) -> None:
        body = _body(self, {"name": str, "source": str}, "POST templates")
        saved = self.service.add_template(_required(body, "name", "POST templates"),
                                          _required(body, "source", "POST templates"))
        created = saved.pop("created")
        self.reply(saved, 201 if created else 200)


class FlowRunsHandler(JobflowHandler):
    def post(self, name: str) -> None:
        body = _body(self, {"params": dict, "dry_run": bool, "cwd": str}, "POST flows/{name}/runs")
        reply = self.service.create_run(name, body.get("params") or {}, dry_run=bool(body.get("dry_run")),
                                        cwd=body.get("cwd"))
        self.reply(reply, 200 if "plan" in reply else 201)


class RunsHandler(JobflowHandler):
    def get(self) -> None:
        limit = parsing.query_int("limit", self.get_argument("limit", None), minimum=1)
        self.reply({"runs": self.service.runs(self.get_argument("flow", None), limit=limit)})


class RunHandler(JobflowHandler):
    def get(self, run_id: str) -> None:
        self.reply(self.service.run(run_id))


class RunCancelHandler(JobflowHandler):
    def post(self, run_id: str) -> None:
        self.reply(self.service.cancel_run(run_id))


class RunResumeHandler(JobflowHandler):
    def post(self, run_id: str) -> None:
        body = _body(self, {"from": str, "only": str, "as_new_run": bool}, "POST runs/{run_id}/resume")
        reply = self.service.resume_run(run_id, from_task=body.get("from"), only=body.get("only"),
                                        as_new_run=bool(body.get("as_new_run")))
        self.reply(reply, 201 if body.get("as_new_run") else 200)


class TaskRunHandler(JobflowHandler):
    def post(self, name: str, task: str) -> None:
        body = _body(self, {"run": str, "cwd": str}, "POST flows/{name}/tasks/{task}/run")
        self.reply(self.service.run_task(name, task, run=body.get("run"), cwd=body.get("cwd")), 201)


class RunLogHandler(JobflowHandler):
    def get(self, run_id: str) -> None:
        offset = parsing.query_int("offset", self.get_argument("offset", None)) or 0
        self.reply(self.service.run_log(run_id, task=self.get_argument("task", None), offset=offset))

"""The REST handlers of the schedule routes (docs/api.md, Schedules): thin, like flow_handlers.py.

Times are ISO 8601 strings (a wall time of the schedule's zone when they carry no offset) or
POSIX seconds; the schedule verbs (engine/schedules.py) check the rest, one line each.
"""

from __future__ import annotations

from ..core.errors import InvalidSpec
from .base import JobflowHandler
from .flow_handlers import _body, _required

_TIME = (str, int, float)
_FIELDS = {"cron": str, "tz": str, "start": _TIME, "end": _TIME, "catchup": bool, "depends_on_past": bool,
           "max_active_runs": int, "expired_limit": int, "enabled": bool, "cwd": str}


def _no_bools(body: dict, keys: tuple[str, ...], what: str) -> None:
    for key in keys:  # JSON true is not a number (Python's bool is an int)
        if isinstance(body.get(key), bool):
            raise InvalidSpec(f'Field "{key}" of {what} must be a number')


class ScheduleHandler(JobflowHandler):
    def get(self, name: str) -> None:
        self.reply(self.service.schedule(name))

    def put(self, name: str) -> None:
        what = "PUT flows/{name}/schedule"
        body = _body(self, _FIELDS, what)
        _no_bools(body, ("start", "end", "max_active_runs", "expired_limit"), what)
        self.reply(self.service.set_schedule(name, **body))


class SchedulesHandler(JobflowHandler):
    def get(self) -> None:
        self.reply({"schedules": self.service.schedules()})


class BackfillHandler(JobflowHandler):
    def post(self, name: str) -> None:
        what = "POST flows/{name}/backfill"
        body = _body(self, {"from": _TIME, "to": _TIME, "reprocess": str, "max_active_runs": int,
                            "run_backwards": bool, "dry_run": bool}, what)
        _no_bools(body, ("from", "to", "max_active_runs"), what)
        reply = self.service.backfill(name, _required(body, "from", what), _required(body, "to", what),
                                      reprocess=body.get("reprocess") or "none",
                                      max_active_runs=body.get("max_active_runs"),
                                      run_backwards=bool(body.get("run_backwards")), dry_run=bool(body.get("dry_run")))
        self.reply(reply, 200 if body.get("dry_run") or not reply["run_ids"] else 201)


class MarkSuccessHandler(JobflowHandler):
    def post(self, run_id: str) -> None:
        self.reply(self.service.mark_success(run_id))

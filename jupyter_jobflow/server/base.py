"""What every jobflow handler is (REST and WebSocket): the service it reaches, JSON in and out, and
the one place an exception becomes an error reply (``JobflowHandler.write_error``)."""

from __future__ import annotations

import http.client
import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from tornado import web

from ..core.errors import IllegalTransition, JobflowError, Unavailable
from . import parsing

if TYPE_CHECKING:
    from ..engine.service import JobService

log = logging.getLogger("jupyter_jobflow.server")
MAX_MESSAGE = 1000  # an error message quotes the input: a 5,000-digit id is cut, not echoed whole


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
        elif isinstance(value, IllegalTransition):  # a bug in jobflow: the client gets one line, the log all of it
            logger.error("%s: %s", where, value, exc_info=(typ, value, tb))
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

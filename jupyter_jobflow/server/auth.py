"""Who may call the API in the daemon: its token. ``Auth`` is the shape both hosts provide.

A host gives ``make_handlers`` two base classes, one for REST handlers (``Api``) and one for the
WebSocket (``Socket``); each has a ``guard(method)`` that wraps every verb. The daemon's guard
checks its token (``Authorization: token <t>`` or ``?token=<t>``); Jupyter's is in
``jupyter_auth.py``. Nothing here imports Jupyter: the daemon does not need it.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass
from typing import Any, Callable

from tornado import web, websocket


@dataclass(frozen=True)
class Auth:
    Api: type
    Socket: type


def check_token(handler: web.RequestHandler) -> None:
    """403 unless the request carries the daemon's token (compared in constant time)."""
    expected = handler.settings["jobflow_token"]
    scheme, _, value = handler.request.headers.get("Authorization", "").partition(" ")
    given = value.strip() if scheme.lower() in ("token", "bearer") else handler.get_query_argument("token", "")
    if not (expected and given and hmac.compare_digest(given.encode(), expected.encode())):
        raise web.HTTPError(403, "Invalid or missing token: send 'Authorization: token <t>' "
                                 "(the token is in endpoint.json)")


def token_guard(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def checked(self: web.RequestHandler, *args: Any, **kwargs: Any) -> Any:
        check_token(self)
        return method(self, *args, **kwargs)

    return checked


class TokenApi(web.RequestHandler):
    guard = staticmethod(token_guard)


class TokenSocket(websocket.WebSocketHandler):
    guard = staticmethod(token_guard)


TOKEN = Auth(TokenApi, TokenSocket)

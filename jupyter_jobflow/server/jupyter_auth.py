"""Who may call the API inside Jupyter: Jupyter's own authentication, or jobflow's own token.

Kernels and terminals get ``JOBFLOW_TOKEN``, a token of jobflow's own that opens the jobflow API
and nothing else of the Jupyter server (never the server's token: a job that leaked it would give
away every notebook and terminal). A request with ``Authorization: token <jobflow token>`` (or
``?token=`` on the WebSocket, which a browser cannot give headers) is let in before Jupyter's
identity provider looks at it, needs no ``_xsrf`` (like any token request) and skips the
authorizer: the token is the grant. Any other request goes through Jupyter as before.

REST verbs get ``@web.authenticated`` then ``@authorized`` (the order jupyter_server checks for);
the WebSocket gets ``@ws_authenticated`` and an authorizer check before the upgrade, as
jupyter_server's own event socket does. The resource is ``jobflow`` for custom authorizers.
"""

from __future__ import annotations

import functools
import hmac
from typing import Any, Callable

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.auth.identity import User
from jupyter_server.base.call_context import CallContext
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web, websocket

from .auth import Auth

AUTH_RESOURCE = "jobflow"
#: The user of a request made with the jobflow token (a kernel's or a terminal's client).
TOKEN_USER = User(username="jobflow-token", name="jobflow token", display_name="jobflow token")


def jobflow_token_given(handler: web.RequestHandler) -> bool:
    """The request carries this server's jobflow token (compared in constant time)."""
    expected = handler.settings.get("jobflow_token") or ""
    scheme, _, value = handler.request.headers.get("Authorization", "").partition(" ")
    given = value.strip() if scheme.lower() in ("token", "bearer") else ""
    if not given and isinstance(handler, websocket.WebSocketHandler):
        given = handler.get_query_argument("token", "")
    return bool(expected and given) and hmac.compare_digest(given.encode(), expected.encode())


class _JobflowToken:
    """Mixin before Jupyter's handler: a jobflow-token request is authenticated here."""

    _jobflow_token_ok = False

    async def prepare(self, *args: Any, **kwargs: Any) -> Any:
        if not jobflow_token_given(self):  # type: ignore[arg-type]
            return await ensure_async(super().prepare(*args, **kwargs))  # type: ignore[misc]
        CallContext.set(CallContext.JUPYTER_HANDLER, self)
        if not self.check_host():  # type: ignore[attr-defined]
            raise web.HTTPError(403)
        self._jobflow_token_ok = True
        self.current_user = self._jupyter_current_user = TOKEN_USER  # type: ignore[attr-defined]
        self._token_authenticated = True  # Jupyter's meaning: no _xsrf or origin check
        self.set_cors_headers()  # type: ignore[attr-defined]
        return None

    def skip_check_origin(self) -> bool:
        return self._jobflow_token_ok or super().skip_check_origin()  # type: ignore[misc]


class JupyterApi(_JobflowToken, APIHandler):
    auth_resource = AUTH_RESOURCE

    @staticmethod
    def guard(method: Callable[..., Any]) -> Callable[..., Any]:
        checked = authorized(method)

        @functools.wraps(method)
        def call(self: "JupyterApi", *args: Any, **kwargs: Any) -> Any:
            return (method if self._jobflow_token_ok else checked)(self, *args, **kwargs)

        return web.authenticated(call)  # outermost, where jupyter_server checks for it


class JupyterSocket(_JobflowToken, WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):  # type: ignore[misc]
    auth_resource = AUTH_RESOURCE

    @staticmethod
    def guard(method: Callable[..., Any]) -> Callable[..., Any]:
        @ws_authenticated
        @functools.wraps(method)
        async def checked(self: "JupyterSocket", *args: Any, **kwargs: Any) -> Any:
            if not self._jobflow_token_ok and not await ensure_async(
                    self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)):
                raise web.HTTPError(403, f"User is not authorized to read on resource: {AUTH_RESOURCE}.")
            return await method(self, *args, **kwargs)

        return checked


JUPYTER = Auth(JupyterApi, JupyterSocket)

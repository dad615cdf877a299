"""Who may call the API inside Jupyter: Jupyter's own authentication and authorization.

REST verbs get ``@web.authenticated`` then ``@authorized`` (the order jupyter_server checks for);
the WebSocket gets ``@ws_authenticated`` and an authorizer check before the upgrade, as
jupyter_server's own event socket does. The resource is ``jobflow`` for custom authorizers.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web, websocket

from .auth import Auth

AUTH_RESOURCE = "jobflow"


class JupyterApi(APIHandler):
    auth_resource = AUTH_RESOURCE

    @staticmethod
    def guard(method: Callable[..., Any]) -> Callable[..., Any]:
        return web.authenticated(authorized(method))


class JupyterSocket(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):  # type: ignore[misc]
    auth_resource = AUTH_RESOURCE

    @staticmethod
    def guard(method: Callable[..., Any]) -> Callable[..., Any]:
        @ws_authenticated
        @functools.wraps(method)
        async def checked(self: JupyterHandler, *args: Any, **kwargs: Any) -> Any:
            if not await ensure_async(self.authorizer.is_authorized(self, self.current_user, "read", AUTH_RESOURCE)):
                raise web.HTTPError(403, f"User is not authorized to read on resource: {AUTH_RESOURCE}.")
            return await method(self, *args, **kwargs)

        return checked


JUPYTER = Auth(JupyterApi, JupyterSocket)

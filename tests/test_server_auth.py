"""Every route of the handler table refuses a request without a token or with a wrong one, in both
hosts, the WebSocket included; and the same request with the right token is not refused (so the
refusal is the auth, not a missing job)."""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_jobflow.server.auth import TOKEN
from jupyter_jobflow.server.events import EventsHandler
from jupyter_jobflow.server.jupyter_auth import JUPYTER
from jupyter_jobflow.server.routes import VERBS, make_handlers

pytest_plugins = ["pytest_jupyter.jupyter_server"]


def every_request(prefix: str, auth) -> list[tuple[str, str, bool]]:
    """``(path, METHOD, is_websocket)`` for every verb of every route in the host's table."""
    out = []
    for pattern, cls in make_handlers(prefix, auth):
        path = re.sub(r"\(\?P<job_id>[^)]*\)", "1", pattern).replace("(.*)", "no/such/route")
        path = re.sub(r"\(\?P<\w+>[^)]*\)", "x1", path)  # a flow, task or run name
        for verb in VERBS:
            if verb in vars(cls):
                out.append((path, verb.upper(), issubclass(cls, EventsHandler)))
    return out


def test_the_tables_cover_every_route_and_verb():
    jupyter, daemon = every_request("", JUPYTER), every_request("", TOKEN)
    assert jupyter == daemon
    # 14 job route verbs, 14 of flows, 5 of schedules, 5 of the catch-all
    assert len(jupyter) == 14 + 14 + 5 + 5 and sum(ws for *_, ws in jupyter) == 1


def refused(status: int, body: bytes) -> bool:
    return status in (401, 403) and set(json.loads(body)) <= {"message", "reason"}


# -- Jupyter -----------------------------------------------------------------------------------
@pytest.fixture
def jp_server_config(jobflow_server_config, request):
    if request.node.get_closest_marker("deny_jobflow"):
        jobflow_server_config["ServerApp"]["authorizer_class"] = DenyJobflow.make()
    return jobflow_server_config


async def jupyter_status(port: int, path: str, method: str, ws: bool, headers: dict, query: str = "") -> tuple:
    url = f"127.0.0.1:{port}{path}" + (f"?{query}" if query else "")
    if ws:
        try:
            conn = await websocket_connect(HTTPRequest(f"ws://{url}", headers=headers))
        except HTTPClientError as e:
            return e.code, e.response.body if e.response else b"{}"
        conn.close()
        return 101, b""
    body = "{}" if method in ("POST", "PATCH", "PUT") else None
    r = await AsyncHTTPClient().fetch(f"http://{url}", method=method, headers=headers, body=body,
                                      raise_error=False, allow_nonstandard_methods=True)
    return r.code, r.body


@pytest.mark.parametrize("path, method, ws", every_request("/a%40b/jobflow/api", JUPYTER))
async def test_jupyter_refuses_without_the_token(jp_serverapp, http_server, jp_http_port, path, method, ws):
    token = jp_serverapp.identity_provider.token
    status, _ = await jupyter_status(jp_http_port, path, method, ws, {"Authorization": f"token {token}"})
    assert status not in (401, 403), "the right token must pass"
    for headers, query in (({}, ""), ({"Authorization": "token wrong"}, ""), ({}, "token=wrong")):
        status, body = await jupyter_status(jp_http_port, path, method, ws, headers, query)
        assert refused(status, body), (headers, query, status, body)


def jobflow_token(jp_serverapp) -> str:
    return jp_serverapp.extension_manager.extension_apps["jupyter_jobflow"].copy().pop().jobflow_token


@pytest.mark.parametrize("path, method, ws", every_request("/a%40b/jobflow/api", JUPYTER))
async def test_jobflow_token_opens_every_jobflow_route(jp_serverapp, http_server, jp_http_port, path, method, ws):
    """The token kernels get (JOBFLOW_TOKEN): a header on REST, ?token= on the WebSocket (a
    browser cannot set its headers); no _xsrf needed, as for any token request."""
    token = jobflow_token(jp_serverapp)
    headers, query = ({}, f"token={token}") if ws else ({"Authorization": f"token {token}"}, "")
    status, body = await jupyter_status(jp_http_port, path, method, ws, headers, query)
    assert status not in (401, 403), (status, body)


@pytest.mark.parametrize("path, method", [("/a%40b/api/contents", "GET"), ("/a%40b/api/kernels", "GET"),
                                          ("/a%40b/api/kernels", "POST"), ("/a%40b/api/sessions", "GET"),
                                          ("/a%40b/api/terminals", "POST"), ("/a%40b/api/status", "GET"),
                                          ("/a%40b/api/me", "GET")])
async def test_jobflow_token_opens_nothing_else_of_jupyter(jp_serverapp, http_server, jp_http_port, path, method):
    token = jobflow_token(jp_serverapp)
    for headers, query in (({"Authorization": f"token {token}"}, ""), ({}, f"token={token}")):
        status, _ = await jupyter_status(jp_http_port, path, method, False, headers, query)
        assert status in (401, 403), (path, method, headers, query, status)


class DenyJobflow:
    """An authorizer that lets the user in everywhere except the jobflow resource."""

    @classmethod
    def make(cls):
        from jupyter_server.auth.authorizer import Authorizer

        class Deny(Authorizer):
            def is_authorized(self, handler, user, action, resource):
                return resource != "jobflow"

        return Deny


@pytest.mark.deny_jobflow
@pytest.mark.parametrize("path, method, ws", every_request("/a%40b/jobflow/api", JUPYTER))
async def test_jupyter_authorizer_is_asked_for_the_jobflow_resource(jp_serverapp, http_server, jp_http_port,
                                                                     path, method, ws):
    token = jp_serverapp.identity_provider.token
    status, body = await jupyter_status(jp_http_port, path, method, ws, {"Authorization": f"token {token}"})
    assert refused(status, body), (status, body)
    status, _ = await jupyter_status(jp_http_port, "/a%40b/api/status", "GET", False,
                                     {"Authorization": f"token {token}"})
    assert status == 200  # the user is known and let in elsewhere: only jobflow is denied


# -- the daemon --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def one_daemon(tmp_path_factory):
    """One daemon for the whole table: with the right token, these requests change nothing (empty
    bodies, job 1 does not exist)."""
    from server_support import Daemon

    d = Daemon(tmp_path_factory.mktemp("auth") / "state")
    yield d
    d.stop()


@pytest.mark.parametrize("path, method, ws", every_request("/jobflow/api", TOKEN))
def test_daemon_refuses_without_the_token(one_daemon, path, method, ws):
    daemon = one_daemon
    base = daemon.url.rstrip("/")
    assert daemon_status(base + path, method, ws, {"Authorization": f"token {daemon.token}"})[0] not in (401, 403)
    assert daemon_status(f"{base}{path}?token={daemon.token}", method, ws, {})[0] not in (401, 403)
    for headers, query in (({}, ""), ({"Authorization": "token wrong"}, ""), ({}, "?token=wrong"),
                           ({"Authorization": f"basic {daemon.token}"}, ""), ({"Authorization": "token "}, "")):
        status, body = daemon_status(base + path + query, method, ws, headers)
        assert refused(status, body), (headers, query, status, body)


def daemon_status(url: str, method: str, ws: bool, headers: dict) -> tuple[int, bytes]:
    if ws:
        from websocket import WebSocketBadStatusException, create_connection

        try:
            create_connection(url.replace("http://", "ws://"), header=[f"{k}: {v}" for k, v in headers.items()],
                              timeout=10).close()
        except WebSocketBadStatusException as e:
            return e.status_code, e.resp_body or b"{}"
        return 101, b""
    import urllib.error
    import urllib.request

    data = b"{}" if method in ("POST", "PATCH", "PUT") else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_the_token_is_not_logged(daemon):
    """The daemon logs paths only: a ``?token=`` in a URL must not end up in its log."""
    daemon_status(f"{daemon.url}jobflow/api/status?{urllib.parse.urlencode({'token': daemon.token})}", "GET",
                  False, {})
    daemon_status(f"{daemon.url}jobflow/api/nothing?token=wrong-{daemon.token}", "GET", False, {})
    daemon.stop()
    assert "/jobflow/api/nothing" in daemon.output() and daemon.token not in daemon.output()

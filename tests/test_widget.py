"""``jupyter_jobflow.Panel`` without a browser: its traits, what a saved notebook shows, and
the kernel side of the fallback transport (REST calls relayed for the browser)."""

from __future__ import annotations

import pytest

pytest.importorskip("anywidget")

from jupyter_jobflow.core.errors import NotFound  # noqa: E402
from jupyter_jobflow.notebook.snapshot import snapshot_html  # noqa: E402
from jupyter_jobflow.notebook.widget import Panel  # noqa: E402

JOBS = [
    {"id": 1, "name": "prep", "state": "Finished", "code": "CD", "reason": None, "dependency": None},
    {"id": 2, "name": "<train>", "state": "Failed", "code": "F", "reason": "ExitCode:3", "dependency": "afterok:1"},
]


class FakeClient:
    url = "http://127.0.0.1:8888/base/jobflow/api/"
    token = "secret"

    def __init__(self, fail: Exception | None = None):
        self.calls: list[tuple] = []
        self.fail = fail

    def request(self, method, path, body=None, query=None):
        self.calls.append((method, path, body))
        if self.fail:
            raise self.fail
        return {"ok": True, "path": path}

    def jobs(self, **query):
        return {"jobs": JOBS, "total": len(JOBS)}


class Handle:
    def __init__(self):
        self.updates: list[dict] = []

    def update(self, data, **kwargs):
        self.updates.append(data)


@pytest.fixture
def sent(monkeypatch):
    out: list[dict] = []
    monkeypatch.setattr(Panel, "send", lambda self, content, buffers=None: out.append(content))
    return out


def test_endpoint_from_the_client_and_ids_from_handles():
    class Handle_:
        id = 7

    p = Panel(job_ids=[Handle_(), 3], compact=True, client=FakeClient())
    assert p.job_ids == [7, 3]
    assert p.compact is True
    assert p.server_url == "http://127.0.0.1:8888/base/"
    assert p.token == "secret"
    assert len(p.snapshot_id) == 32
    p.close()


def test_no_service_leaves_the_endpoint_empty(monkeypatch, tmp_path):
    monkeypatch.delenv("JOBFLOW_URL", raising=False)
    monkeypatch.setenv("JOBFLOW_HOME", str(tmp_path))
    p = Panel()
    assert (p.server_url, p.token) == ("", "")
    data, _ = p._repr_mimebundle_()
    assert "no snapshot was taken" in data["text/html"]
    p.close()


def test_mimebundle_has_the_widget_and_a_static_snapshot():
    p = Panel(client=FakeClient())
    data, _ = p._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == "jobflow panel: all jobs (1 Failed, 1 Finished)"
    html = data["text/html"]
    assert f"jobflow-snapshot-{p.snapshot_id}" in html
    assert "&lt;train&gt;" in html and "<train>" not in html
    assert "ExitCode:3" in html and "afterok:1" in html
    p.close()


def test_snapshot_is_rewritten_with_what_the_browser_saw(sent):
    p = Panel(client=FakeClient())
    p._jobs = list(JOBS)
    handle = Handle()
    p._handles.append(handle)
    p._written = None
    p._on_custom(p, {"type": "jobs", "jobs": [dict(JOBS[0], state="Running", code="R")]}, [])
    assert len(handle.updates) == 1 and "Running" in handle.updates[0]["text/html"]
    p._on_custom(p, {"type": "jobs", "jobs": [dict(JOBS[0], state="Running", code="R")]}, [])
    assert len(handle.updates) == 1  # unchanged: not written again
    p._on_custom(p, {"type": "connected", "transport": "direct"}, [])
    assert p.connected_via == "direct"
    p.close()


def _reply(panel, sent, content):
    panel._request(content)  # what the thread pool runs
    return sent[-1]


def test_kernel_transport_relays_rest_calls(sent):
    client = FakeClient()
    p = Panel(client=client)
    reply = _reply(p, sent, {"type": "request", "rid": 4, "method": "POST", "path": "jobs/3/hold", "body": {}})
    assert reply == {"type": "reply", "rid": 4, "status": 200, "body": {"ok": True, "path": "jobs/3/hold"}}
    assert client.calls == [("POST", "jobs/3/hold", {})]
    p.close()


def test_kernel_transport_passes_errors_with_their_status(sent):
    p = Panel(client=FakeClient(fail=NotFound("Job 99 not found")))
    reply = _reply(p, sent, {"type": "request", "rid": 1, "method": "GET", "path": "jobs/99"})
    assert reply["status"] == 404
    assert reply["body"] == {"message": "Job 99 not found", "reason": "NotFound"}
    p.close()


@pytest.mark.parametrize("method,path", [("GET", "../../api/contents"), ("GET", "/etc/passwd"),
                                         ("DELETE", "jobs/1"), ("GET", "http://elsewhere/x")])
def test_kernel_transport_refuses_what_is_not_an_api_call(sent, method, path):
    client = FakeClient()
    p = Panel(client=client)
    reply = _reply(p, sent, {"type": "request", "rid": 2, "method": method, "path": path})
    assert reply["status"] == 400 and client.calls == []
    p.close()


def test_snapshot_html_without_jobs_and_compact():
    assert "no snapshot was taken" in snapshot_html(None, ids=[3])
    html = snapshot_html(JOBS, compact=True)
    assert "Depends on" not in html and "prep" in html


def test_the_bundle_is_where_the_widget_loads_it():
    from jupyter_jobflow.notebook import widget

    bundle = widget._STATIC / "widget.js"
    if not bundle.exists():
        pytest.skip("the front end is not built (SKIP_JUPYTER_BUILDER=1?)")
    text = bundle.read_text()
    assert "render" in text and "jobflow/api/" in text


@pytest.fixture
def daemon_app(tmp_path, monkeypatch):
    """The daemon's tornado application on a loop of its own, over a real service whose
    ``watching`` calls (what an event stream renews: None = all jobs) are recorded."""
    import asyncio
    import threading

    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    from jupyter_jobflow.engine.service import JobService
    from jupyter_jobflow.server import events as stream_module
    from jupyter_jobflow.server.base import HostContext
    from jupyter_jobflow.server.daemon import make_app

    monkeypatch.setattr(stream_module, "WATCH_RENEW_MS", 20)
    service = JobService(tmp_path / "state", simulated_gpus=0).start()
    watches: list = []
    real = service.watching
    service.watching = lambda job_ids=None, seconds=5.0: (watches.append(job_ids), real(job_ids, seconds))
    sockets = bind_sockets(0, "127.0.0.1")
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        HTTPServer(make_app(HostContext(service, "daemon"), "tok")).add_sockets(sockets)
        loop.call_soon(ready.set)
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    yield f"http://127.0.0.1:{sockets[0].getsockname()[1]}/", watches
    loop.call_soon_threadsafe(loop.stop)
    service.close()


def test_a_panel_relayed_by_its_kernel_tells_the_stream_when_its_page_is_hidden(daemon_app, sent):
    """The kernel transport (where the browser cannot reach the server): the page's
    ``{type: "visible"}`` reaches the kernel's Panel, which says it on the stream it relays, so a
    hidden page stops renewing its watch (Slurm's poll backs off) and a shown one renews again."""
    import time

    from helpers import until

    from jupyter_jobflow.client.http import Client

    url, watches = daemon_app
    panel = Panel(client=Client(url, "tok"))

    def settled() -> int:
        """The renewals once they stop growing (the relay passes a message on within a second)."""
        for _ in range(50):
            before = watches.count(None)
            time.sleep(0.2)  # ten renewal periods
            if watches.count(None) == before:
                return before
        raise AssertionError("the relayed stream never stopped renewing its watch")

    try:
        panel._on_custom(panel, {"type": "subscribe", "sid": 1, "topics": ["jobs"], "since": None}, [])
        until("the relayed stream", lambda: {"type": "stream-open", "sid": 1} in sent, 15)
        until("renewals while the page is seen", lambda: watches.count(None) >= 3, 15)
        panel._on_custom(panel, {"type": "visible", "sid": 1, "visible": "no"}, [])  # not a bool: ignored
        panel._on_custom(panel, {"type": "visible", "sid": 9, "visible": False}, [])  # no such stream
        panel._on_custom(panel, {"type": "visible", "sid": 1, "visible": False}, [])
        hidden = settled()
        panel._on_custom(panel, {"type": "visible", "sid": 1, "visible": True}, [])
        until("renewals once shown again", lambda: watches.count(None) > hidden + 3, 15)
        assert not any(m.get("type") == "stream-closed" for m in sent)
        assert panel._hidden == set()
    finally:
        panel.close()

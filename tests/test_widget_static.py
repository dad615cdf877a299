"""Where a notebook's panel gets its code: ``<base>jobflow/static/widget.js`` from the Jupyter server
and from the daemon (public, cross-origin, only the kernel's version), else from the kernel itself;
a panel saves only the small loader."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from jupyter_jobflow.server.static import STATIC, bundle_hash, static_handlers

pytest_plugins = ["pytest_jupyter.jupyter_server"]
pytestmark = pytest.mark.skipif(not (STATIC / "widget.js").exists() or not (STATIC / "loader.js").exists(),
                                reason="the front end is not built (SKIP_JUPYTER_BUILDER=1?)")


@pytest.fixture
def jp_server_config(jobflow_server_config):
    return jobflow_server_config


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=15) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture
def fetch(jp_serverapp, http_server_client, jp_base_url):
    """GET without the server's token (jp_fetch sends it): as a page's import() with no cookie."""
    async def get(path: str) -> tuple[int, dict[str, str], bytes]:
        r = await http_server_client.fetch(jp_base_url + path, raise_error=False)
        return r.code, dict(r.headers), r.body

    return get


async def test_the_jupyter_server_serves_the_bundle_without_login(fetch):
    status, headers, body = await fetch(f"jobflow/static/widget.js?v={bundle_hash()}")
    assert status == 200
    assert body == (STATIC / "widget.js").read_bytes()
    assert "javascript" in headers["Content-Type"]
    assert headers["Access-Control-Allow-Origin"] == "*"


async def test_another_version_is_not_served(fetch):
    assert (await fetch("jobflow/static/widget.js?v=0123456789abcdef"))[0] == 404
    assert (await fetch("jobflow/static/nothing-here.js"))[0] == 404


def test_the_route_states_its_authentication(jp_serverapp):
    from jupyter_server.auth.decorator import allow_unauthenticated

    table = static_handlers("jobflow", allow_unauthenticated)
    assert [m for pattern, cls, *_ in table for m in jp_serverapp.web_app._check_handler_auth(pattern, cls)] == []


def test_the_daemon_serves_it_too(daemon):
    status, headers, body = _get(f"{daemon.url}jobflow/static/widget.js?v={bundle_hash()}")
    assert status == 200 and body == (STATIC / "widget.js").read_bytes()
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert _get(f"{daemon.url}jobflow/static/widget.js?v=feedfeedfeedfeed")[0] == 404


def test_a_panel_saves_only_the_loader_and_the_kernel_sends_the_bundle():
    from jupyter_jobflow.notebook.widget import Panel

    sent: list = []

    class Recorder(Panel):
        def send(self, content, buffers=None):
            sent.append((content, buffers))

    p = Recorder(client=None, job_ids=[1])
    state = p.get_state()
    assert len(state["_esm"]) < 4096 and "jobflow/static/widget.js" in state["_esm"]
    assert state["bundle_hash"] == bundle_hash() and len(bundle_hash()) == 16
    p._on_custom(p, {"type": "bundle", "hash": p.bundle_hash}, [])
    content, buffers = sent[-1]
    assert content == {"type": "bundle", "hash": p.bundle_hash}
    assert bytes(buffers[0]) == (STATIC / "widget.js").read_bytes()
    p.close()

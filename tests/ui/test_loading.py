"""How the live panel gets its code in a real browser: a saved panel holds only a small loader,
which imports the bundle from the Jupyter server (``{base}jobflow/static/widget.js``), or, where the
server does not serve it (VS Code, a server without the extension), from the kernel.

Run: ``pytest tests/ui/test_loading.py -v``."""

from __future__ import annotations

from harness import lab_command, notebook, wait_kernel_idle
from playwright.sync_api import expect

LAB_FILES = {"loading.ipynb": notebook([
    "%load_ext jupyter_jobflow",
    "%%gbatch --name quick\nprint('quick done')",
])}
BASE_URL = "/user/bo/"  # every URL the loader makes must carry the base URL

COMPACT = ".jp-OutputArea-output .jobflow-compact"


def _run_and_expect_live(lab, page) -> None:
    page.goto(lab.url("lab/tree/loading.ipynb?reset"))
    wait_kernel_idle(page)
    lab_command(page, "notebook:run-all-cells", wait=False)
    compact = page.locator(COMPACT).first
    expect(compact).to_contain_text("quick", timeout=30_000)
    expect(compact.locator(".jf-compact-line").first).to_have_attribute("data-code", "CD", timeout=30_000)
    # the live view hides the static snapshot under it
    expect(page.locator(".jobflow-snapshot").first).to_be_hidden()


def test_the_bundle_comes_from_the_jupyter_server(lab, page, artifacts):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    _run_and_expect_live(lab, page)
    assert page.evaluate("globalThis.__jobflowLoadedFrom") == "server"
    loaded = [u for u in requests if "/jobflow/static/widget.js?v=" in u]
    assert loaded and all(u.startswith(lab.base + "jobflow/static/") for u in loaded), requests
    page.screenshot(path=str(artifacts / "loading-from-server.png"))


def test_without_the_servers_route_the_kernel_sends_it(lab, page, artifacts):
    page.route("**/jobflow/static/**", lambda route: route.fulfill(status=404, body="not here"))
    try:
        _run_and_expect_live(lab, page)
        assert page.evaluate("globalThis.__jobflowLoadedFrom") == "kernel"
        page.screenshot(path=str(artifacts / "loading-from-kernel.png"))
    finally:
        page.unroute("**/jobflow/static/**")
    assert not [p for p in page.problems if "pageerror" in p], page.problems  # type: ignore[attr-defined]

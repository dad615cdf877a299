"""Fixtures of the browser tests: one JupyterLab (jobflow, 2 simulated GPUs, a fixed token) and one
headless Chromium page for the whole module; screenshots in tests/ui/artifacts/ (or $UI_ARTIFACTS)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness import labextension_dir, launch_browser, missing_prerequisite, start_lab, stop_lab

ARTIFACTS = Path(os.environ.get("UI_ARTIFACTS", Path(__file__).parent / "artifacts"))


def pytest_configure(config):
    config.addinivalue_line("markers", "ui: a browser test (Playwright + /usr/bin/chromium + JupyterLab)")


def pytest_collection_modifyitems(config, items):
    why = missing_prerequisite()
    if why is None and labextension_dir() is None:
        why = ("the jupyter-jobflow labextension is not installed: build the front end "
               "(pip install -e . without SKIP_JUPYTER_BUILDER, or cd labextension && jlpm build:prod)")
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.ui)
            if why:
                item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    files = getattr(request.module, "LAB_FILES", {})
    # a base URL as behind JupyterHub: every URL the panel makes must carry it
    server = start_lab(tmp_path_factory.mktemp("lab"), files, base_url=getattr(request.module, "BASE_URL", "/"))
    yield server
    stop_lab(server)


@pytest.fixture(scope="module")
def page(lab, artifacts, request):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_browser(p)
        context = browser.new_context(viewport={"width": 1440, "height": 960})
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        problems: list[str] = []
        pg.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        pg.on("console", lambda m: m.type == "error" and "jobflow" in m.text.lower() and problems.append(m.text))
        pg.problems = problems  # type: ignore[attr-defined]
        yield pg
        if request.session.testsfailed:
            try:
                pg.screenshot(path=str(artifacts / "FAILED.png"))
            except Exception:
                pass
            print("\n--- jupyter lab log ---\n" + lab.log_tail(60))
        if problems:
            print("\n--- browser errors ---\n" + "\n".join(problems[:30]))
        context.close()
        browser.close()

"""Regenerates the README's screenshot (docs/img/panel.png): a real JupyterLab with jobflow and 2
simulated GPUs runs the first tutorial (notebooks/01-quickstart.ipynb) up to the fix of its failed
job, and the jobflow sidebar is shown beside it, as the tests in tests/ui/ drive it (Playwright + Debian's /usr/bin/chromium).

    PYTHONPATH=$PWD .venv/bin/python docs/screenshots.py [--out docs/img/panel.png]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "ui"))

from harness import (  # noqa: E402
    lab_command,
    launch_browser,
    missing_prerequisite,
    start_lab,
    stop_lab,
    wait_kernel_idle,
    widen_sidebar,
)

TUTORIAL = ROOT / "notebooks" / "01-quickstart.ipynb"
SIDEBAR = "#jupyter-jobflow-sidebar"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "panel.png")
    args = parser.parse_args()
    why = missing_prerequisite()
    if why:
        print(f"screenshots: {why}", file=sys.stderr)
        return 1
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory(prefix="jobflow-shots-") as tmp:
        lab = start_lab(Path(tmp), {TUTORIAL.name: TUTORIAL})
        try:
            with sync_playwright() as p:
                browser = launch_browser(p)
                page = browser.new_page(viewport={"width": 1280, "height": 760})
                page.set_default_timeout(60_000)
                page.goto(lab.url(f"lab/tree/{TUTORIAL.name}?reset"))
                wait_kernel_idle(page)
                page.locator(f".jp-SideBar .lm-TabBar-tab[data-id='{SIDEBAR[1:]}']").click()
                # the tutorial up to its fix: the pipelines done, `flaky` failed and its dependent cancelled
                cells = json.loads(TUTORIAL.read_text())["cells"]
                fix = next(i for i, c in enumerate(cells) if 'open("fixed.flag", "w")' in "".join(c["source"]))
                page.evaluate(f"() => {{ window.jupyterapp.shell.currentWidget.content.activeCellIndex = {fix}; }}")
                lab_command(page, "notebook:run-all-above")  # resolves when the last cell has run
                side = page.locator(SIDEBAR)
                expect(side.locator("g.jf-node[data-code='CA']")).to_have_count(1)
                widen_sidebar(page, 180)
                # the notebook scrolled to its pipeline: the cells that submitted the graph shown
                page.locator(".jp-Cell").nth(2).scroll_into_view_if_needed()
                page.wait_for_timeout(1500)  # the graph's layout settles
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))
                browser.close()
        finally:
            stop_lab(lab)
    print(f"screenshots: wrote {args.out} ({args.out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

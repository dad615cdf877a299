"""The sidebar and the panel as a person sees them: arrowheads that survive another graph being
hidden, the sidebar at its default 250 px (name, state and actions, no horizontal scrolling), the
reasons in words, the GPU a finished job used, and a JupyterLab notification when a job of the
notebook fails, whose button opens the log. Screenshots at 250 px, 400 px and full width, light and
dark, in tests/ui/artifacts/ (sidebar-*.png).
"""

from __future__ import annotations

from harness import lab_command, notebook, wait_kernel_idle, widen_sidebar
from playwright.sync_api import expect

PIPELINE = notebook([
    "%load_ext jupyter_jobflow\nfrom jupyter_jobflow import Panel\nPanel()",
    "%%gbatch --name load_digits\nprint('loaded')",
    "%%gbatch --name fit_svm_with_a_long_name --gpus 1 --depends-on @\nprint('fitting')",
    "%%gbatch --name compare --depends-on @\nprint('comparing the scores')\nraise SystemExit(4)",
    "%%gbatch --name report --depends-on @\nprint('report')",
])
LAB_FILES = {"digits.ipynb": PIPELINE}

WIDGET = ".jp-OutputArea-output .jobflow-widget"
SIDEBAR = "#jupyter-jobflow-sidebar"
TAB = f".jp-SideBar .lm-TabBar-tab[data-id='{SIDEBAR[1:]}']"

state: dict = {}


def names(lab) -> dict[str, int]:
    return {j["name"]: j["id"] for j in lab.jobflow("jobs")["jobs"]}


def arrow_rendered(page, path) -> bool:
    """Whether an arrowhead is drawn at the end of this edge: a screenshot of its tip with the
    marker differs from one without it."""
    box = path.evaluate("""p => {
        const pt = p.getPointAtLength(p.getTotalLength()), m = p.getScreenCTM();
        return {x: m.a * pt.x + m.c * pt.y + m.e, y: m.b * pt.x + m.d * pt.y + m.f};
    }""")
    clip = {"x": box["x"] - 8, "y": box["y"] - 12, "width": 16, "height": 14}
    with_marker = page.screenshot(clip=clip)
    path.evaluate("p => { p.style.markerEnd = 'none'; }")
    without = page.screenshot(clip=clip)
    path.evaluate("p => { p.style.markerEnd = ''; }")
    return with_marker != without


def test_arrowheads_stay_when_the_sidebar_is_closed(lab, page, artifacts):
    page.goto(lab.url("lab/tree/digits.ipynb?reset"))
    wait_kernel_idle(page)
    # the sidebar's graph comes first on the page: its markers were the ones every graph used
    page.locator(TAB).click()
    side = page.locator(SIDEBAR)
    expect(side.locator(".jf-conn")).to_have_attribute("data-state", "live")
    lab_command(page, "notebook:run-all-cells", wait=False)
    w = page.locator(WIDGET).first
    expect(w.locator("svg.jf-graph-svg")).to_have_attribute("data-node-count", "4", timeout=60_000)
    ids = names(lab)
    state["ids"] = ids
    expect(w.locator(f"g.jf-node[data-id='{ids['report']}']")).to_have_attribute("data-code", "CA", timeout=60_000)
    expect(side.locator(f"g.jf-node[data-id='{ids['report']}']")).to_have_attribute("data-code", "CA")
    page.locator(TAB).click()  # close the sidebar: its graph is hidden
    expect(side).to_be_hidden()
    edges = w.locator("svg.jf-graph-svg path.jf-edge")
    expect(edges).to_have_count(3)
    w.scroll_into_view_if_needed()
    for i in range(3):
        assert arrow_rendered(page, edges.nth(i)), f"edge {i} of the widget's graph has no arrowhead"
    # every marker id on the page is unique (the sidebar's and the widget's bundles too)
    dupes = page.evaluate("""() => { const seen = {}; for (const m of document.querySelectorAll('marker[id]'))
        seen[m.id] = (seen[m.id] || 0) + 1; return Object.keys(seen).filter(k => seen[k] > 1); }""")
    assert dupes == []
    # reasons in words on the nodes, the machine code in the tooltip
    report = w.locator(f"g.jf-node[data-id='{ids['report']}']")
    expect(report.locator("text.jf-t2")).to_have_text(f"CA · job {ids['compare']} failed")
    w.screenshot(path=str(artifacts / "sidebar-01-widget-full-width.png"))


def test_a_failed_job_notifies_and_its_button_opens_the_log(lab, page, artifacts):
    ids = state["ids"]
    toast = page.locator(".jp-Notification-Toast-error", has_text=f"Job {ids['compare']} (compare) failed")
    expect(toast).to_be_visible(timeout=15_000)
    expect(toast).to_contain_text("exit code 4")
    expect(toast).to_contain_text("digits.ipynb")
    page.screenshot(path=str(artifacts / "sidebar-02-notification.png"))
    toast.locator(".jp-toast-button", has_text="Open log").click()
    side = page.locator(SIDEBAR)
    expect(side).to_be_visible()
    logs = side.locator(".jf-logs")
    expect(logs).to_be_visible()
    expect(logs.locator(".jf-log-status")).to_contain_text(f"Job {ids['compare']} (compare)")
    expect(logs.locator("pre.jf-log")).to_contain_text("comparing the scores")
    # the cascade-cancelled job is no failure: no notification for it
    expect(page.locator(".jp-Notification-Toast-error", has_text=f"Job {ids['report']} ")).to_have_count(0)


def test_the_sidebar_at_250_px_shows_name_state_and_actions(lab, page, artifacts):
    ids = state["ids"]
    side = page.locator(SIDEBAR)
    width = side.evaluate("e => e.getBoundingClientRect().width")
    assert 200 <= width <= 300, f"the sidebar opened at {width}px"
    side.locator(".jf-tab[data-tab='jobs']").click()
    scroller = side.locator(".jf-table-scroll")
    expect(side.locator("tbody tr")).to_have_count(4)
    assert scroller.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the job table scrolls sideways"
    assert side.locator(".jobflow-panel").evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    right = side.evaluate("e => e.getBoundingClientRect().right")
    for name, job_id in ids.items():
        row = side.locator(f"tr[data-id='{job_id}']")
        for part in (row.locator(".jf-col-name"), row.locator(".jf-badge"), row.locator("[data-act='menu']")):
            expect(part).to_be_visible()
            assert part.evaluate("e => e.getBoundingClientRect().right") <= right + 0.5, f"{name}: cut off"
        expect(row.locator(".jf-col-name")).to_contain_text(name[:6])
    page.screenshot(path=str(artifacts / "sidebar-03-jobs-250-light.png"))

    # the actions are in the row's menu: Log opens the log
    row = side.locator(f"tr[data-id='{ids['compare']}']")
    row.locator("[data-act='menu']").click()
    menu = side.locator(".jf-menu")
    expect(menu).to_be_visible()
    expect(menu.locator("[data-act='log']")).to_be_visible()
    expect(menu.locator("[data-act='redo']")).to_be_visible()
    assert menu.evaluate("e => e.getBoundingClientRect().right") <= right + 0.5
    page.screenshot(path=str(artifacts / "sidebar-04-row-menu-250.png"))
    menu.locator("[data-act='log']").click()
    expect(side.locator(".jf-logs pre.jf-log")).to_contain_text("comparing the scores")

    # the GPU cards fit, and a finished job still says which GPU it ran on
    side.locator(".jf-tab[data-tab='gpus']").click()
    cards = side.locator(".jf-gpu")
    expect(cards).to_have_count(2)
    assert cards.first.evaluate("e => e.getBoundingClientRect().right") <= right + 0.5
    assert side.locator(".jf-gpus").evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    page.screenshot(path=str(artifacts / "sidebar-05-gpus-250.png"))
    used = lab.jobflow(f"jobs/{ids['fit_svm_with_a_long_name']}")["job"]["used_gpus"]
    assert len(used) == 1
    side.locator(".jf-tab[data-tab='graph']").click()
    side.locator(f"g.jf-node[data-id='{ids['fit_svm_with_a_long_name']}']").click()
    expect(side.locator(".jf-details")).to_contain_text(f"used GPU {used[0]}")
    page.screenshot(path=str(artifacts / "sidebar-06-graph-250.png"))


def test_screenshots_at_400_px_and_in_the_dark_theme(lab, page, artifacts):
    side = page.locator(SIDEBAR)
    widen_sidebar(page, 150)
    width = side.evaluate("e => e.getBoundingClientRect().width")
    assert width > 330, width
    side.locator(".jf-tab[data-tab='jobs']").click()
    assert side.locator(".jf-table-scroll").evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    # wider: the reason comes back, in words, with the machine code in its tooltip
    reason = side.locator(f"tr[data-id='{state['ids']['compare']}'] .jf-col-reason")
    expect(reason).to_have_text("exit code 4")
    expect(reason).to_have_attribute("title", "ExitCode:4")
    page.screenshot(path=str(artifacts / "sidebar-07-jobs-400-light.png"))
    lab_command(page, "apputils:change-theme", {"theme": "JupyterLab Dark"})
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / "sidebar-08-jobs-400-dark.png"))
    side.locator(".jf-tab[data-tab='graph']").click()
    page.screenshot(path=str(artifacts / "sidebar-09-graph-400-dark.png"))
    side.locator(".jf-tab[data-tab='gpus']").click()
    page.screenshot(path=str(artifacts / "sidebar-10-gpus-400-dark.png"))
    lab_command(page, "apputils:change-theme", {"theme": "JupyterLab Light"})
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
    assert not [p for p in page.problems if "pageerror" in p], page.problems  # type: ignore[attr-defined]


def run_new_cells(page, *codes: str) -> None:
    """Add these cells at the end of the notebook and run them, one after the other, in one go."""
    page.locator(".jp-Notebook .jp-Cell").last.click()
    for code in codes:
        lab_command(page, "notebook:insert-cell-below")
        page.locator(".jp-Notebook .jp-Cell.jp-mod-active .cm-content").fill(code)
    for _ in codes[1:]:
        lab_command(page, "notebook:extend-marked-cells-above")
    lab_command(page, "notebook:run-cell", wait=False)


def set_notifications(lab, page, level: str) -> None:
    lab.api("lab/api/settings/jupyter-jobflow:sidebar", "PUT", {"raw": f'{{"notifications": "{level}"}}'})
    page.reload()
    wait_kernel_idle(page)


def test_notifications_follow_the_setting(lab, page, artifacts):
    # "all": a pipeline of this notebook that ends says so, with its log a click away
    set_notifications(lab, page, "all")
    # (the first job ends before the second cell runs: the kernel stays busy in between)
    run_new_cells(page, "%%gbatch --name prep_all\nprint('prep')",
                  "import time\ntime.sleep(1)",
                  "%%gbatch --name train_all --depends-on @\nprint('trained')")
    done = page.locator(".jp-Notification-Toast-success", has_text="digits.ipynb: all 2 jobs ended (2 finished)")
    expect(done).to_be_visible(timeout=30_000)
    page.screenshot(path=str(artifacts / "sidebar-11-pipeline-done.png"))
    done.locator(".jp-toast-button", has_text="Open log").click()
    expect(page.locator(SIDEBAR).locator(".jf-logs pre.jf-log")).to_contain_text("trained")

    # "off": a failure is shown in the panel, and no notification comes
    set_notifications(lab, page, "off")
    run_new_cells(page, "%%gbatch --name quiet_failure\nraise SystemExit(5)")
    side = page.locator(SIDEBAR)
    if not side.is_visible():
        page.locator(TAB).click()
    side.locator(".jf-tab[data-tab='graph']").click()
    expect(side.locator("g.jf-node", has_text="quiet_failure")).to_have_attribute("data-code", "F", timeout=30_000)
    page.wait_for_timeout(300)  # a toast renders in the same turn as the panel; give React a frame
    expect(page.locator(".jp-Notification-Toast-error", has_text="quiet_failure")).to_have_count(0)
    set_notifications(lab, page, "failures")

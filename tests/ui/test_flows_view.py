"""The Flows view as a person uses it: a flow built from a notebook, run from the sidebar's Flows
tab at its default 250 px (no sideways scrolling), one task fails (its input file is missing),
the run shows Failed with the task graph by name and the run's log; the person puts the file
there, presses Resume, and the run finishes without running the finished task again. Then the
grid of the flow's runs (a cell opens its task's log), a schedule's line and a backfill from its
dialog (the dry run first).
Screenshots in tests/ui/artifacts/ (flows-*.png).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from harness import lab_command, notebook, widen_sidebar
from playwright.sync_api import expect

SIDEBAR = "#jupyter-jobflow-sidebar"
TAB = f".jp-SideBar .lm-TabBar-tab[data-id='{SIDEBAR[1:]}']"
LAB_FILES = {"empty.txt": ""}

state: dict = {}


def flow_notebook(flag: str, marker: str) -> str:
    """prep (leaves a line in `marker` each time it runs) -> train (fails while `flag` is missing) -> report."""
    return notebook([
        f"import pathlib\nFLAG = {flag!r}\nMARKER = {marker!r}",
        "%%gbatch --name prep\nwith open(MARKER, 'a') as f:\n    f.write('prep ran\\n')\nprint('prepared')",
        "%%gbatch --name train --depends-on prep\nprint('training')\n"
        "assert pathlib.Path(FLAG).exists(), f'the input {FLAG} is missing'\nprint('trained')",
        "%%gbatch --name report --depends-on train\nprint('report: all good')",
    ])


def wider_than(box) -> list[str]:
    """What sticks out on the right of `box`, for the message of a failed check."""
    return box.evaluate("""b => { const r = b.getBoundingClientRect().right + 1; return [`${b.scrollWidth} > ${b.clientWidth}`,
        ...[...b.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > r || e.scrollWidth > e.clientWidth + 1).slice(0, 12)
        .map(e => `${e.tagName}.${e.getAttribute('class') || ''} ${Math.round(e.getBoundingClientRect().right - r)} ${e.scrollWidth}>${e.clientWidth}`)]; }""")


def run_row(side, state_name: str):
    return side.locator(f"tr.jf-run-row[data-state='{state_name}']")


@pytest.fixture(scope="module")
def flow(lab, tmp_path_factory):
    try:
        lab.jobflow("flows")
    except Exception as e:  # noqa: BLE001 - any refusal: the route is not there
        pytest.skip(f"this server has no flows routes yet (GET jobflow/api/flows: {e})")
    where = tmp_path_factory.mktemp("flowfiles")
    flag, marker = where / "input.csv", where / "prep-runs.txt"
    reply = lab.jobflow("flows", "POST", {"name": "demo", "format": "ipynb", "source": flow_notebook(str(flag), str(marker))})
    assert reply["version"] == 1
    return {"flag": flag, "marker": marker}


def test_a_run_of_a_notebook_flow_fails_in_the_flows_view(lab, page, flow, artifacts):
    page.goto(lab.url("lab?reset"))
    page.locator(TAB).click()
    side = page.locator(SIDEBAR)
    expect(side.locator(".jf-conn")).to_have_attribute("data-state", "live")
    side.locator(".jf-tab[data-tab='flows']").click()
    flows = side.locator(".jf-flows")
    row = flows.locator("tr.jf-flow-row[data-flow='demo']")
    expect(row).to_contain_text("v1")
    expect(row).to_contain_text("3 tasks")
    flows.locator("[data-act='run-flow']").click()
    failed = run_row(side, "Failed")
    expect(failed).to_have_count(1, timeout=60_000)
    expect(failed.locator(".jf-badge")).to_have_text("Failed")
    expect(failed.locator(".jf-col-reason")).to_have_text("task train failed")
    run = flows.locator(".jf-run")
    expect(run).to_have_attribute("data-state", "Failed")
    state["run_id"] = run_id = run.get_attribute("data-run")
    assert run_id and run_id.startswith("demo__manual__")
    # the graph by task name: prep finished, train failed, report never ran
    graph = run.locator(".jf-task-graph svg.jf-graph-svg")
    expect(graph).to_have_attribute("data-node-count", "3")
    node = {n: graph.locator("g.jf-node", has=page.locator("text.jf-t1", has_text=n)) for n in ("prep", "train", "report")}
    expect(node["prep"]).to_have_attribute("data-code", "CD")
    expect(node["train"]).to_have_attribute("data-code", "F")
    expect(node["report"]).to_have_attribute("data-code", "CA")
    expect(node["train"].locator("text.jf-t2")).to_contain_text("F · exit code 1")
    expect(node["report"].locator("text.jf-t2")).to_contain_text("CA · train failed")
    # the run's log, each line prefixed with its task and attempt
    log = run.locator("pre.jf-run-log")
    expect(log).to_contain_text("[prep 1] prepared")
    expect(log).to_contain_text(f"the input {flow['flag']} is missing")
    # Resume is offered, Cancel is not (the run has ended)
    expect(run.locator("[data-act='resume']")).to_be_enabled()
    expect(run.locator("[data-act='cancel']")).to_be_disabled()
    # the sidebar's 250 px: nothing scrolls sideways
    width = side.evaluate("e => e.getBoundingClientRect().width")
    assert 200 <= width <= 300, width
    for part in (".jobflow-panel", ".jf-flows", ".jf-run-table", ".jf-run"):
        assert side.locator(part).first.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), (
            f"{part} scrolls sideways: {wider_than(side.locator(part).first)}")
    page.screenshot(path=str(artifacts / "flows-01-failed-250.png"))


def test_fixed_and_resumed_the_run_finishes_without_redoing_prep(lab, page, flow, artifacts):
    side = page.locator(SIDEBAR)
    run = side.locator(".jf-run")
    flow["flag"].write_text("x,y\n1,2\n")  # the fix: the missing input is there now
    # click train in the graph: its line says why it failed
    graph = run.locator(".jf-task-graph svg.jf-graph-svg")
    graph.locator("g.jf-node", has=page.locator("text.jf-t1", has_text="train")).click()
    expect(run.locator(".jf-task-line")).to_contain_text("exit code 1")
    expect(run.locator("[data-act='run-task']")).to_have_text("Run train alone")
    run.locator("[data-act='resume']").click()
    finished = run_row(side, "Finished")
    expect(finished).to_have_count(1, timeout=60_000)
    expect(finished).to_have_attribute("data-run", state["run_id"])  # resumed in place: the same run
    expect(run).to_have_attribute("data-state", "Finished")
    for name in ("prep", "train", "report"):
        expect(graph.locator("g.jf-node", has=page.locator("text.jf-t1", has_text=name))).to_have_attribute("data-code", "CD")
    expect(run.locator("pre.jf-run-log")).to_contain_text("[train 2] trained")
    expect(run.locator("pre.jf-run-log")).to_contain_text("report: all good")
    expect(run.locator("[data-act='resume']")).to_be_disabled()
    # prep's process ran once: the resume kept it
    assert flow["marker"].read_text().splitlines() == ["prep ran"]
    shown = lab.jobflow(f"runs/{state['run_id']}")
    assert shown["state"] == "Finished", json.dumps(shown)
    assert not page.problems, page.problems  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts / "flows-02-resumed-250.png"))


def test_wide_two_columns_and_a_task_run_alone(lab, page, flow, artifacts):
    side = page.locator(SIDEBAR)
    widen_sidebar(page, 520)
    assert side.evaluate("e => e.getBoundingClientRect().width") > 700
    flows = side.locator(".jf-flows")
    # wide: the flows and runs beside the run, not above it
    left = flows.locator(".jf-flows-side").bounding_box()
    right = flows.locator(".jf-run").bounding_box()
    assert left["x"] + left["width"] <= right["x"] + 1 and abs(left["y"] - right["y"]) < 2, (left, right)
    assert flows.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), wider_than(flows)
    run = flows.locator(".jf-run")
    # Run task: train alone, as a debug run; the run it took its inputs from stays as it was
    run.locator(".jf-task-graph g.jf-node", has=page.locator("text.jf-t1", has_text="train")).click()
    run.locator("[data-act='run-task']").click()
    debug = side.locator("tr.jf-run-row", has=page.locator(".jf-col-type", has_text="debug"))
    expect(debug).to_have_count(1)
    expect(debug).to_have_attribute("data-state", "Finished", timeout=60_000)
    expect(run).to_have_attribute("data-run", debug.get_attribute("data-run"))  # the new run is the one shown
    expect(run).to_have_attribute("data-state", "Finished")
    expect(run.locator("pre.jf-run-log")).to_contain_text("[train 1] trained")
    expect(run.locator(".jf-task-graph svg.jf-graph-svg")).to_have_attribute("data-node-count", "1")
    assert lab.jobflow(f"runs/{state['run_id']}")["state"] == "Finished"
    assert flow["marker"].read_text().splitlines() == ["prep ran"]
    page.screenshot(path=str(artifacts / "flows-03-task-alone-wide.png"))
    lab_command(page, "apputils:change-theme", {"theme": "JupyterLab Dark"})
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    side.locator(f"tr.jf-run-row[data-run='{state['run_id']}']").click()
    expect(run).to_have_attribute("data-run", state["run_id"])
    page.wait_for_timeout(400)
    page.screenshot(path=str(artifacts / "flows-04-wide-dark.png"))
    lab_command(page, "apputils:change-theme", {"theme": "JupyterLab Light"})
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
    assert not page.problems, page.problems  # type: ignore[attr-defined]


def test_the_runs_grid_the_schedule_and_a_backfill(lab, page, flow, artifacts):
    """The grid: a column per run, a row per task, coloured by state; a cell opens that task's log.
    A schedule (paused) shows its line; Backfill… previews the dry run, then creates the runs."""
    side = page.locator(SIDEBAR)
    flows = side.locator(".jf-flows")
    grid = flows.locator(".jf-run-grid table.jf-grid")
    cell = grid.locator(f".jf-grid-cell[data-run='{state['run_id']}'][data-task='train']")
    expect(cell).to_have_attribute("data-state", "Finished")
    expect(grid.locator("tbody tr")).to_have_count(3)  # prep, train, report
    cell.click()
    run = flows.locator(".jf-run")
    expect(run).to_have_attribute("data-run", state["run_id"])
    expect(run.locator(".jf-run-logs select")).to_have_value("train")
    expect(run.locator(".jf-task-line")).to_contain_text("train")
    expect(flows.locator(".jf-schedule-line")).to_contain_text("No schedule")
    expect(flows.locator("[data-act='backfill']")).to_be_disabled()
    lab.jobflow("flows/demo/schedule", "PUT", {"cron": "0 2 * * *", "tz": "UTC", "enabled": False})
    flows.locator("[data-act='refresh']").click()
    expect(flows.locator(".jf-schedule-line")).to_have_text('"0 2 * * *" in UTC, paused')
    flows.locator("[data-act='backfill']").click()
    dialog = page.locator("dialog.jf-backfill")
    today = datetime.now(timezone.utc).date()
    dialog.locator("[data-field='from']").fill(str(today - timedelta(days=3)))
    dialog.locator("[data-field='to']").fill(str(today - timedelta(days=1)))
    expect(dialog.locator("[data-act='confirm-backfill']")).to_be_disabled()  # not before a preview
    dialog.locator("[data-act='preview-backfill']").click()
    expect(dialog.locator("[data-summary]")).to_have_text("2 runs to create, 0 ticks skipped")
    expect(dialog.locator(".jf-backfill-ticks tbody tr")).to_have_count(2)
    assert not [r for r in lab.jobflow("runs?flow=demo")["runs"] if r["run_type"] == "backfill"]  # a dry run creates nothing
    page.screenshot(path=str(artifacts / "flows-05-backfill-dialog.png"))
    dialog.locator("[data-act='confirm-backfill']").click()
    expect(dialog).to_have_count(0)
    backfill = side.locator("tr.jf-run-row", has=page.locator(".jf-col-type", has_text="backfill"))
    expect(backfill).to_have_count(2)
    expect(side.locator("tr.jf-run-row[data-state='Finished']", has=page.locator(".jf-col-type", has_text="backfill"))).to_have_count(2, timeout=60_000)
    # the backfill's ticks are the grid's oldest columns, their cells finished
    first = grid.locator("thead th.jf-grid-col").first
    expect(first).to_have_attribute("data-run", re.compile(r"^demo__backfill__"))
    expect(grid.locator(".jf-grid-cell[data-task='report'][data-state='Finished']").first).to_be_visible()
    assert flows.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), wider_than(flows)
    assert not page.problems, page.problems  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts / "flows-06-grid.png"))


def test_the_schedule_form_shows_a_refusal_then_saves_and_lists_the_next_ticks(lab, page, flow, artifacts):
    """Schedule…: a zone that does not exist gets the server's one-line error in the form; fixed,
    Save changes the schedule and lists its next 5 ticks; the schedule's line follows."""
    flows = page.locator(SIDEBAR).locator(".jf-flows")
    flows.locator("[data-act='schedule']").click()
    form = page.locator("dialog.jf-schedule-form")
    expect(form.locator("[data-field='cron']")).to_have_value("0 2 * * *")
    form.locator("[data-field='cron']").fill("0 3 * * *")
    form.locator("[data-field='tz']").fill("Mars/Olympus")
    form.locator("[data-field='max_active_runs']").fill("2")
    form.locator("[data-act='save-schedule']").click()
    expect(form.locator("[data-error]")).to_contain_text("Mars/Olympus")
    form.locator("[data-field='tz']").fill("Europe/Berlin")
    form.locator("[data-act='save-schedule']").click()
    expect(form.locator(".jf-next-ticks li")).to_have_count(5)
    expect(form.locator("[data-error]")).to_have_text("")
    expect(form.locator(".jf-next-ticks li").first).to_contain_text("T03:00:00+0")
    page.screenshot(path=str(artifacts / "flows-07-schedule-form.png"))
    form.locator("[data-act='keep']").click()
    expect(form).to_have_count(0)
    expect(flows.locator(".jf-schedule-line")).to_contain_text('"0 3 * * *" in Europe/Berlin, paused')
    saved = lab.jobflow("flows/demo/schedule")
    assert (saved["cron"], saved["tz"], saved["max_active_runs"], saved["enabled"]) == ("0 3 * * *", "Europe/Berlin", 2, False)
    assert not page.problems, page.problems  # type: ignore[attr-defined]

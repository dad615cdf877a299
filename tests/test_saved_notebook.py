"""A tutorial executed headless (nbclient: what nbconvert --execute, papermill and nbval run), then
saved: a lean file whose jobflow snapshots show the jobs' final states, with no browser attached.

A real kernel of this environment, against a private daemon the magics start by themselves in a
throw-away state directory (as notebooks/conftest.py does for nbval); stopped at the end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from jupyter_jobflow.server.static import STATIC  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "notebooks" / "01-quickstart.ipynb"
MAX_SAVED = 200_000  # bytes: the whole executed tutorial
MAX_PER_GBATCH_CELL = 20_000  # bytes a saved notebook grows by per %%gbatch cell
pytestmark = [pytest.mark.skipif(not (STATIC / "loader.js").exists(), reason="the front end is not built"),
              pytest.mark.timeout(300)]


def _kernel_manager(tmp: Path):
    """A kernel of this very Python (whatever kernelspecs the user has), like --nbval-current-env."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec = tmp / "kernels" / "jobflow-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "jobflow test", "language": "python"}))
    return KernelManager(kernel_name="jobflow-test", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp / "kernels")]))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The tutorial run headless and saved: (source size, saved path, notebook)."""
    tmp = tmp_path_factory.mktemp("tutorial")
    home, work = tmp / "jobflow-home", tmp / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("JOBFLOW_URL", "JOBFLOW_TOKEN")}
    env.update(JOBFLOW_SIMULATED_GPUS="2", JOBFLOW_HOME=str(home))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    nb = nbformat.read(TUTORIAL, as_version=4)
    client = nbclient.NotebookClient(nb, km=_kernel_manager(tmp), timeout=240,
                                     resources={"metadata": {"path": str(work)}})
    try:
        client.execute(env=env, cwd=str(work))
    finally:
        subprocess.run([sys.executable, "-m", "jupyter_jobflow.cli", "jobflow", "stop", "--state-dir", str(home)],
                       capture_output=True, timeout=60, env=env)
    saved = tmp / "saved.ipynb"
    nbformat.write(nb, saved)
    return TUTORIAL.stat().st_size, saved, nb


def _gbatch_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%gbatch")]


def _snapshots(cell) -> list[str]:
    return [o["data"]["text/html"] for o in cell.get("outputs", [])
            if o.get("output_type") == "display_data" and "jobflow-snapshot" in o.get("data", {}).get("text/html", "")]


def test_the_saved_tutorial_is_small(executed):
    source_size, saved, nb = executed
    size = saved.stat().st_size
    print(f"tutorial: {source_size} bytes, executed and saved: {size} bytes, "
          f"{len(_gbatch_cells(nb))} %%gbatch cells")
    assert size < MAX_SAVED
    # the widget's code is saved nowhere: each panel's state holds only the loader
    widgets = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    bundle = (STATIC / "widget.js").read_text()
    for model in widgets.values():
        assert bundle[:2000] not in json.dumps(model)
        esm = model["state"].get("_esm")
        assert esm is None or len(esm) < 4096


def test_each_gbatch_cell_adds_at_most_20_kb(executed):
    source_size, saved, nb = executed
    cells = _gbatch_cells(nb)
    # everything the run added (every cell's output, all widget state), charged to the %%gbatch cells
    per_cell = (saved.stat().st_size - source_size) / len(cells)
    print(f"growth per %%gbatch cell (upper bound): {per_cell:.0f} bytes")
    assert per_cell <= MAX_PER_GBATCH_CELL
    for cell in cells:  # and each one's own outputs
        assert len(json.dumps(cell["outputs"])) <= MAX_PER_GBATCH_CELL


def test_snapshots_show_the_final_states(executed):
    _, _, nb = executed
    states = {}
    for cell in _gbatch_cells(nb):
        name = re.search(r"--name (\S+)", cell.source).group(1)
        [html] = _snapshots(cell)
        assert "Running" not in html and "Pending" not in html and "Queued" not in html, (name, html)
        states[name] = re.findall(r"</span> (\w+)</td>", html)
    # flaky failed, was redone in place and finished; after-flaky was cancelled, then brought back
    assert states == {name: ["Finished"] for name in
                      ("prep", "train", "report", "squares", "doubled", "flaky", "after-flaky")}, states

"""``%gpipe`` in a real IPython shell against a real daemon (magics_support.py): a flow made from
this notebook's saved file, run, shown; and ``run-task --load`` stepping through one task."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("IPython")

from magics_support import daemon, ip  # noqa: E402,F401  (fixtures)

CELLS = ["N = 3\n",
         "%%gbatch --name make --out x\nx = N * 2\n",
         "%%gbatch --name use --in x --depends-on make\nprint('run {{run_id}} got', x)\n"]


def write_notebook(path, cells):
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [],
                                           "execution_count": None} for c in cells],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def magic(ip, capsys, line):
    ip.run_line_magic("gpipe", line)
    return capsys.readouterr()


def test_gpipe_makes_a_flow_of_this_notebook_runs_it_shows_it_and_loads_a_task(ip, capsys, tmp_path, monkeypatch):
    notebook = tmp_path / "pipeline.ipynb"
    write_notebook(notebook, CELLS)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert magic(ip, capsys, "create nb").err == (
        "gpipe: error: this kernel does not know its notebook's file; give it: %gpipe create nb FILE.ipynb\n")
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))  # what jupyter_server tells a notebook's kernel
    assert magic(ip, capsys, "create nb").out == "Created flow nb version 1\n"
    started = magic(ip, capsys, "run nb").out
    assert started.startswith("Started run nb__manual__") and started.endswith(" of flow nb\n")
    run_id = started.split()[2]
    deadline = time.monotonic() + 60
    while (shown := json.loads(magic(ip, capsys, f"show {run_id} -o json").out))["state"] not in ("Finished", "Failed"):
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)
    assert [(t["name"], t["state"]) for t in shown["tasks"]] == [("make", "Finished"), ("use", "Finished")]
    table = magic(ip, capsys, f"show {run_id}").out.splitlines()
    assert table[0].startswith(f"Run {run_id} of flow nb (manual): ")
    assert table[1].split()[:3] == ["TASK", "STATE", "ATTEMPTS"]
    assert table[2].split()[:3] == ["make", "Finished", "1"]
    assert f"[use 1] run {run_id} got 6" in magic(ip, capsys, f"log {run_id} --task use").out

    # --load: the task's --in from that run, its template values, its rendered code as the next cell
    ip.user_ns.pop("x", None)
    ip.rl_next_input = None
    loaded = magic(ip, capsys, "run-task nb use --load")
    assert (loaded.out, loaded.err) == (f"Loaded x and gpipe_vars of task use from run {run_id}; "
                                        f"its code is in the next cell\n", "")
    assert ip.user_ns["x"] == 6
    assert ip.user_ns["gpipe_vars"]["run_id"] == run_id and ip.user_ns["gpipe_vars"]["task_name"] == "use"
    code = ip.rl_next_input
    assert code.startswith("N = 3") and code.endswith(f"print('run {run_id} got', x)\n")
    ip.run_cell(code)  # stepping through it: it runs here as it ran in the job
    assert capsys.readouterr().out == f"run {run_id} got 6\n"
    assert len(json.loads(magic(ip, capsys, "runs nb -o json").out)) == 1  # --load started no run
    # the errors: one line each
    assert magic(ip, capsys, "run-task nb nope --load").err.startswith('gpipe: error: Task "nope" not in flow "nb"')
    assert magic(ip, capsys, "run-task nb use --load --run nope").err == \
        "gpipe: error: Run nope not found; list runs with: gpipe runs\n"


def test_loading_a_command_task_of_a_flow_with_no_run_yet(ip, capsys, tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text("tasks:\n  greet: {command: 'echo hello from {{flow_name}}'}\n")
    assert magic(ip, capsys, f"create cmdflow {flow}").out == "Created flow cmdflow version 1\n"
    ip.rl_next_input = None
    loaded = magic(ip, capsys, "run-task cmdflow greet --load")
    assert loaded.out == ("Loaded gpipe_vars of task greet from flow cmdflow as it is now (it has no finished run); "
                          "its code is in the next cell\n")
    assert ip.rl_next_input == "%%bash\necho hello from cmdflow"
    assert ip.user_ns["gpipe_vars"]["flow_name"] == "cmdflow" and ip.user_ns["gpipe_vars"]["params"] == {}

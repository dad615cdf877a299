"""``gpipe`` and the flow routes on a real daemon: the interface lines, ``-o json``, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gpipe(daemon, *words, cwd=None):
    env = {**os.environ, "JOBFLOW_URL": daemon.url, "JOBFLOW_TOKEN": daemon.token, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "jupyter_jobflow.cli", "gpipe", *words], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=60)


def test_gpipe_interface_lines_and_the_rest_contract(daemon, tmp_path):
    (tmp_path / "train.yaml").write_text('command: "echo lr={{params.lr}} {{uuid.uuid4().hex[:4]}}"\n'
                                         "params:\n  lr: {type: float, default: 0.01, help: learning rate}\n")
    (tmp_path / "flow.yaml").write_text(
        'tasks:\n  prep:   {command: "echo prep"}\n'
        '  train:  {template: train, params: {lr: 0.1}, depends: prep, retries: 1, time: "1:00:00"}\n'
        '  report: {command: "echo report {{run_id}}", depends: "afterok:train?afternotok:prep"}\n')
    assert gpipe(daemon, "template", "add", "train", str(tmp_path / "train.yaml")).stdout == \
        "Added template train version 1\n"
    assert gpipe(daemon, "create", "etl", str(tmp_path / "flow.yaml")).stdout == "Created flow etl version 1\n"
    started = gpipe(daemon, "run", "etl", "-p", "x=1")
    assert started.returncode == 1 and started.stderr.startswith('gpipe: error: Unknown parameter "x"')
    run_id = gpipe(daemon, "run", "etl", "--parsable", cwd=tmp_path).stdout.strip()
    assert run_id.startswith("etl__manual__")
    deadline = time.monotonic() + 30
    while (shown := json.loads(gpipe(daemon, "show", run_id, "-o", "json").stdout))["state"] != "Finished":
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    assert {"run_id", "flow", "state", "reason", "tasks"} <= set(shown)
    assert [(t["name"], t["state"], t["attempts"]) for t in shown["tasks"]] == \
        [("prep", "Finished", 1), ("train", "Finished", 1), ("report", "Finished", 1)]
    runs = json.loads(gpipe(daemon, "runs", "etl", "-o", "json").stdout)
    assert [(r["run_id"], r["flow"], r["run_type"], r["state"]) for r in runs] == [(run_id, "etl", "manual", "Finished")]
    log = gpipe(daemon, "log", run_id).stdout
    assert "[prep 1] prep\n" in log and f"[report 1] report {run_id}\n" in log
    # REST: errors are one line with their class
    assert daemon.request("GET", "runs/nope")[0] == 404
    status, body = daemon.request("POST", "flows", {"name": "x", "source": "tasks: {a: {command: 1}}"})[:2]
    assert status == 400
    status, body = daemon.request("POST", "flows/etl/runs", {"params": [], "dry_run": False})[:2]
    assert status == 400
    plan = daemon.ok("POST", "flows/etl/runs", {"dry_run": True})["plan"]
    assert [p["task"] for p in plan] == ["prep", "train", "report"] and plan[0]["starts_at_once"]
    assert daemon.ok("GET", "flows")["flows"][0]["name"] == "etl"
    assert gpipe(daemon, "resume", run_id).stderr.startswith(f"gpipe: error: Nothing to resume: run {run_id}")

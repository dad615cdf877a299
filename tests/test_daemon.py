"""``python -m jupyter_jobflow.server.daemon`` as a real subprocess, driven over HTTP with urllib."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import Daemon, process_alive, wait_for

from jupyter_jobflow.core.errors import Unavailable
from jupyter_jobflow.server.parsing import SUBMIT_FIELDS


def test_a_chain_runs_to_the_end_over_http(daemon):
    prep = daemon.ok("POST", "jobs", {"command": ["sh", "-c", "echo prep"], "name": "prep"})
    assert prep["message"] == f"Submitted batch job {prep['id']} (prep)"
    train = daemon.ok("POST", "jobs", {"command": "echo train", "name": "train", "depends_on": prep["id"]})
    report = daemon.ok("POST", "jobs", {"script": "echo report\n", "name": "report",
                                        "dependency": f"afterany:{train['id']}", "gpus": 2})
    done = daemon.wait_job(report["id"])
    assert done["state"] == "Finished"
    assert daemon.ok("GET", f"jobs/{report['id']}")["attempts"][-1]["gpus"] == [0, 1]
    jobs = daemon.ok("GET", "jobs")["jobs"]
    assert [(j["name"], j["state"]) for j in jobs] == [("prep", "Finished"), ("train", "Finished"),
                                                        ("report", "Finished")]
    assert jobs[0]["ended_at"] <= jobs[1]["started_at"] and jobs[1]["ended_at"] <= jobs[2]["started_at"]
    assert daemon.ok("GET", f"jobs/{report['id']}/log")["text"] == "report\n"
    status = daemon.ok("GET", "status")
    assert (status["host"], status["pid"], status["counts"]["Finished"]) == ("daemon", daemon.proc.pid, 3)


def test_endpoint_file_is_private_and_names_the_daemon(daemon):
    path = daemon.state_dir / "endpoint.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    info = json.loads(path.read_text())
    assert info["host"] == "daemon" and info["pid"] == daemon.proc.pid
    assert info["url"].startswith("http://127.0.0.1:") and info["url"].endswith("/")
    assert len(info["token"]) == 48


def test_a_second_daemon_on_the_same_directory_fails_naming_the_holder(daemon):
    before = (daemon.state_dir / "endpoint.json").read_text()
    second = subprocess.run([sys.executable, "-m", "jupyter_jobflow.server.daemon", "--state-dir",
                             str(daemon.state_dir)], capture_output=True, text=True, timeout=30)
    assert second.returncode == 1 and second.stdout == ""
    lines = second.stderr.splitlines()
    assert len(lines) == 1, second.stderr
    assert lines[0].startswith(f"jobflow daemon: {daemon.state_dir} is already scheduled by process "
                               f"{daemon.proc.pid} (")
    assert lines[0].endswith("; stop it, or use another state directory")
    assert (daemon.state_dir / "endpoint.json").read_text() == before  # the holder's file is untouched


def test_serve_raises_unavailable_for_the_cli_to_print(daemon):
    from jupyter_jobflow.server.daemon import serve

    with pytest.raises(Unavailable, match=f"already scheduled by process {daemon.proc.pid}"):
        serve(daemon.state_dir)


def test_sigterm_removes_the_endpoint_and_the_next_daemon_readopts_the_running_job(tmp_path):
    state, trigger = tmp_path / "state", tmp_path / "go"
    first = Daemon(state)
    try:
        command = ["sh", "-c", f"echo one; while [ ! -e {trigger} ]; do sleep 0.02; done; echo two"]
        jid = first.ok("POST", "jobs", {"command": command})["id"]
        first.wait_job(jid, ("Running",))
        # a start is stored before its process is (exactly once): the pid may come a moment later
        pid = wait_for(lambda: first.ok("GET", f"jobs/{jid}")["attempts"][-1]["pid"], "the job's pid")
    finally:
        assert first.stop() == 0
    assert not (state / "endpoint.json").exists()
    assert process_alive(pid)
    second = Daemon(state)
    try:
        assert second.ok("GET", f"jobs/{jid}")["job"]["state"] == "Running"
        trigger.touch()
        assert second.wait_job(jid)["state"] == "Finished"
        assert second.ok("GET", f"jobs/{jid}/log")["text"] == "one\ntwo\n"
    finally:
        second.cancel_everything()
        second.stop()


def test_sigint_is_a_clean_exit_too(tmp_path):
    import signal

    d = Daemon(tmp_path / "state")
    assert d.stop(signal.SIGINT) == 0
    assert not (tmp_path / "state" / "endpoint.json").exists()


def test_events_over_the_daemon_resume_from_a_seq(daemon):
    ws = daemon.events()
    seq = json.loads(ws.recv())["seq"]
    ws.close()
    jid = daemon.ok("POST", "jobs", {"command": ["true"], "hold": True})["id"]
    daemon.ok("POST", f"jobs/{jid}/release")
    ws = daemon.events(f"since={seq}")
    try:
        first, second = json.loads(ws.recv()), json.loads(ws.recv())
        assert [(m["seq"], m["kind"], m["job"]["state"]) for m in (first, second)] == [
            (seq + 1, "submitted", "Hold"), (seq + 2, "job", "Queued")]
    finally:
        ws.close()


JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from([*SUBMIT_FIELDS, "bogus"]), JSON, max_size=5))
def test_any_submit_body_is_a_201_or_a_400_never_a_500(daemon, body):
    body = {**body, "hold": True}  # nothing that a random body asks for ever runs
    if "script" not in body and not isinstance(body.get("command"), (list, str)):
        body["command"] = ["true"]
    status, reply = daemon.request("POST", "jobs", body)
    assert status in (201, 400), (body, status, reply)
    if status == 400:
        assert reply["reason"] == "InvalidSpec" and "\n" not in reply["message"]
    else:
        daemon.ok("POST", "jobs/cancel", {"ids": [reply["id"]]}) if reply["state"] == "Hold" else None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=40) | st.text(max_size=40).map(str.encode))
def test_any_bytes_as_a_body_are_never_a_500(daemon, raw):
    for method, path in (("POST", "jobs"), ("POST", "jobs/cancel"), ("PATCH", "jobs/1"), ("POST", "jobs/1/redo")):
        status, reply = daemon.request(method, path, raw=raw)
        assert status < 500, (method, path, raw, status, reply)


def test_the_daemon_module_has_a_help(tmp_path):
    out = subprocess.run([sys.executable, "-m", "jupyter_jobflow.server.daemon", "--help"], capture_output=True,
                         text=True, timeout=30, env={**os.environ, "JOBFLOW_HOME": str(tmp_path)})
    assert out.returncode == 0 and "--state-dir" in out.stdout and "--port" in out.stdout


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(["jobs", "jobs/1", "jobs/1/log", "jobs/1/explain", "gpus", "status",
                              "jobs/99999999999999999999999", "jobs/1/log?offset=1"]),
       key=st.sampled_from(["state", "ids", "name", "group", "all", "limit", "offset", "attempt", "history"]),
       value=st.text(max_size=8) | st.integers(-(2**80), 2**80).map(str))
def test_any_query_is_never_a_500(daemon, route, key, value):
    from urllib.parse import quote

    if not daemon.ok("GET", "jobs?limit=1")["total"]:
        daemon.ok("POST", "jobs", {"command": ["sh", "-c", "echo x"]})
    sep = "&" if "?" in route else "?"
    status, reply = daemon.request("GET", f"{route}{sep}{key}={quote(value)}")
    assert status in (200, 400, 404), (route, key, value, status, reply)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(verb=st.sampled_from(["PATCH jobs/{held}", "POST jobs/{done}/redo", "POST jobs/cancel"]),
       body=st.dictionaries(st.sampled_from(["time_limit", "priority", "name", "group", "gpus", "gpu_memory",
                                             "retries", "dependency", "in_place", "cascade", "ids", "dry_run",
                                             "bogus"]), JSON, max_size=4))
def test_any_body_for_the_other_verbs_is_never_a_500(daemon, verb, body):
    held = daemon.ok("POST", "jobs", {"command": ["true"], "hold": True})["id"]
    done = daemon.ok("POST", "jobs", {"command": ["true"], "hold": True})["id"]
    daemon.ok("POST", "jobs/cancel", {"ids": [done]})
    if verb == "POST jobs/cancel":
        body = {**body, "dry_run": True}  # never cancel at random (the ids may name real jobs)
    method, path = verb.format(held=held, done=done).split()
    status, reply = daemon.request(method, path, body)
    assert status in (200, 400, 404, 409), (verb, body, status, reply)
    if status == 200 and path.endswith("/redo"):
        daemon.request("POST", "jobs/cancel", {"ids": [reply["job"]["id"]]})  # a redo may start a job

"""A second, unprivileged local account can neither read, submit, cancel nor learn anything.

The tests run as root (here and in CI): they create the account ``jobflow-other`` when it is
missing and run an attacker script as it (``runuser``). The state directory lies in a directory
everyone may traverse, so what stops the other account is the state directory's own mode, not a
parent's. Skipped, with the reason, when not root or without ``useradd``/``runuser``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from server_support import Daemon, wait_for

pytest_plugins = ["pytest_jupyter.jupyter_server"]
OTHER = "jobflow-other"
ROOT = Path(__file__).resolve().parent.parent
SECRET = "aws-secret-" + "s" * 24

# Run as the other account with a Python it may execute (stdlib only): it tries everything an
# attacker on the machine would and prints what it got.
ATTACK = r'''
import json, os, sys, urllib.request, urllib.error
state, url, token_guess, job = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
out = {"uid": os.getuid()}
def attempt(name, fn):
    try:
        out[name] = ["ok", str(fn())[:200]]
    except Exception as e:
        out[name] = [type(e).__name__, str(e)[:200]]
attempt("list_state_dir", lambda: os.listdir(state))
for name in ("jobflow.db", "jobflow.db-wal", "endpoint.json", "logs/%d/1.log" % job, "status/%d.1" % job,
             "scripts/%d" % job):
    attempt("read " + name, lambda name=name: open(os.path.join(state, name), "rb").read())
pid = sys.argv[5]
if pid:
    attempt("job_environ", lambda: open("/proc/%s/environ" % pid, "rb").read())
def call(method, path, body, token):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode() if body is not None else None,
                                 method=method, headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "token " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
for name, token in (("no_token", ""), ("guessed_token", token_guess)):
    out["submit " + name] = call("POST", "jobs", {"command": ["id"], "cwd": "/tmp"}, token)
    out["cancel " + name] = call("POST", "jobs/cancel", {"ids": [job]}, token)
    out["list " + name] = call("GET", "jobs", None, token)
print(json.dumps(out))
'''


def _other_python() -> str | None:
    """A Python the other account may run: ours, else the system's; None when there is none."""
    for python in (sys.executable, shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")):
        if python and subprocess.run(["runuser", "-u", OTHER, "--", python, "-c", "pass"],
                                     capture_output=True).returncode == 0:
            return python
    return None


@pytest.fixture(scope="module")
def other_python() -> str:
    if os.geteuid() != 0:
        pytest.skip("needs root to create and become a second local account (CI runs as root)")
    if not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("needs useradd and runuser to create and become a second local account")
    if subprocess.run(["id", OTHER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER], check=True)
    python = _other_python()
    if python is None:
        pytest.skip(f"no Python that the account {OTHER} may run")
    return python


@pytest.fixture
def jp_server_config(jobflow_server_config):
    return jobflow_server_config


@pytest.fixture
def open_parent():
    """A directory everyone may traverse (pytest's tmp_path lies under a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="jobflow-shared-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def attack(python: str, state: Path, url: str, job: int, pid: int | None = None) -> dict:
    proc = subprocess.run(["runuser", "-u", OTHER, "--", python, "-c", ATTACK, str(state), url, "guess" * 8,
                           str(job), str(pid or "")], capture_output=True, text=True, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_another_account_cannot_read_the_state_directory_nor_use_the_daemon(other_python, open_parent):
    state = open_parent / "state"
    daemon = Daemon(state)
    try:
        trigger = open_parent / "go"
        status, reply = daemon.request("POST", "jobs", {
            "script": f"echo $AWS_SECRET_ACCESS_KEY\nwhile [ ! -e {trigger} ]; do sleep 0.02; done\n",
            "env": {"PATH": os.environ["PATH"], "AWS_SECRET_ACCESS_KEY": SECRET},
            "export": "AWS_SECRET_ACCESS_KEY", "cwd": str(open_parent)})
        assert status == 201, reply
        job = reply["id"]
        daemon.wait_job(job, ("Running",))
        # a start is stored before its process is (exactly once), so the pid may come a moment later
        pid = wait_for(lambda: daemon.ok("GET", f"jobs/{job}")["attempts"][-1]["pid"], "the job's pid")
        got = attack(other_python, state, daemon.api(""), job, pid)
        assert got["uid"] != 0
        assert got["list_state_dir"][0] == "PermissionError"
        for name in ("jobflow.db", "jobflow.db-wal", "endpoint.json", f"logs/{job}/1.log", "scripts/1"):
            assert got[f"read {name}"][0] == "PermissionError", (name, got[f"read {name}"])
        assert got["job_environ"][0] == "PermissionError"  # the running job's JOBFLOW_TOKEN neither
        for what in ("submit", "cancel", "list"):
            assert got[f"{what} no_token"] == got[f"{what} guessed_token"] == 403, got
        assert SECRET not in json.dumps(got)
        trigger.touch()
        assert daemon.wait_job(job)["state"] == "Finished"  # not cancelled by the other account
        assert [j["id"] for j in daemon.ok("GET", "jobs")["jobs"]] == [job]  # and nothing submitted
        _gbatch_as_other_fails(other_python, state)
        assert [j["id"] for j in daemon.ok("GET", "jobs")["jobs"]] == [job]
    finally:
        daemon.cancel_everything()
        daemon.stop()


def _gbatch_as_other_fails(python: str, state: Path) -> None:
    """``gbatch`` itself, as the other account, pointed at the state directory: it cannot find the
    service's token (endpoint.json is unreadable), so it cannot submit. Needs this checkout to be
    readable by that account; otherwise the raw requests above stand for it."""
    env = ["env", f"JOBFLOW_HOME={state}", f"PYTHONPATH={ROOT}", "HOME=/tmp"]
    check = subprocess.run(["runuser", "-u", OTHER, "--", *env, python, "-c", "import jupyter_jobflow.cli.gbatch"],
                           capture_output=True, cwd="/")
    if check.returncode != 0:
        return
    proc = subprocess.run(["runuser", "-u", OTHER, "--", *env, python, "-c",
                           "from jupyter_jobflow.cli.gbatch import main; main()", "id"],
                          capture_output=True, text=True, timeout=60, cwd="/tmp")
    assert proc.returncode != 0 and "gbatch: error:" in proc.stderr, (proc.returncode, proc.stdout, proc.stderr)


async def test_another_account_cannot_use_the_jupyter_servers_jobflow_api(other_python, jp_serverapp, http_server,
                                                                          jp_http_port):
    ext = jp_serverapp.extension_manager.extension_apps["jupyter_jobflow"].copy().pop()
    url = f"http://127.0.0.1:{jp_http_port}/a%40b/jobflow/api/"
    proc = await asyncio.create_subprocess_exec(
        "runuser", "-u", OTHER, "--", other_python, "-c", ATTACK, ext.state_dir, url, "guess" * 8, "1", "",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd="/")
    out, err = await asyncio.wait_for(proc.communicate(), 60)  # the server keeps serving meanwhile
    assert proc.returncode == 0, err
    got = json.loads(out)
    for what in ("submit", "cancel", "list"):
        assert got[f"{what} no_token"] == got[f"{what} guessed_token"] == 403, got
    assert got["read endpoint.json"][0] == "PermissionError"
    assert ext.service.list() == []

"""Private by default (issue 9, item 4): file modes of the state directory, the environment a job
stores and runs with, and ``--export``. Real services, real jobs, real SQLite.

The test with a second local account is ``test_second_user.py``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from helpers import stop_everything
from server_support import wait_for_job

from jupyter_jobflow.core.directives import read_directives
from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.options import parse_submit_args, to_submit_body
from jupyter_jobflow.core.optvalues import parse_export
from jupyter_jobflow.engine.service import JobService

SECRET = "aws-secret-" + "x" * 20


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)  # the usual umask, which made everything 0644 before
    yield
    os.umask(old)


def stored_env(state_dir: Path, job_id: int) -> dict[str, str]:
    """What the database holds, read as another program would."""
    with sqlite3.connect(state_dir / "jobflow.db") as db:
        return json.loads(db.execute("SELECT env FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])


def log_of(service: JobService, job_id: int) -> str:
    return service.executor.log_path(job_id, 1).read_text()


# -- file modes ----------------------------------------------------------------------------------
def test_everything_the_host_writes_is_private_and_the_job_keeps_its_umask(umask_022, tmp_path):
    svc = JobService(tmp_path / "state", kill_grace=1.0).start()
    try:
        job = svc.submit(script="echo hello\ntouch mine.txt\n", cwd=str(tmp_path)).id
        wait_for_job(svc, job, "Finished")
        state = tmp_path / "state"
        assert mode(state) == 0o700
        for name in ("jobflow.db", "jobflow.db-wal", "jobflow.db-shm", "scheduler.lock"):
            assert mode(state / name) == 0o600, name
        for name in ("logs", "logs/1", "status", "scripts"):
            assert mode(state / name) == 0o700, name
        assert mode(state / "logs/1/1.log") == 0o600 and log_of(svc, job) == "hello\n"
        assert mode(state / "status/1.1") == 0o600  # written by the supervisor after the job
        assert mode(state / "scripts/1") == 0o600
        assert mode(tmp_path / "mine.txt") == 0o644  # the job's own files: the user's umask, as before
    finally:
        stop_everything(svc)


def test_a_state_directory_left_readable_is_tightened_on_start(umask_022, tmp_path):
    state = tmp_path / "state"
    svc = JobService(state, kill_grace=1.0).start()
    wait_for_job(svc, svc.submit(["echo", "hi"], cwd=str(tmp_path)).id, "Finished")
    svc.close()
    loose = [state, state / "logs", state / "logs/1", state / "logs/1/1.log", state / "jobflow.db",
             state / "status/1.1", state / "scheduler.lock"]
    for path in loose:  # as an earlier version left them
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    svc = JobService(state, kill_grace=1.0).start()
    try:
        for path in loose:
            assert mode(path) == (0o700 if path.is_dir() else 0o600), path
    finally:
        stop_everything(svc)


def test_the_endpoint_file_is_private(daemon):
    assert mode(daemon.state_dir) == 0o700
    assert mode(daemon.state_dir / "endpoint.json") == 0o600


# -- the stored environment ----------------------------------------------------------------------
SUBMITTER = {"PATH": "/opt/venv/bin:/usr/bin:/bin", "HOME": "/home/ann", "VIRTUAL_ENV": "/opt/venv",
             "CUDA_HOME": "/usr/local/cuda", "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "4",
             "AWS_SECRET_ACCESS_KEY": SECRET, "JOBFLOW_TOKEN": "t" * 48, "JOBFLOW_URL": "http://x/",
             "JPY_SESSION_NAME": "/home/ann/a.ipynb", "JUPYTER_TOKEN": "j" * 48, "JUPYTERHUB_API_TOKEN": "h" * 32,
             "CUDA_API_TOKEN": "c" * 32, "MY_SEED": "7"}


@pytest.mark.parametrize("export, kept", [
    (None, {"PATH", "HOME", "VIRTUAL_ENV", "CUDA_HOME", "LC_ALL", "OMP_NUM_THREADS"}),
    ("MY_SEED,AWS_SECRET_ACCESS_KEY", {"PATH", "HOME", "VIRTUAL_ENV", "CUDA_HOME", "LC_ALL", "OMP_NUM_THREADS",
                                       "MY_SEED", "AWS_SECRET_ACCESS_KEY"}),
    ("ALL", {"PATH", "HOME", "VIRTUAL_ENV", "CUDA_HOME", "LC_ALL", "OMP_NUM_THREADS", "AWS_SECRET_ACCESS_KEY",
             "CUDA_API_TOKEN", "MY_SEED"}),
    ("NONE", set()),
    ("NONE,MY_SEED,EXTRA=a=b", {"MY_SEED", "EXTRA"}),
])
def test_a_job_stores_what_export_keeps_and_never_a_token(service, export, kept):
    job = service.submit(["true"], env=SUBMITTER, export=export, hold=True).id
    env = stored_env(service.state_dir, job)
    assert set(env) == kept
    assert env.get("EXTRA", "a=b") == "a=b" and env.get("MY_SEED", "7") == "7"


def test_naming_a_token_in_export_is_refused_with_one_line(service):
    for export in ("JOBFLOW_TOKEN", "ALL,JPY_SESSION_NAME=x", "JUPYTER_TOKEN"):
        with pytest.raises(InvalidSpec, match="is never stored with a job"):
            service.submit(["true"], env=SUBMITTER, export=export)
    assert service.list() == []  # nothing stored


def test_a_value_that_holds_the_hosts_token_is_never_stored(service):
    service.set_endpoint("http://127.0.0.1:1/", "host-token-" + "z" * 20, secrets=["jupyter-token-" + "q" * 20])
    env = {**SUBMITTER, "COPY": "host-token-" + "z" * 20, "URL": "http://h/?token=jupyter-token-" + "q" * 20}
    job = service.submit(["true"], env=env, export="ALL", hold=True).id
    assert {"COPY", "URL"}.isdisjoint(stored_env(service.state_dir, job))


def test_a_job_runs_with_its_stored_env_and_the_way_back_to_its_host_not_the_hosts_env(
        service, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)  # the host's own environment
    monkeypatch.setenv("JPY_PARENT_PID", "1")
    service.set_endpoint("http://127.0.0.1:9/", "host-token-" + "z" * 20)
    job = service.submit(["env"], env={**SUBMITTER, "PATH": os.environ["PATH"]}, cwd=str(tmp_path)).id
    wait_for_job(service, job, "Finished")
    seen = dict(line.split("=", 1) for line in log_of(service, job).splitlines() if "=" in line)
    assert SECRET not in log_of(service, job) and "JPY_PARENT_PID" not in seen
    assert seen["JOBFLOW_TOKEN"] == "host-token-" + "z" * 20 and seen["JOBFLOW_URL"] == "http://127.0.0.1:9/"
    assert (seen["JOBFLOW_JOB_ID"], seen["JOBFLOW_HOME"], seen["CUDA_HOME"]) == \
        (str(job), str(service.state_dir), "/usr/local/cuda")
    assert "JOBFLOW_TOKEN" not in stored_env(service.state_dir, job)


def test_a_job_without_environment_still_has_path_and_home(service, tmp_path):
    job = service.submit(["sh", "-c", 'echo "$PATH|$HOME"; command -v env'], cwd=str(tmp_path)).id
    wait_for_job(service, job, "Finished")
    assert log_of(service, job).splitlines()[0] == f"{os.environ['PATH']}|{os.environ['HOME']}"


# -- --export in every front ---------------------------------------------------------------------
def test_export_is_read_like_slurms():
    assert parse_export("ALL") == ("ALL", (), {})
    assert parse_export("nil") == ("NONE", (), {})
    assert parse_export("NONE,A,B=1,") == ("NONE", ("A",), {"B": "1"})
    assert parse_export("WANDB_API_KEY") == ("DEFAULT", ("WANDB_API_KEY",), {})
    for bad, message in (("", "expects ALL, NONE"), ("A,ALL", "ALL must come first"), ("1X", '"1X" is not NAME')):
        with pytest.raises(InvalidSpec, match=message):
            parse_export(bad)


def test_gbatch_words_and_directives_send_export_and_env_names():
    body = to_submit_body(parse_submit_args(["--export", "NONE,SEED=1", "--env", "A=x,y", "true"]))
    assert (body["export"], body["env"]) == ("NONE,SEED=1,A", {"A": "x,y"})  # --env values are kept
    opts, _ = read_directives("#!/bin/bash\n#SBATCH --export=ALL\necho\n")
    assert opts.export == "ALL"
    with pytest.raises(InvalidSpec, match="--export"):
        parse_submit_args(["--export", "A,NONE", "true"])


def test_the_rest_api_takes_export_and_checks_it(daemon, tmp_path):
    status, reply = daemon.request("POST", "jobs", {"command": ["true"], "env": SUBMITTER, "export": "MY_SEED",
                                                    "hold": True, "cwd": str(tmp_path)})
    assert status == 201
    assert set(stored_env(daemon.state_dir, reply["id"])) >= {"MY_SEED", "PATH"}
    assert "AWS_SECRET_ACCESS_KEY" not in stored_env(daemon.state_dir, reply["id"])
    status, reply = daemon.request("POST", "jobs", {"command": ["true"], "export": "A,ALL"})
    assert status == 400 and reply["message"].startswith('Field "export": --export: ALL must come first')
    words = {"argv": ["--export", "NONE", "--env", "K=v", "true"], "cwd": str(tmp_path), "env": SUBMITTER}
    status, reply = daemon.request("POST", "jobs", words)  # what gbatch's fast path sends
    assert status == 201 and stored_env(daemon.state_dir, reply["id"]) == {"K": "v"}
    daemon.cancel_everything()

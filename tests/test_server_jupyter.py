"""The Jupyter server extension end to end: a real jupyter_server (pytest-jupyter), real jobs.

Waits are on the event stream (``Stream``), bounded; triggers are files the jobs wait for.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from server_support import Stream, process_alive, wait_for_job
from tornado.httpclient import HTTPClientError

from jupyter_jobflow.server.jupyter_auth import JUPYTER
from jupyter_jobflow.server.routes import make_handlers

pytest_plugins = ["pytest_jupyter.jupyter_server"]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def jp_server_config(jobflow_server_config, request):
    marker = request.node.get_closest_marker("jobflow_config")
    if marker:
        jobflow_server_config["JobflowApp"].update(marker.kwargs)
    return jobflow_server_config


@pytest.fixture
def api(jp_fetch):
    """``await api("POST", "jobs", {...})`` -> (status, reply); errors are returned, not raised."""
    async def call(method: str, path: str, body=None, **params):
        kwargs = {"body": json.dumps(body) if not isinstance(body, (str, bytes)) else body} if body is not None \
            else ({"body": "{}"} if method in ("POST", "PATCH") else {})
        r = await jp_fetch("jobflow", "api", *path.split("/"), method=method, params=params or None,
                           raise_error=False, **kwargs)
        return r.code, json.loads(r.body) if r.body else None

    return call


@pytest.fixture
def events(jp_ws_fetch):
    opened = []

    async def connect(**params):
        stream = Stream(await jp_ws_fetch("jobflow", "api", "events", params={k: str(v) for k, v in params.items()}))
        opened.append(stream)
        return stream

    yield connect
    for stream in opened:
        stream.close()


@pytest.fixture
def ext(jp_serverapp):
    return jp_serverapp.extension_manager.extension_apps["jupyter_jobflow"].copy().pop()


def waiter(tmp_path: Path, name: str = "go") -> tuple[list[str], Path]:
    """A command that prints, waits for ``trigger`` to exist, then prints again; and the trigger.
    It gives up after 60 s, so a test that fails before the trigger leaves no process behind."""
    trigger = tmp_path / name
    wait = f"i=0; while [ ! -e {trigger} ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i+1)); done"
    return ["sh", "-c", f"echo one; {wait}; echo two"], trigger


async def submit(api, **body) -> int:
    status, reply = await api("POST", "jobs", body)
    assert status == 201, reply
    return reply["id"]


# -- the extension -----------------------------------------------------------------------------
async def test_a_request_waiting_on_the_engine_does_not_stall_the_jupyter_server(api, jp_serverapp):
    import asyncio
    import threading

    service = jp_serverapp.web_app.settings["jobflow"].service
    held, release = threading.Event(), threading.Event()

    def long_step():  # what a scheduler step that starts many jobs does to the engine lock
        with service.engine.lock:
            held.set()
            release.wait(30)

    stepper = threading.Thread(target=long_step)
    stepper.start()
    held.wait(10)
    try:
        pending = asyncio.ensure_future(api("POST", "jobs", {"command": ["true"], "hold": True}))
        status, reply = await asyncio.wait_for(api("GET", "jobs"), 10)  # the loop answers meanwhile
        assert status == 200 and not pending.done()
    finally:
        release.set()
        stepper.join(10)
    status, reply = await asyncio.wait_for(pending, 10)
    assert status == 201 and reply["state"] == "Hold"


async def test_help_in_gbatch_words_is_a_400_and_the_jupyter_server_lives_on(api, tmp_path):
    # "-hh" once made the shared parser raise SystemExit in the server's request handler
    status, reply = await api("POST", "jobs", {"argv": ["-hh", "true"], "cwd": str(tmp_path), "env": {}})
    assert (status, reply["reason"]) == (400, "HelpRequested")
    status, reply = await api("GET", "status")
    assert status == 200 and reply["scheduler"] == "running" and reply["counts"]["Queued"] == 0


async def test_status_names_the_host_and_counts(api, jp_serverapp):
    status, reply = await api("GET", "status")
    assert status == 200
    assert reply["host"] == "jupyter" and reply["pid"] == os.getpid()
    assert reply["state_dir"].endswith("jobflow-state")
    assert reply["counts"] == {s: 0 for s in ("Queued", "Hold", "Running", "Finished", "Failed", "Cancelled",
                                               "Timeout")}


async def test_endpoint_file_and_environment_name_this_server(jp_serverapp, ext):
    path = Path(ext.state_dir) / "endpoint.json"
    info = json.loads(path.read_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert info == {"url": jp_serverapp.connection_url, "token": ext.jobflow_token, "pid": os.getpid(),
                    "host": "jupyter"}
    assert len(info["token"]) >= 32 and info["token"] != jp_serverapp.identity_provider.token  # jobflow's own
    assert info["url"].endswith("/a%40b/")  # pytest-jupyter's base_url: clients must keep it
    assert os.environ["JOBFLOW_URL"] == info["url"] and os.environ["JOBFLOW_TOKEN"] == info["token"]


def test_every_handler_carries_jupyters_auth_decorators(jp_serverapp):
    table = make_handlers("jobflow/api", JUPYTER)
    assert [m for pattern, cls in table for m in jp_serverapp.web_app._check_handler_auth(pattern, cls)] == []


async def test_stop_leaves_jobs_running_and_removes_what_it_published(api, ext, events, tmp_path):
    stream = await events()
    await stream.next()
    command, trigger = waiter(tmp_path)
    jid = await submit(api, command=command)
    await stream.job(jid, "Running")
    for _ in range(2000):  # the start is stored first, its process recorded a moment later
        if (pid := (ext.service.attempts(jid)[-1].handle or {}).get("pid")) is not None:
            break
        await asyncio.sleep(0.005)
    state_dir = ext.state_dir
    await ext.stop_extension()
    assert not (Path(state_dir) / "endpoint.json").exists()
    assert "JOBFLOW_URL" not in os.environ and "JOBFLOW_TOKEN" not in os.environ
    assert process_alive(pid)
    from jupyter_jobflow.engine.service import JobService

    again = JobService(state_dir).start()  # the next host re-adopts it
    try:
        assert again.get(jid).state.value == "Running"
        trigger.touch()
        assert wait_for_job(again, jid, "Finished").exit_code == 0
        assert again.read_log(jid)[0] == "one\ntwo\n"
    finally:
        again.close()


async def test_activity_is_reported_while_jobs_wait_or_run(api, ext, jp_serverapp, tmp_path, events):
    assert not ext.current_activity()
    stream = await events()
    await stream.next()
    command, trigger = waiter(tmp_path)
    jid = await submit(api, command=command)
    await stream.job(jid, "Running")
    assert ext.current_activity()
    assert "jobflow" in jp_serverapp.web_app.settings["last_activity_times"]
    trigger.touch()
    await stream.job(jid)
    assert not ext.current_activity()


@pytest.fixture
def holder(jobflow_server_config):
    """Another host that already schedules the extension's state directory (taken before the server starts)."""
    from jupyter_jobflow.engine.service import JobService

    svc = JobService(jobflow_server_config["JobflowApp"]["state_dir"]).start()
    yield svc
    svc.close()


async def test_a_directory_scheduled_elsewhere_gets_503_naming_the_holder(holder, api, ext):
    assert ext.service is None and not (Path(ext.state_dir) / "endpoint.json").exists()
    for method, path in (("GET", "jobs"), ("POST", "jobs"), ("GET", "status"), ("GET", "jobs/1/log")):
        status, error = await api(method, path, {"command": ["true"]} if method == "POST" else None)
        assert (status, error["reason"]) == (503, "Unavailable")
        assert f"is already scheduled by process {os.getpid()}" in error["message"]
    assert holder.list() == []  # nothing reached the other host's queue through us


@pytest.fixture
def corrupt_db(jobflow_server_config):
    """A state directory whose database is random bytes (written before the server starts)."""
    state = Path(jobflow_server_config["JobflowApp"]["state_dir"])
    state.mkdir(parents=True)
    (state / "jobflow.db").write_bytes(os.urandom(8192))
    return state / "jobflow.db"


async def test_a_corrupt_database_gets_503_naming_it_and_the_server_runs_on(corrupt_db, api, ext, jp_fetch):
    assert ext.service is None and ext.unavailable.startswith(f"The jobflow database {corrupt_db} is damaged")
    status, error = await api("GET", "jobs")
    assert (status, error["reason"]) == (503, "Unavailable") and error["message"] == ext.unavailable
    assert (await jp_fetch("api", "status")).code == 200  # the Jupyter server itself is fine


async def test_kernels_are_named_by_their_notebook_for_gpu_attribution(jp_fetch, ext):
    r = await jp_fetch("api", "sessions", method="POST", body=json.dumps(
        {"path": "work/analysis.ipynb", "type": "notebook", "kernel": {"name": "python3"}}))
    kernel_id = json.loads(r.body)["kernel"]["id"]
    await ext.kernel_paths.refresh()
    pid = ext.serverapp.kernel_manager.get_kernel(kernel_id).provisioner.pid
    assert ext.kernel_paths.lookup(pid) == "work/analysis.ipynb"
    assert ext.service.gpu_monitor.kernel_lookup == ext.kernel_paths.lookup
    await jp_fetch("api", "sessions", json.loads(r.body)["id"], method="DELETE")


@pytest.mark.jobflow_config(default_time_limit="1:30:00", group_limits={"train": 1})
async def test_traitlets_configure_the_service(api, ext):
    assert ext.service.engine.groups["train"].limit == 1
    jid = await submit(api, command=["true"], hold=True)
    assert (await api("GET", f"jobs/{jid}"))[1]["job"]["time_limit"] == 5400
    assert ext.service.engine.config.kill_grace == 1.0 and ext.service.gpus.simulated


def test_a_bad_default_time_limit_is_a_config_error():
    from traitlets import TraitError

    from jupyter_jobflow.server.app import JobflowApp

    with pytest.raises(TraitError, match='Invalid --time "soon"'):
        JobflowApp(default_time_limit="soon")


# -- jobs --------------------------------------------------------------------------------------
async def test_submit_then_list_with_filters(api):
    a = await submit(api, command=["true"], name="prep", group="g1", hold=True)
    b = await submit(api, command="echo hi", name="train", group="g2", hold=True)
    c = await submit(api, command=["true"], name="train-2", hold=True, dependency=f"afterok:{a}")
    d = await submit(api, script="echo from a script\n", name="scripted", hold=True)

    async def ids(**query):
        status, reply = await api("GET", "jobs", **query)
        assert status == 200, reply
        return [j["id"] for j in reply["jobs"]], reply["total"]

    assert await ids() == ([a, b, c, d], 4)
    assert await ids(name="train") == ([b, c], 2)
    assert await ids(group="g1") == ([a], 1)
    assert await ids(ids=f"{b},{c}-{d}") == ([b, c, d], 3)
    assert await ids(ids=f"{a},999") == ([a], 1)
    assert await ids(state="H,Running") == ([a, b, c, d], 4)
    assert await ids(state="Queued") == ([], 0)
    assert await ids(limit="2", offset="1") == ([b, c], 4)
    await api("POST", "jobs/cancel", {"ids": [a, b, c, d]})
    assert await ids(all="0") == ([], 0)
    assert await ids(all="1", state="CA") == ([a, b, c, d], 4)


async def test_submit_reply_and_location(jp_fetch):
    r = await jp_fetch("jobflow", "api", "jobs", method="POST", body=json.dumps({"command": ["true"], "name": "x"}))
    reply = json.loads(r.body)
    assert r.code == 201 and r.headers["Location"] == f"jobs/{reply['id']}"
    assert reply == {"id": reply["id"], "name": "x", "state": "Queued", "warnings": [], "parsable": False,
                     "message": f"Submitted batch job {reply['id']} (x)"}


async def test_submit_by_gbatch_words_reads_them_like_gbatch(jp_fetch, tmp_path):
    script = tmp_path / "train.sh"
    script.write_text("#!/bin/bash\n#SBATCH --time=5\n#SBATCH --partition=gpu\necho hi\n")
    body = {"argv": ["--parsable", "--name", "t", "train.sh"], "cwd": str(tmp_path), "env": {"A": "1"},
            "scope": "tty:/dev/pts/9", "scope_name": "this terminal"}
    r = await jp_fetch("jobflow", "api", "jobs", method="POST", body=json.dumps(body))
    reply = json.loads(r.body)
    assert (r.code, reply["name"], reply["parsable"]) == (201, "t", True)
    assert reply["warnings"] == ['gbatch: warning: Line 3: #SBATCH option "--partition" is not used by jobflow '
                                 'and is ignored']
    r = await jp_fetch("jobflow", "api", "jobs", str(reply["id"]))
    job = json.loads(r.body)["job"]
    assert (job["time_limit"], job["cwd"], job["scope"]) == (300, str(tmp_path), "tty:/dev/pts/9")


async def test_submit_by_words_refuses_terminal_only_words(jp_fetch, tmp_path):
    from tornado.httpclient import HTTPClientError

    for words in (["--help"], ["-"]):
        with pytest.raises(HTTPClientError) as err:
            await jp_fetch("jobflow", "api", "jobs", method="POST",
                           body=json.dumps({"argv": words, "cwd": str(tmp_path)}))
        assert err.value.code == 400
        assert json.loads(err.value.response.body)["message"].endswith("only works in a terminal: run gbatch there")


async def test_submit_that_can_never_run_is_cancelled_with_the_warning(api, events):
    stream = await events()
    await stream.next()
    parent = await submit(api, command=["sh", "-c", "exit 1"])
    await stream.job(parent, "Failed")
    status, reply = await api("POST", "jobs", {"command": ["true"], "depends_on": parent})
    assert status == 201 and reply["state"] == "Cancelled"
    assert reply["warnings"] == [f"Warning: job {reply['id']} will never start: afterok:{parent} cannot be "
                                 f"satisfied (job {parent} is Failed, exit 1). Job {reply['id']} was cancelled; "
                                 f"use --no-auto-cancel to keep it queued."]


async def test_show_has_the_dependency_line_attempts_and_dependents(api, events):
    stream = await events()
    await stream.next()
    parent = await submit(api, command=["true"], name="prep", hold=True)
    child = await submit(api, command=["true"], name="train", depends_on=parent)
    status, shown = await api("GET", f"jobs/{child}")
    assert status == 200
    assert shown["dependency"] == f"Dependency=PendingDependencies=afterok:{parent} Status=WaitForAll"
    assert shown["job"]["dependency"] == f"afterok:{parent}" and shown["attempts"] == []
    assert (await api("GET", f"jobs/{parent}"))[1]["dependents"] == [child]
    assert (await api("GET", f"jobs/{parent}"))[1]["dependency"] is None
    await api("POST", f"jobs/{parent}/release")
    await stream.job(child)
    status, shown = await api("GET", f"jobs/{child}")
    assert [a["state"] for a in shown["attempts"]] == ["Finished"] and shown["attempts"][0]["exit_code"] == 0
    assert shown["dependency"].startswith("Dependency=")


async def test_cancel_dry_run_reports_each_dependents_fate_then_cancel(api):
    prep = await submit(api, command=["true"], name="prep", hold=True)
    train = await submit(api, command=["true"], name="train", dependency=f"afterok:{prep}")
    cleanup = await submit(api, command=["true"], name="cleanup", dependency=f"afterany:{prep}")
    status, report = await api("POST", "jobs/cancel", {"ids": [prep], "dry_run": True})
    assert status == 200 and report["cancelled"] == [] and report["dry_run"] is True
    assert [t["id"] for t in report["targets"]] == [prep]
    assert report["dependents"] == [
        {"id": train, "name": "train", "condition": f"afterok:{prep}",
         "outcome": f"will be cancelled (DependencyFailed:{prep})"},
        {"id": cleanup, "name": "cleanup", "condition": f"afterany:{prep}", "outcome": "will run"}]
    assert report["text"].splitlines() == [
        f"Would cancel job {prep} (prep) [Hold]",
        "Dependents:",
        f"  job {train} (train)     afterok:{prep}  -> will be cancelled (DependencyFailed:{prep})",
        f"  job {cleanup} (cleanup)   afterany:{prep} -> will run",
        f"To proceed: gcancel {prep}        To also cancel dependents that would otherwise stay queued: "
        f"gcancel --cascade {prep}"]
    assert (await api("GET", f"jobs/{prep}"))[1]["job"]["state"] == "Hold"  # a dry run changes nothing
    status, report = await api("POST", "jobs/cancel", {"ids": f"{prep}"})
    assert status == 200 and report["cancelled"] == [prep]
    assert report["text"].startswith(f"Cancelled job {prep}")
    status, error = await api("POST", "jobs/cancel", {"ids": [prep]})
    assert (status, error) == (409, {"message": f"Job {prep} is already in terminal state (Cancelled)",
                                     "reason": "Conflict"})


async def test_hold_release_and_their_conflicts(api):
    jid = await submit(api, command=["true"], hold=True)
    status, error = await api("POST", f"jobs/{jid}/hold")
    assert (status, error["reason"]) == (409, "Conflict") and "only queued jobs can be held" in error["message"]
    status, reply = await api("POST", f"jobs/{jid}/cancel")  # not a route: cancel takes a body of ids
    assert status == 404
    gate = await submit(api, command=["true"], hold=True)
    waiting = await submit(api, command=["true"], depends_on=gate)
    status, reply = await api("POST", f"jobs/{waiting}/hold")
    assert status == 200 and reply["job"]["state"] == "Hold"
    status, reply = await api("POST", f"jobs/{waiting}/release")
    assert status == 200 and reply["job"]["state"] == "Queued"
    await api("POST", "jobs/cancel", {"ids": [jid, gate, waiting]})


async def test_redo_makes_a_new_job_or_a_new_attempt(api, events):
    stream = await events()
    await stream.next()
    first = await submit(api, command=["sh", "-c", "echo run"], name="once")
    await stream.job(first)
    status, reply = await api("POST", f"jobs/{first}/redo", {"name": "again"})
    assert status == 200 and reply["job"]["redo_of"] == first and reply["job"]["name"] == "again"
    copy = reply["job"]["id"]
    assert copy != first
    await stream.job(copy)
    status, reply = await api("POST", f"jobs/{first}/redo", {"in_place": True})
    assert status == 200 and reply["job"]["id"] == first and reply["job"]["state"] == "Queued"
    done = await stream.job(first)
    assert done["attempt"] == 2
    assert (await api("GET", f"jobs/{first}/log", attempt="1"))[1]["text"] == "run\n"
    status, error = await api("POST", f"jobs/{first}/redo", {"in_place": "yes"})
    assert (status, error["message"]) == (400, 'Field "in_place" must be true or false, got a string')


async def test_patch_changes_a_waiting_job_and_checks_its_fields(api, tmp_path, events):
    jid = await submit(api, command=["true"], hold=True)
    status, reply = await api("PATCH", f"jobs/{jid}", {"name": "renamed", "priority": 5, "time_limit": "1:00:00"})
    assert status == 200
    assert (reply["job"]["name"], reply["job"]["priority"], reply["job"]["time_limit"]) == ("renamed", 5, 3600)
    status, error = await api("PATCH", f"jobs/{jid}", {"priority": "high"})
    assert (status, error["message"]) == (400, 'Field "priority" must be an integer, got a string')
    status, error = await api("PATCH", f"jobs/{jid}", {"command": ["false"]})
    assert status == 400 and error["message"].startswith('Unknown field "command" for an update')
    status, error = await api("PATCH", f"jobs/{jid}", {"dependency": f"afterok:{jid}"})
    assert (status, error["message"]) == (400, "Job cannot depend on itself")
    stream = await events()
    await stream.next()
    command, trigger = waiter(tmp_path)
    running = await submit(api, command=command)
    await stream.job(running, "Running")
    status, error = await api("PATCH", f"jobs/{running}", {"gpus": 1})
    assert (status, error["reason"]) == (409, "Conflict")
    trigger.touch()
    await api("POST", "jobs/cancel", {"ids": [jid]})


async def test_explain_lists_every_gate(api):
    gate = await submit(api, command=["true"], name="gate", hold=True)
    jid = await submit(api, command=["true"], name="waits", depends_on=gate, gpus=1)
    status, reply = await api("GET", f"jobs/{jid}/explain")
    assert status == 200
    assert reply["lines"][0] == f"Job {jid} (waits) is Queued (Dependency)"
    assert f"  afterok:{gate}: waiting, job {gate} (gate) is Hold" in reply["lines"]
    assert any(line.startswith("Resources: wants 1 GPU(s); free: 0, 1") for line in reply["lines"])
    await api("POST", "jobs/cancel", {"ids": [gate, jid]})


async def test_log_while_running_and_after_the_end(api, events, tmp_path):
    command, trigger = waiter(tmp_path)
    jid = await submit(api, command=command)
    stream = await events(topics=f"jobs,log:{jid}")
    first = await stream.until(lambda m: m["type"] == "log" and m["text"], "the first log line")
    assert first == {"type": "log", "job_id": jid, "attempt": 1, "offset": 4, "text": "one\n"}
    status, reply = await api("GET", f"jobs/{jid}/log")
    assert (status, reply) == (200, {"text": "one\n", "offset": 4, "attempt": 1, "state": "Running"})
    trigger.touch()
    second = await stream.until(lambda m: m["type"] == "log" and m["offset"] > 4, "the second log line")
    assert second["text"] == "two\n" and second["offset"] == 8
    if not any(m["type"] == "event" and m["job"]["state"] == "Finished" for m in stream.seen):
        await stream.job(jid)  # the end may come before or after the last log message
    status, reply = await api("GET", f"jobs/{jid}/log", offset="4")
    assert reply == {"text": "two\n", "offset": 8, "attempt": 1, "state": "Finished"}
    assert (await api("GET", f"jobs/{jid}/log", offset="2", limit="3"))[1]["text"] == "e\nt"
    status, error = await api("GET", f"jobs/{jid}/log", attempt="2")
    assert (status, error["reason"]) == (404, "NotFound")


async def test_gpus_shows_the_inventory_and_what_holds_each_device(api, events, tmp_path):
    status, reply = await api("GET", "gpus")
    assert status == 200 and reply["source"] == "simulated" and reply["reason"] is None
    assert [(g["index"], g["simulated"], g["jobs"]) for g in reply["gpus"]] == [(0, True, []), (1, True, [])]
    assert "history" not in reply and "history" in (await api("GET", "gpus", history="60"))[1]
    assert (await api("GET", "gpus", history="soon"))[0] == 400
    stream = await events(topics="gpus")
    assert (await stream.next())["type"] == "gpus"
    command, trigger = waiter(tmp_path)
    jid = await submit(api, command=command, gpus="1,")  # device 1 by name (a bare "1" is a count)
    update = await stream.until(lambda m: m["type"] == "gpus" and m["gpus"][1]["jobs"], "GPU 1 held")
    assert update["gpus"][1]["jobs"] == [jid] and update["gpus"][0]["jobs"] == []
    assert (await api("GET", "gpus"))[1]["gpus"][1]["jobs"] == [jid]
    trigger.touch()
    await stream.until(lambda m: m["type"] == "gpus" and not m["gpus"][1]["jobs"], "GPU 1 free again")


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("body, message", [
    ({"command": ["true"], "dependency": "afterok:999"}, "Dependency job 999 not found"),
    ({"command": ["true"], "dependency": "after100"},
     'Invalid dependency "after100" (col 1): expected <type>:<job_id>[+<delay>][:<job_id>[+<delay>]]... where '
     '<type> is after, afterok, afternotok, afterany, aftercorr; or "singleton"'),
    ({"command": ["true"], "dependency": "afterok:1", "depends_on": 1},
     "--dependency cannot be combined with --depends-on/--depends-on-all/--depends-on-any"),
    ({"command": ["true"], "time_limit": "1:2:3:4"},
     'Invalid --time "1:2:3:4": expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS'),
    ({"command": ["true"], "gpus": 3}, "--gpus 3: this machine has 2 GPUs (simulated)"),
    ({}, "Nothing to run: give a command, a script, or a cell"),
    ({"command": ["true"], "bogus": 1}, 'Unknown field "bogus" for a submission'),
    ({"command": 5}, 'Field "command" must be a list of strings or a string, got a number'),
    ({"command": ["true"], "hold": "yes"}, 'Field "hold" must be true or false, got a string'),
    ({"command": ["true"], "env": {"A": 1}}, 'Field "env" must be an object of strings, got an object'),
    ({"command": ["true"], "retry_on": ["sometimes"]}, 'Field "retry_on": unknown outcome "sometimes"'),
    ("[1, 2]", "The request body must be a JSON object, got a list"),
    ('{"command": ', "Malformed JSON in the request body: Expecting value: line 1 column 13 (char 12)"),
])
async def test_bad_submissions_are_400_with_one_line(api, body, message):
    status, error = await api("POST", "jobs", body)
    assert status == 400 and error["reason"] == "InvalidSpec"
    assert error["message"].startswith(message), error["message"]
    assert (await api("GET", "jobs"))[1]["total"] == 0  # nothing was stored


@pytest.mark.parametrize("method, path, status, message", [
    ("GET", "jobs/999", 404, "Job 999 not found"),
    ("GET", "jobs/999/explain", 404, "Job 999 not found"),
    ("POST", "jobs/999/hold", 404, "Job 999 not found"),
    ("GET", "jobs/999/log", 404, "Job 999 not found"),
    ("GET", "nothing/here", 404, "No such route: GET "),
    ("GET", "jobs?ids=1,abc", 400, "Invalid job ID: abc"),
    ("GET", "jobs?state=sleeping", 400, 'Unknown job state "sleeping"'),
    ("GET", "jobs?limit=-1", 400, 'Query parameter "limit" must be 0 or more, got -1'),
    ("GET", "jobs/1/log?offset=x", 400, 'Query parameter "offset" must be an integer, got "x"'),
])
async def test_errors_map_to_their_status_as_json(jp_fetch, method, path, status, message):
    route, _, query = path.partition("?")
    params = dict(p.split("=") for p in query.split("&")) if query else None
    r = await jp_fetch("jobflow", "api", *route.split("/"), method=method, params=params, raise_error=False,
                       **({"body": "{}"} if method == "POST" else {}))
    error = json.loads(r.body)
    assert r.code == status and r.headers["Content-Type"].startswith("application/json")
    assert error["message"].startswith(message) and error["reason"]


async def test_cancel_arguments_are_checked(api):
    assert (await api("POST", "jobs/cancel", {"ids": []}))[1]["message"] == "No job IDs specified"
    assert (await api("POST", "jobs/cancel", {"ids": "1-x"}))[1]["message"] == "Invalid job ID: 1-x"
    assert (await api("POST", "jobs/cancel", {"ids": [0]}))[1]["message"] == "Invalid job ID: 0"
    status, error = await api("POST", "jobs/cancel", {"ids": [1], "cascade": 1})
    assert (status, error["message"]) == (400, 'Field "cascade" must be true or false, got a number')
    status, error = await api("POST", "jobs/cancel", {"ids": [999]})
    assert (status, error["message"]) == (404, "Job 999 not found")


# -- the event stream --------------------------------------------------------------------------
async def test_stream_sends_a_snapshot_then_every_event_in_order(api, events):
    before = await submit(api, command=["true"], hold=True)
    stream = await events()
    snapshot = await stream.next()
    assert snapshot["type"] == "snapshot" and [j["id"] for j in snapshot["jobs"]] == [before]
    jid = await submit(api, command=["sh", "-c", "exit 3"], name="fails")
    await stream.job(jid)
    evs = [m for m in stream.seen[1:] if m["type"] == "event"]
    assert [e["seq"] for e in evs] == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(evs)))
    assert [e["kind"] for e in evs][0] == "submitted"
    assert [(e["kind"], e["job"]["state"]) for e in evs] == [("submitted", "Queued"), ("job", "Running"),
                                                             ("started", "Running"), ("job", "Failed")]
    assert evs[1]["job"]["started_at"] is None and evs[2]["job"]["started_at"] is not None
    assert evs[-1]["job"]["exit_code"] == 3 and evs[-1]["job_id"] == jid


async def test_stream_resumes_from_a_seq_without_loss_or_repeats(api, events):
    stream = await events()
    seq = (await stream.next())["seq"]
    stream.close()
    a = await submit(api, command=["true"], hold=True)
    b = await submit(api, command=["true"], hold=True)
    await api("POST", "jobs/cancel", {"ids": [a, b]})
    resumed = await events(since=seq)
    replayed = [await resumed.next() for _ in range(4)]
    assert [m["seq"] for m in replayed] == [seq + 1, seq + 2, seq + 3, seq + 4]
    assert [(m["kind"], m["job_id"], m["job"]["state"]) for m in replayed] == [
        ("submitted", a, "Hold"), ("submitted", b, "Hold"), ("job", a, "Cancelled"), ("job", b, "Cancelled")]
    c = await submit(api, command=["true"], hold=True)
    live = await resumed.next()
    assert (live["seq"], live["job_id"]) == (seq + 5, c)
    # a seq this store never reached (another store, a reset): start over from a snapshot
    fresh = await events(since=10_000)
    assert (await fresh.next())["type"] == "snapshot"
    await api("POST", "jobs/cancel", {"ids": [c]})


async def test_log_topic_of_a_job_that_has_not_started_yet(api, events):
    jid = await submit(api, command=["sh", "-c", "echo late"], hold=True)
    stream = await events(topics=f"log:{jid}")
    await api("POST", f"jobs/{jid}/release")
    msg = await stream.next()  # jobs is not a topic here: the log message comes first
    assert msg == {"type": "log", "job_id": jid, "attempt": 1, "offset": 5, "text": "late\n"}


async def test_closing_the_socket_unsubscribes_it(ext, events):
    import asyncio
    import time

    subscribers = ext.service.engine._subscribers
    before = len(subscribers)
    stream = await events()
    await stream.next()
    assert len(subscribers) == before + 1
    stream.close()
    deadline = time.monotonic() + 10
    while len(subscribers) != before:
        assert time.monotonic() < deadline, "the closed socket is still subscribed"
        await asyncio.sleep(0.01)


async def test_stream_query_is_checked_before_the_upgrade(jp_ws_fetch):
    for params, status in (({"topics": "weather"}, 400), ({"since": "x"}, 400), ({"topics": "log:999"}, 404)):
        with pytest.raises(HTTPClientError) as e:
            await jp_ws_fetch("jobflow", "api", "events", params=params)
        assert e.value.code == status


# -- configuration -----------------------------------------------------------------------------
def test_config_file_enables_the_extension_and_the_wheel_ships_it():
    config = json.loads((ROOT / "jupyter-config/jupyter_server_config.d/jupyter_jobflow.json").read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"jupyter_jobflow": True}}}
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"jupyter-config/jupyter_server_config.d" = "etc/jupyter/jupyter_server_config.d"' in pyproject
    import jupyter_jobflow

    assert jupyter_jobflow._jupyter_server_extension_points()[0]["module"] == "jupyter_jobflow.server.app"


def test_installed_config_file_alone_enables_the_extension(jp_configurable_serverapp, jp_env_config_path, tmp_path):
    """What the wheel installs under ``{sys.prefix}/etc/jupyter`` is enough: no config of our own."""
    from traitlets.config import Config

    target = jp_env_config_path / "jupyter_server_config.d"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "jupyter-config/jupyter_server_config.d/jupyter_jobflow.json", target)
    state = tmp_path / "from-config-file"
    app = jp_configurable_serverapp(config=Config({"ServerApp": {"allow_root": True},
                                                   "JobflowApp": {"state_dir": str(state)}}))
    assert app.extension_manager.extensions["jupyter_jobflow"].enabled
    assert app.web_app.settings["jobflow"].service.state_dir == state


# -- private by default ------------------------------------------------------------------------
async def test_kernels_and_jobs_get_jobflows_token_never_jupyters(jp_fetch, jp_serverapp, ext, api, events,
                                                                  tmp_path):
    jupyter_token = jp_serverapp.identity_provider.token
    assert jupyter_token and jupyter_token not in (Path(ext.state_dir) / "endpoint.json").read_text()
    r = await jp_fetch("api", "kernels", method="POST", body="{}")
    kernel_id = json.loads(r.body)["id"]
    try:
        pid = jp_serverapp.kernel_manager.get_kernel(kernel_id).provisioner.process.pid
        kernel_env = dict(item.split("=", 1) for item in
                          Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item)
        assert kernel_env["JOBFLOW_TOKEN"] == ext.jobflow_token
        assert jupyter_token not in Path(f"/proc/{pid}/environ").read_text()
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    stream = await events()
    env = {"PATH": os.environ["PATH"], "LEAK": jupyter_token, "JUPYTER_TOKEN": jupyter_token,
           "JOBFLOW_TOKEN": ext.jobflow_token}
    job = await submit(api, command=["env"], env=env, export="ALL", cwd=str(tmp_path))
    await stream.job(job, "Finished")
    _, log = await api("GET", f"jobs/{job}/log")
    seen = dict(line.split("=", 1) for line in log["text"].splitlines() if "=" in line)
    assert jupyter_token not in log["text"] and seen["JOBFLOW_TOKEN"] == ext.jobflow_token
    assert seen["JOBFLOW_URL"] == jp_serverapp.connection_url
    assert ext.service.get(job).env == {"PATH": os.environ["PATH"]}  # stored: neither token


async def test_a_change_the_database_refuses_is_a_503_and_nothing_is_stored(api, ext):
    before = len(ext.service.list())
    ext.service.store.db.execute(
        "CREATE TEMP TRIGGER full BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    try:
        status, error = await api("POST", "jobs", {"command": ["true"]})
        assert (status, error["reason"]) == (503, "Unavailable")
        assert error["message"].startswith("The jobflow database refused the change (database or disk is full)")
        assert len(ext.service.list()) == before
    finally:
        ext.service.store.db.execute("DROP TRIGGER full")
    assert (await api("POST", "jobs", {"command": ["true"]}))[0] == 201  # and it accepts work again


# -- flows -------------------------------------------------------------------------------------
async def test_the_runs_topic_sends_a_runs_summary_after_its_tasks_change(api, events, tmp_path):
    trigger = tmp_path / "go"
    wait = f"i=0; while [ ! -e {trigger} ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i+1)); done"
    source = f'tasks:\n  a: {{command: "{wait}"}}\n  b: {{command: "echo b", depends: a}}\n'
    assert (await api("POST", "flows", {"name": "ev", "source": source}))[0] == 201
    jobs_only = await events(topics="jobs")
    stream = await events(topics="runs")
    status, run = await api("POST", "flows/ev/runs", {"cwd": str(tmp_path)})
    assert status == 201
    rid = run["run_id"]

    def of_run(state):
        return lambda m: m["type"] == "run" and m["run"]["run_id"] == rid and m["run"]["state"] == state

    running = await stream.until(of_run("Running"), "the run's summary once task a started")
    assert running["topic"] == "runs" and running["run"]["flow"] == "ev" and running["run"]["tasks"] == 2
    assert running["run"]["ended_at"] is None
    trigger.touch()
    done = await stream.until(of_run("Finished"), "the run's summary once task b finished")
    assert done["run"]["ended_at"] >= done["run"]["started_at"] and not done["run"]["reason"]
    assert (await api("GET", f"runs/{rid}"))[1]["state"] == "Finished"
    # a stream that did not ask for runs gets the jobs, never a run summary
    seen = [await jobs_only.next() for _ in range(3)]
    assert all(m["type"] != "run" for m in seen)


# -- a hidden page does not watch ---------------------------------------------------------------
async def eventually(condition, what: str, timeout: float = 10.0) -> None:
    """Let the loop run until ``condition()`` holds; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"{what}: not after {timeout}s"
        await asyncio.sleep(0.005)


@pytest.fixture
def watches(ext, monkeypatch):
    """Every ``service.watching(job_ids)`` the event streams make (None: all jobs), passed on to the real one."""
    calls, real = [], ext.service.watching

    def record(job_ids=None, seconds=5.0):
        calls.append(job_ids)
        real(job_ids, seconds)

    monkeypatch.setattr(ext.service, "watching", record)
    return calls


async def test_a_hidden_page_stops_renewing_its_watch_and_renews_at_once_when_shown(api, events, watches,
                                                                                     monkeypatch):
    from jupyter_jobflow.server import events as stream_module

    monkeypatch.setattr(stream_module, "WATCH_RENEW_MS", 600_000)  # this sidebar renews on open, then not in the test
    slow = await events(topics="jobs")
    await eventually(lambda: watches.count(None) == 1, "the watch on open")
    await slow.ws.write_message(json.dumps({"visible": False}))
    await slow.ws.write_message(json.dumps({"visible": True}))  # shown again: renewed now, not at the next tick
    await eventually(lambda: watches.count(None) == 2, "the renewal when shown")
    slow.close()

    jid = await submit(api, command=["true"], hold=True)
    monkeypatch.setattr(stream_module, "WATCH_RENEW_MS", 20)
    sidebar = await events(topics="jobs")
    ticker = await events(topics=f"log:{jid}")  # another open stream: its renewals tell the time

    async def ticks(n: int) -> None:
        start = watches.count([jid])
        await eventually(lambda: watches.count([jid]) >= start + n, f"{n} renewals of the log stream")

    await ticks(3)
    renewed = watches.count(None)
    await ticks(3)
    assert watches.count(None) > renewed  # visible (the default): it renews
    await sidebar.ws.write_message(json.dumps({"visible": False}))
    await ticks(3)  # the message has long arrived
    hidden = watches.count(None)
    junk = ["{not json", "[1, 2]", json.dumps({"visible": "maybe"}), json.dumps({"visible": 1}), "null",
            "x" * 1_000_000, json.dumps({"visible": True, "pad": "x" * 1000}), b"\xff\xfe{",
            b'{"visible": true}']  # a binary frame is not the message
    for message in junk:  # ignored: none of them shows the page again, none closes the stream
        await sidebar.ws.write_message(message, binary=isinstance(message, bytes))
    await ticks(10)
    assert watches.count(None) == hidden, "a hidden page's stream renewed its watch"
    await sidebar.ws.write_message(json.dumps({"visible": True}))
    await eventually(lambda: watches.count(None) > hidden, "the renewal when shown")
    assert (await api("POST", f"jobs/{jid}/release"))[0] == 200
    assert (await sidebar.job(jid))["state"] == "Finished"  # the stream lived through it all
    ticker.close()

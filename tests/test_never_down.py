"""No request stops the service, and the scheduler never dies quietly (issue 9, items 2 and 3).

Each case here once stopped the daemon, the Jupyter server or the scheduler thread: ``-hh`` in
gbatch's words, timers past epoll's ~24.8 days, a stored back-off of 1e300, 5,000-digit ids,
``log:²``, numbers past int64, an array whose group could not be stored, chains of thousands of
jobs. Real daemons, real SQLite, real processes; time moves by a clock the test holds.
"""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from contextlib import redirect_stdout

import pytest
from helpers import stop_everything, wait_job_state, wait_until

from jupyter_jobflow.cli.render import tree_order
from jupyter_jobflow.core import limits
from jupyter_jobflow.core.errors import HelpRequested, InvalidSpec, Unavailable
from jupyter_jobflow.core.model import JobState
from jupyter_jobflow.core.options import parse_submit_args
from jupyter_jobflow.core.wire import job_to_json
from jupyter_jobflow.engine.service import JobService

FAR = 25 * 86400  # past what epoll accepts (2**31 ms is 24.8 days)


class Clock:
    """A clock the test moves; the scheduler reads it for every timer."""

    def __init__(self):
        self.now = time.time()  # a job's end comes from its status file's real mtime

    def __call__(self) -> float:
        return self.now


def count_jobs(daemon) -> int:
    return daemon.ok("GET", "jobs")["total"]


def argv_body(daemon, *words: str) -> dict:
    return {"argv": list(words), "cwd": str(daemon.state_dir.parent), "env": {"PATH": "/usr/bin:/bin"}}


# -- the parser never exits -------------------------------------------------------------------
@pytest.mark.parametrize("words", [["-hh", "true"], ["-h"], ["--help", "true"], ["--hold", "-h", "true"]])
def test_help_in_any_form_is_a_typed_error_not_an_exit(words):
    with pytest.raises(HelpRequested) as err:
        parse_submit_args(words)
    assert "usage: gbatch" in err.value.text and "\n" not in str(err.value)


def test_gbatch_help_in_a_terminal_still_prints_and_exits_0():
    from jupyter_jobflow.cli import common as cli
    from jupyter_jobflow.cli.gbatch import command as gbatch_command

    out = io.StringIO()
    with redirect_stdout(out):
        status = cli.run("gbatch", gbatch_command, ["-h"])
    assert status == 0 and out.getvalue().startswith("usage: gbatch")


def test_hh_sent_to_the_daemon_is_a_400_and_the_daemon_lives_on(daemon):
    before = count_jobs(daemon)
    status, reply = daemon.request("POST", "jobs", argv_body(daemon, "-hh", "true"))
    assert status == 400 and reply["reason"] in ("InvalidSpec", "HelpRequested"), reply
    assert daemon.proc.poll() is None and count_jobs(daemon) == before
    probe = daemon.ok("POST", "jobs", {"command": ["true"]})
    assert daemon.wait_job(probe["id"])["state"] == "Finished"


# -- far timers: clamped, re-armed, never fatal -----------------------------------------------
def test_a_25_day_time_limit_is_scheduled_and_others_still_run(daemon):
    long = daemon.ok("POST", "jobs", argv_body(daemon, "--time", "25-0", "sleep", "30"))
    assert daemon.wait_job(long["id"], ("Running",))["time_limit"] == FAR
    after = daemon.ok("POST", "jobs", {"command": ["true"]})  # the loop sleeps on a 25-day deadline
    assert daemon.wait_job(after["id"])["state"] == "Finished"
    assert daemon.ok("GET", "status")["scheduler"] == "running"


def test_a_four_week_dependency_delay_waits_and_then_runs(tmp_path):
    clock = Clock()
    svc = JobService(tmp_path / "state", clock=clock, kill_grace=1.0).start()
    try:
        parent = svc.submit(["true"])
        child = svc.submit(["true"], dependency=f"afterok:{parent.id}+4w")
        wait_job_state(svc, parent.id, JobState.FINISHED)
        job = wait_until(svc, child.id, lambda j: j.reason is not None and j.reason.kind == "DependencyReadyAfter",
                         "ReadyAfter")
        probe = svc.submit(["true"])  # the scheduler is alive with a 28-day timer armed
        wait_job_state(svc, probe.id, JobState.FINISHED)
        assert svc.get(child.id).state is JobState.QUEUED and job.reason.args["at"] >= clock.now + 27 * 86400
        clock.now += 28 * 86400 + 1
        svc.engine.wake()
        wait_job_state(svc, child.id, JobState.FINISHED)
    finally:
        stop_everything(svc)


def test_a_30_day_retry_delay_is_a_timer_not_a_dead_scheduler(tmp_path):
    clock = Clock()
    svc = JobService(tmp_path / "state", clock=clock, kill_grace=1.0).start()
    try:
        flaky = svc.submit(["false"], retries=1, retry_delay=30 * 86400)
        job = wait_until(svc, flaky.id, lambda j: j.reason is not None and j.reason.kind == "RetryBackoff",
                         "RetryBackoff")
        assert job.retry_at == pytest.approx(clock.now + 30 * 86400, abs=5)
        probe = svc.submit(["true"])
        wait_job_state(svc, probe.id, JobState.FINISHED)
        clock.now += 30 * 86400 + 10
        svc.engine.wake()
        assert wait_job_state(svc, flaky.id, JobState.FAILED).attempt == 2
    finally:
        stop_everything(svc)


@pytest.mark.parametrize("words, message", [
    (["--time", "400-0"], 'Invalid --time "400-0": a time limit must be at most 366 days'),
    (["--retry-delay", "400d"], "--retry-delay must be at most 366 days"),
    (["--retry-max-delay", "9999999999"], "--retry-max-delay must be at most 366 days"),
    (["--retry-backoff", "1e300"], '--retry-backoff expects a number > 0, got "1e300"'),
    (["--retry-backoff", "101"], '--retry-backoff must be at most 100, got "101"'),
    (["--retries", "5000"], "--retries must be from 0 to 1000, got 5000"),
    (["--priority", "99999999999"], "--priority must be from -1000000 to 1000000"),
    (["--name", "x" * 300], "--name is too long: 300 characters, at most 256"),
    (["-d", "afterok:1+400d"], 'Invalid delay "+400d" for job 1 in "afterok:1+400d": a delay must be at most 366 days'),
    (["--array", "0-99999"], '--array "0-99999" has more than 10000 tasks'),
    (["--array", "0-3%" + "9" * 20], "--array: indices, steps and %N must be at most 999999999"),
    (["--array", "0-3%20000"], "--array: the %N limit must be from 1 to 10000"),
    (["--gpu-memory", "99999999T"], "--gpu-memory must be at most 16T per GPU"),
])
def test_limits_are_one_line_errors_naming_the_range(words, message):
    with pytest.raises(InvalidSpec) as err:
        parse_submit_args([*words, "true"])
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


# -- a stored bad value never stops a restart -------------------------------------------------
def test_a_stored_huge_backoff_and_an_unreadable_dependency_survive_a_restart(tmp_path):
    state = tmp_path / "state"
    svc = JobService(state, kill_grace=1.0).start()
    gate = tmp_path / "gate"
    flaky = svc.submit(["sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.02; done; exit 3"], retries=5,
                       retry_delay=1, retry_backoff=2)
    odd = svc.submit(["true"], hold=True)
    wait_job_state(svc, flaky.id, JobState.RUNNING)
    svc.stop()  # the job runs on; the next host settles it from its status file
    svc.store.close()
    db = sqlite3.connect(state / "jobflow.db")
    with db:
        db.execute("UPDATE jobs SET retry_backoff = 1e300, retry_count = 3 WHERE id = ?", [flaky.id])
        db.execute("UPDATE jobs SET dependency = 'afterok:(((', time_limit = ? WHERE id = ?", [float("inf"), odd.id])
    db.close()
    gate.touch()
    wait_status = state / "status"
    deadline = time.monotonic() + 15
    while not any(p.read_text().endswith("\n") for p in wait_status.glob(f"{flaky.id}.*")) \
            and time.monotonic() < deadline:
        time.sleep(0.02)  # the supervisor records the exit on its own; nothing here can wake us
    again = JobService(state, kill_grace=1.0).start()  # this start failed before: OverflowError in recovery
    try:
        job = again.get(flaky.id)
        assert job.state is JobState.QUEUED and job.reason.kind == "RetryBackoff"
        assert job.retry_at <= time.time() + limits.MAX_SECONDS + 5
        broken = again.get(odd.id)
        assert broken.state is JobState.FAILED and "unreadable stored job" in str(broken.reason)
        job_to_json(broken), str(job.reason)  # both still render
        probe = again.submit(["true"])
        wait_job_state(again, probe.id, JobState.FINISHED)
        assert again.health()["scheduler"] == "running"
    finally:
        stop_everything(again)


# -- a failing loop is reported, restarted, and at last refused loudly --------------------------
class FailingClock(Clock):
    """Raises in the scheduler thread while ``failures`` lasts: fault injection at the edge."""

    def __init__(self, failures: int):
        super().__init__()
        self.failures = failures

    def __call__(self) -> float:
        if self.failures and threading.current_thread().name == "jobflow-scheduler":
            self.failures -= 1
            raise OSError("injected clock failure")
        return self.now


def test_a_failed_loop_is_reported_and_restarted(tmp_path):
    clock = FailingClock(failures=2)
    svc = JobService(tmp_path / "state", clock=clock, kill_grace=1.0).start()
    try:
        job = svc.submit(["true"])
        wait_job_state(svc, job.id, JobState.FINISHED)
        health = svc.health()
        assert health["scheduler"] == "running" and health["restarts"] == 2
        assert health["error"] == "OSError: injected clock failure"
    finally:
        stop_everything(svc)


def test_a_job_running_through_a_loop_restart_is_still_seen_to_end(tmp_path):
    clock = FailingClock(failures=0)
    svc = JobService(tmp_path / "state", clock=clock, kill_grace=1.0).start()
    gate = tmp_path / "gate"
    try:
        job = svc.submit(["sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.02; done"])
        wait_job_state(svc, job.id, JobState.RUNNING)
        clock.failures = 1
        svc.engine.wake()  # the next turn of the loop fails, and the loop restarts
        deadline = time.monotonic() + 10  # no event marks a restart: poll its health
        while svc.health()["restarts"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert svc.health()["restarts"] == 1
        gate.touch()
        assert wait_job_state(svc, job.id, JobState.FINISHED).exit_code == 0  # its pidfd is watched again
    finally:
        stop_everything(svc)


def test_a_loop_that_keeps_failing_gives_up_and_submissions_answer_503(tmp_path):
    clock = FailingClock(failures=10_000)
    svc = JobService(tmp_path / "state", clock=clock, kill_grace=1.0).start()
    try:
        held = svc.submit(["true"], hold=True)  # accepted while the loop still restarts
        svc.engine._thread.join(30)
        assert svc.health()["scheduler"] == "failed"
        before = len(svc.list())
        with pytest.raises(Unavailable) as err:
            svc.submit(["true"])
        assert "OSError: injected clock failure" in str(err.value) and Unavailable.status == 503
        assert len(svc.list()) == before
        with pytest.raises(Unavailable):  # nor is work taken back in that it cannot run
            svc.release(held.id)
    finally:
        clock.failures = 0
        stop_everything(svc)


def serve_in_thread(service):
    """The daemon's own tornado app over ``service``, on a loop in a thread: a host whose
    scheduler we can break from the test (the clock is the edge we inject at)."""
    import asyncio

    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    from jupyter_jobflow.server.base import HostContext
    from jupyter_jobflow.server.daemon import make_app

    ready, box = threading.Event(), {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = HTTPServer(make_app(HostContext(service, "daemon"), "secret"))
        sockets = bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        box.update(loop=loop, url=f"http://127.0.0.1:{sockets[0].getsockname()[1]}/jobflow/api/")
        ready.set()
        loop.run_forever()
        server.stop()
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    return box, lambda: (box["loop"].call_soon_threadsafe(box["loop"].stop), thread.join(10))


def test_a_failed_scheduler_shows_in_status_and_submit_is_a_503(tmp_path, monkeypatch, capsys):
    import json
    import urllib.error
    import urllib.request

    from jupyter_jobflow.cli import common as cli
    from jupyter_jobflow.cli.jobflow import command as jobflow_main

    clock = FailingClock(failures=10_000)
    svc = JobService(tmp_path / "state", clock=clock, kill_grace=1.0).start()
    svc.engine._thread.join(30)
    box, stop = serve_in_thread(svc)
    try:
        req = urllib.request.Request(box["url"] + "jobs", data=b'{"command": ["true"]}', method="POST",
                                     headers={"Authorization": "token secret"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=15)
        reply = json.loads(err.value.read())
        assert err.value.code == 503 and reply["reason"] == "Unavailable"
        assert "The scheduler has stopped after repeated failures (OSError: injected clock failure)" in reply["message"]
        monkeypatch.setenv("JOBFLOW_URL", box["url"].removesuffix("jobflow/api/"))
        monkeypatch.setenv("JOBFLOW_TOKEN", "secret")
        assert cli.run("jobflow", jobflow_main, ["status"]) == 1
        assert "Scheduler: failed (restarted 5 times): OSError: injected clock failure" in capsys.readouterr().out
    finally:
        stop()
        clock.failures = 0
        stop_everything(svc)


# -- numbers and ids from outside ---------------------------------------------------------------
def test_huge_ids_unicode_digits_and_int64_overflow_are_400s(daemon):
    huge = "9" * 5000
    for method, path, body in [("GET", f"jobs/{huge}", None), ("PATCH", f"jobs/{huge}", {"priority": 1}),
                               ("POST", f"jobs/{huge}/hold", None), ("GET", f"jobs/{huge}/log", None),
                               ("GET", f"jobs?ids={huge}", None), ("POST", "jobs/cancel", {"ids": huge}),
                               ("POST", "jobs/cancel", {"ids": [2**63]}), ("GET", "events?topics=log:%C2%B2", None),
                               ("GET", f"events?topics=log:{huge}", None), ("GET", f"jobs/1/log?offset={huge}", None),
                               ("GET", "jobs/9223372036854775808", None)]:
        status, reply = daemon.request(method, path, body)
        assert status == 400 and reply["reason"] == "InvalidSpec", (method, path[:40], status, reply)
        assert len(reply["message"]) < 300
    before = count_jobs(daemon)
    for body in [{"command": ["true"], "priority": 2**63}, {"command": ["true"], "gpu_memory": 2**70},
                 {"command": ["true"], "retries": 2**64}, {"command": ["true"], "depends_on": 2**63},
                 {"command": ["true"], "time_limit": 1e300}, {"command": ["true"], "retry_backoff": 1e300},
                 {"command": ["true"], "array": "0-3%99999999999999999999"},
                 {"command": ["true"], "array": "0-3%9223372036854775808"}]:
        status, reply = daemon.request("POST", "jobs", body)
        assert status == 400 and reply["reason"] == "InvalidSpec", (body, status, reply)
    assert count_jobs(daemon) == before and daemon.proc.poll() is None


# -- chains of thousands ------------------------------------------------------------------------
CHAIN = 2000


def test_a_2000_job_chain_redoes_updates_and_draws(tmp_path):
    svc = JobService(tmp_path / "state", kill_grace=1.0).start()
    try:
        gate = tmp_path / "gate"
        root = svc.submit(["test", "-e", str(gate)])
        ids = [root.id]
        for _ in range(CHAIN - 1):
            ids.append(svc.submit(["true"], dependency=f"afterok:{ids[-1]}", hold=True).id)
        assert svc.update(ids[1], priority=1).priority == 1
        with pytest.raises(InvalidSpec) as err:  # the cycle check walks the whole chain
            svc.update(ids[1], dependency=f"afterok:{ids[-1]}")
        assert str(err.value).startswith(f"Circular dependency detected: job {ids[1]} -> job {ids[-1]} -> ")
        order, prefixes = tree_order([job_to_json(svc.get(i)) for i in ids])
        assert order == ids and prefixes[ids[-1]].endswith("└─ ")
        for jid in ids[1:]:
            svc.release(jid)
        wait_job_state(svc, root.id, JobState.FAILED)
        wait_job_state(svc, ids[-1], JobState.CANCELLED, timeout=60)
        gate.touch()
        svc.redo(root.id, in_place=True, cascade=True)
        assert all(svc.get(i).state is not JobState.CANCELLED for i in ids)  # the whole chain is back
        wait_job_state(svc, ids[1], JobState.FINISHED)
        svc.cancel(ids[2:3])  # cascades down the rest of the chain
        wait_job_state(svc, ids[-1], JobState.CANCELLED, timeout=60)
        new = svc.redo(ids[2], cascade=True)  # a copy of each cancelled job, rewired, the whole way down
        copies = [j for j in svc.list() if j.id > ids[-1]]
        assert len(copies) == CHAIN - 2 and copies[0].id == new.id
        assert copies[-1].dependency == f"afterok:{copies[-2].id}"
    finally:
        stop_everything(svc)


def test_an_array_is_stored_whole_with_its_group(service):
    sub = service.submit(["true"], array="0-9999%3", hold=True)
    assert len(sub.array_ids) == 10_000 and sub.array_ids == tuple(range(sub.id, sub.id + 10_000))
    last = service.get(sub.array_ids[-1])
    assert (last.name, last.group, last.array_of, last.env["SLURM_ARRAY_TASK_ID"]) == \
        ("true[9999]", f"array-{sub.id}", sub.id, "9999")
    assert service.engine.groups[f"array-{sub.id}"].limit == 3
    assert len(service.store.load_jobs()) == 10_000

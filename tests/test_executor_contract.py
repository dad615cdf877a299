"""One contract, every executor: the fake one, the local one and Slurm (a real private cluster,
tests/slurm_support.py). A driver says how to make the executor and how to make things happen to
an attempt that only a real backend does by itself (begin, vanish)."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest
from slurm_support import slurm_cluster  # noqa: F401  (the session's cluster, for the Slurm driver)

from jupyter_jobflow.engine.executors import AttemptEvent, Executor, LaunchRequest
from jupyter_jobflow.engine.executors.fake import FakeExecutor
from jupyter_jobflow.core.slurmpoll import PollPolicy
from jupyter_jobflow.engine.executors.local import LocalExecutor
from jupyter_jobflow.engine.executors.slurm import SlurmExecutor


class LocalDriver:
    name = "local"

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.executor = LocalExecutor(tmp_path / "state")

    def restarted(self):
        return LocalExecutor(self.tmp_path / "state")

    def request(self, job_id, script):
        return LaunchRequest(job_id, 1, ("sh", "-c", script), str(self.tmp_path), {"PATH": os.environ["PATH"]})

    def begin(self, job_id):
        pass  # a local process runs from its spawn

    def finish(self, job_id, code):
        (self.tmp_path / f"go{job_id}").touch()  # the scripts below wait for this file

    def script(self, job_id, code):
        return f"echo hello; while [ ! -e go{job_id} ]; do sleep 0.01; done; exit {code}"

    def vanish(self, handle):
        os.killpg(handle["pid"], signal.SIGKILL)  # supervisor and job die before a status is written


class FakeDriver:
    name = "fake"

    def __init__(self, tmp_path):
        self.executor = FakeExecutor()

    def restarted(self):
        return self.executor.restarted()

    def request(self, job_id, script):
        return LaunchRequest(job_id, 1, ("sh", "-c", script), "/", {})

    def script(self, job_id, code):
        return "work"

    def begin(self, job_id):
        self.executor.start(job_id)
        self.executor.write_log(job_id, 1, b"hello\n")

    def finish(self, job_id, code):
        self.executor.end(job_id, exit_code=code)

    def vanish(self, handle):
        self.executor.lose(*handle["fake"])


class SlurmDriver(LocalDriver):
    """The local driver's scripts, run by Slurm (the state directory is on this node, shared by
    the one-node cluster); a vanished attempt is one Slurm lost the status of."""

    name = "slurm"
    FAST = PollPolicy(fastest=0.1, slowest=0.5, watched=0.2)

    def __init__(self, tmp_path, cluster):
        self.tmp_path = tmp_path
        self.executor = SlurmExecutor(tmp_path / "state", policy=self.FAST)

    def restarted(self):
        return SlurmExecutor(self.tmp_path / "state", policy=self.FAST)

    def vanish(self, handle):
        # a job Slurm forgot (purged past MinJobAge, a controller that lost its state) that left
        # no status: the job ends, its status file goes, and the watch is pointed at an id Slurm
        # never gave (no test may wait MinJobAge or wipe the shared cluster's state)
        self.executor._watched[(handle["job"], handle["attempt"])]["slurm_id"] = 1
        self.executor.cmd.scancel([handle["slurm_id"]], signal="KILL", full=True)
        self.executor.files.status_path(handle["job"], handle["attempt"]).unlink(missing_ok=True)


DRIVERS = [FakeDriver, LocalDriver, SlurmDriver]


class Events:
    def __init__(self, executor):
        self.items: list[AttemptEvent] = []
        self.cond = threading.Condition()
        executor.bind(self.push)

    def push(self, ev):
        with self.cond:
            self.items.append(ev)
            self.cond.notify_all()

    def wait(self, job_id, kind, timeout=10.0):
        with self.cond:
            assert self.cond.wait_for(lambda: self.get(job_id, kind), timeout), \
                f"no {kind} for job {job_id}: {self.items}"
            return self.get(job_id, kind)

    def get(self, job_id, kind):
        return next((e for e in self.items if e.job_id == job_id and e.kind == kind), None)


@pytest.fixture(params=DRIVERS, ids=lambda d: d.name)
def driver(request, tmp_path):
    if request.param is SlurmDriver:
        d = SlurmDriver(tmp_path, request.getfixturevalue("slurm_cluster"))
    else:
        d = request.param(tmp_path)
    yield d
    d.executor.close()


def launch(driver, job_id, code=0):
    handle = driver.executor.launch(driver.request(job_id, driver.script(job_id, code)))
    return json.loads(json.dumps(handle))  # what the store gives back


def test_it_is_an_executor_and_its_handle_is_json(driver):
    assert isinstance(driver.executor, Executor)
    handle = driver.executor.launch(driver.request(1, driver.script(1, 0)))
    assert isinstance(handle, dict) and json.loads(json.dumps(handle)) == handle
    driver.finish(1, 0)


@pytest.mark.parametrize("code", [0, 3])
def test_started_then_ended_with_the_exit_status(driver, code):
    events = Events(driver.executor)
    handle = launch(driver, 1, code)
    driver.executor.watch(1, 1, handle)
    driver.begin(1)
    events.wait(1, "started")
    driver.finish(1, code)
    ended = events.wait(1, "ended")
    assert (ended.status.exit_code, ended.status.signal) == (code, None)
    kinds = [e.kind for e in events.items if e.job_id == 1]
    assert kinds.index("started") < kinds.index("ended") and "lost" not in kinds


def test_a_signal_ends_it_with_that_signal(driver):
    events = Events(driver.executor)
    handle = launch(driver, 1)
    driver.executor.watch(1, 1, handle)
    driver.begin(1)
    events.wait(1, "started")
    driver.executor.signal(handle, signal.SIGTERM)
    ended = events.wait(1, "ended")
    assert (ended.status.exit_code, ended.status.signal) == (None, signal.SIGTERM)


def test_after_a_restart_the_stored_handle_finds_it_running_or_settled(driver):
    running, done = launch(driver, 1), launch(driver, 2, code=4)
    driver.begin(1)
    driver.begin(2)
    driver.finish(2, 4)
    first = Events(driver.executor)
    driver.executor.watch(2, 1, done)
    first.wait(2, "ended")
    driver.executor.close()
    fresh = driver.restarted()  # a new host process: only the stored handles are left
    events = Events(fresh)
    try:
        fresh.watch(1, 1, running)
        fresh.watch(2, 1, done)
        events.wait(1, "started")
        assert events.wait(2, "ended").status.exit_code == 4
        assert events.get(1, "ended") is None and events.get(1, "lost") is None  # still running
        assert fresh.adopt(1, 1) is not None and fresh.adopt(3, 1) is None  # found without its handle; never begun
        driver.finish(1, 0)
        assert events.wait(1, "ended").status.exit_code == 0
    finally:
        fresh.close()


def test_its_log_is_readable(driver):
    events = Events(driver.executor)
    handle = launch(driver, 1)
    driver.executor.watch(1, 1, handle)
    driver.begin(1)
    driver.finish(1, 0)
    events.wait(1, "ended")
    data, offset = driver.executor.read_log(1, 1)
    assert data == b"hello\n" and offset == 6  # the local job's own "echo hello"
    assert driver.executor.read_log(1, 1, offset) == (b"", 6)


def test_a_vanished_attempt_is_reported_lost(driver):
    events = Events(driver.executor)
    handle = launch(driver, 1)
    driver.executor.watch(1, 1, handle)
    driver.begin(1)
    events.wait(1, "started")
    driver.vanish(handle)
    events.wait(1, "lost")
    assert events.get(1, "ended") is None

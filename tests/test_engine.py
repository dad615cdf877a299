"""The Engine driven directly, with a fake executor and a fake clock: the scheduling rules (time
limits from ``started``, kill grace, dependency delays, retries and back-off, group limits,
restart recovery) in milliseconds. No thread: each test calls ``step`` as the loop would."""

from __future__ import annotations

import signal

import pytest

from jupyter_jobflow.core.depspec import parse
from jupyter_jobflow.core.gpumodel import NoGpus
from jupyter_jobflow.core.model import Group, Job, JobState, RetryPolicy
from jupyter_jobflow.engine.clock import FakeClock
from jupyter_jobflow.engine.executors.fake import FakeExecutor
from jupyter_jobflow.engine.scheduler import Engine, EngineConfig
from jupyter_jobflow.engine.store import Store


class Rig:
    """A store, an Engine over it, its FakeExecutor and FakeClock."""

    def __init__(self, path, *, kill_grace=30.0, fake=None, clock=None, store=None):
        self.clock = clock or FakeClock()
        self.fake = fake or FakeExecutor(self.clock)
        self.store = store or Store(path / "jobflow.db")
        self.engine = Engine(self.store, {"fake": self.fake}, NoGpus(), EngineConfig(kill_grace=kill_grace), self.clock)
        self.engine.recover()
        self.run()

    def submit(self, dependency=None, **fields):
        job = Job(0, fields.pop("name", "j"), ("work",), executor="fake", submitted_at=self.clock(), **fields)
        spec = parse(dependency) if dependency else None
        jid = self.store.insert_job(job, [(p.target, p.type, p.delay) for p in spec.conditions] if spec else [])
        self.engine.add(job.evolve(id=jid, dependency=dependency), spec)
        self.run()
        return jid

    def run(self):
        """Steps until nothing is left to do now (what the loop does when woken)."""
        for _ in range(20):
            self.engine.step()
            if not self.engine._to_watch and not self.engine._events and not self.engine._dirty:
                return
        raise AssertionError("the engine does not settle")

    def advance(self, seconds):
        self.clock.advance(seconds)
        self.run()

    def job(self, jid):
        return self.engine.jobs[jid]

    def state(self, jid):
        return self.job(jid).state


@pytest.fixture
def rig(tmp_path):
    return Rig(tmp_path)


def test_a_launched_job_runs_and_finishes_with_its_status(rig):
    jid = rig.submit()
    assert rig.state(jid) is JobState.RUNNING and rig.fake.launched() == [(jid, 1)]
    assert rig.job(jid).started_at is None  # launched, not begun: no start time yet
    rig.advance(5)
    rig.fake.start(jid)
    rig.run()
    assert rig.job(jid).started_at == rig.clock()
    rig.fake.end(jid, exit_code=3)
    rig.run()
    job = rig.job(jid)
    assert (job.state, job.exit_code, str(job.reason)) == (JobState.FAILED, 3, "ExitCode:3")
    assert [a.handle for a in rig.store.attempts(jid)] == [{"fake": [jid, 1]}]


def test_the_time_limit_counts_from_started_not_from_launch(rig):
    jid = rig.submit(time_limit=60)
    rig.advance(3600)  # an hour queued inside the executor (Slurm's PENDING): no timeout
    assert rig.state(jid) is JobState.RUNNING and rig.job(jid).stopping is None
    rig.fake.start(jid)
    rig.run()
    began = rig.clock()
    rig.advance(59.9)
    assert rig.job(jid).stopping is None
    assert rig.state(jid) is JobState.RUNNING and rig.fake.backend.signals == []
    rig.advance(0.1)
    assert rig.fake.backend.signals == [(jid, 1, signal.SIGTERM, began + 60)]  # the fake job dies of it
    job = rig.job(jid)
    assert (job.state, str(job.reason)) == (JobState.TIMEOUT, "TimeLimit:00:01:00")
    assert job.ended_at == began + 60


def test_kill_grace_sigterm_then_sigkill_after_the_grace(tmp_path):
    rig = Rig(tmp_path, kill_grace=10)
    rig.fake.ignores.add(signal.SIGTERM)  # a job that traps SIGTERM
    jid = rig.submit(time_limit=5)
    rig.fake.start(jid)
    rig.run()
    t0 = rig.clock()
    rig.advance(5)
    assert rig.state(jid) is JobState.RUNNING and rig.job(jid).kill_at == t0 + 15
    rig.advance(9.99)
    assert [s for _, _, s, _ in rig.fake.backend.signals] == [signal.SIGTERM]
    rig.advance(0.01)
    assert rig.fake.backend.signals == [(jid, 1, signal.SIGTERM, t0 + 5), (jid, 1, signal.SIGKILL, t0 + 15)]
    job = rig.job(jid)
    assert (job.state, job.signal, str(job.reason)) == (JobState.TIMEOUT, signal.SIGKILL, "TimeLimit:00:00:05")


def test_cancel_of_a_job_still_queued_in_its_executor_ends_it(rig):
    jid = rig.submit()
    rig.engine.stop_running(jid, "cancel")
    rig.run()
    assert rig.state(jid) is JobState.CANCELLED and rig.fake.backend.signals[0][2] == signal.SIGTERM


def test_a_dependency_delay_starts_exactly_when_the_clock_passes_it(rig):
    parent = rig.submit()
    child = rig.submit(dependency=f"afterok:{parent}+10m")
    rig.fake.start(parent)
    rig.fake.end(parent, exit_code=0)
    rig.run()
    ended = rig.job(parent).ended_at
    assert rig.state(child) is JobState.QUEUED and rig.job(child).reason.kind == "DependencyReadyAfter"
    rig.advance(599.999)
    assert rig.state(child) is JobState.QUEUED
    rig.advance(0.001)
    assert rig.state(child) is JobState.RUNNING and rig.engine.jobs[child].attempt == 1
    assert rig.store.attempts(child)[0].started_at == ended + 600


def test_retries_back_off_and_each_attempt_has_its_handle(rig):
    jid = rig.submit(retry=RetryPolicy(retries=2, delay=10, backoff=3))
    waits = []
    for attempt in (1, 2):
        rig.fake.start(jid, attempt)
        rig.fake.end(jid, attempt, exit_code=1)
        rig.run()
        job = rig.job(jid)
        assert (job.state, job.reason.kind) == (JobState.QUEUED, "RetryBackoff")
        waits.append(job.retry_at - rig.clock())
        rig.advance(waits[-1] - 0.01)
        assert rig.job(jid).attempt == attempt
        rig.advance(0.01)
        assert rig.job(jid).attempt == attempt + 1 and rig.state(jid) is JobState.RUNNING
    assert waits == [10, 30]
    rig.fake.start(jid, 3)
    rig.fake.end(jid, 3, exit_code=0)
    rig.run()
    assert rig.state(jid) is JobState.FINISHED
    assert [a.handle for a in rig.store.attempts(jid)] == [{"fake": [jid, n]} for n in (1, 2, 3)]


def test_a_lost_attempt_is_said_so_explicitly(rig):
    jid = rig.submit()
    rig.fake.start(jid)
    rig.run()
    rig.advance(3600)  # silence is not loss
    assert rig.state(jid) is JobState.RUNNING
    rig.fake.lose(jid)
    rig.run()
    job = rig.job(jid)
    assert (job.state, job.reason.kind) == (JobState.FAILED, "Lost")


def test_a_group_limit_holds_jobs_until_one_ends(rig):
    rig.engine.set_group(Group("g", 2))
    ids = [rig.submit(group="g") for _ in range(4)]
    rig.run()
    assert [rig.state(j) for j in ids] == [JobState.RUNNING] * 2 + [JobState.QUEUED] * 2
    rig.fake.end(ids[0], exit_code=0)
    rig.run()
    assert [rig.state(j) for j in ids] == [JobState.FINISHED, JobState.RUNNING, JobState.RUNNING, JobState.QUEUED]


def test_a_launch_that_fails_is_a_spawn_error(rig):
    rig.fake.fail_launch = OSError("no such partition")
    jid = rig.submit()
    job = rig.job(jid)
    assert (job.state, job.reason.kind) == (JobState.FAILED, "SpawnError") and "no such partition" in str(job.reason)


def test_an_unknown_executor_is_a_spawn_error_naming_the_ones_there_are(rig):
    job = Job(0, "x", ("work",), executor="slurm", submitted_at=rig.clock())
    jid = rig.store.insert_job(job, [])
    rig.engine.add(job.evolve(id=jid), None)
    rig.run()
    reason = str(rig.job(jid).reason)
    assert rig.state(jid) is JobState.FAILED and "no executor named 'slurm'" in reason and "fake" in reason


def test_restart_recovery_adopts_running_settles_ended_and_restarts_never_begun(tmp_path):
    rig = Rig(tmp_path)
    running, ended, lost, pending = (rig.submit(time_limit=100) for _ in range(4))
    for jid in (running, ended, lost):
        rig.fake.start(jid)
    rig.run()
    began = rig.job(running).started_at
    rig.engine.stop()
    rig.store.close()
    # while the host is down: one ends, one vanishes, one is still queued in the executor
    rig.fake.end(ended, exit_code=7)
    rig.fake.lose(lost)
    rig.fake.backend.attempts.pop((pending, 1))  # its launch was never made (host died first)
    rig.store.db = None
    with Store(tmp_path / "jobflow.db").transaction():
        pass
    store = Store(tmp_path / "jobflow.db")
    store.db.execute("UPDATE attempts SET handle = NULL WHERE job_id = ?", [pending])  # recorded as starting only
    again = Rig(tmp_path, fake=rig.fake.restarted(), clock=rig.clock, store=store)
    assert again.state(running) is JobState.RUNNING and again.job(running).started_at == began
    assert (again.state(ended), again.job(ended).exit_code) == (JobState.FAILED, 7)
    assert (again.state(lost), again.job(lost).reason.kind) == (JobState.FAILED, "Lost")
    assert again.state(pending) is JobState.RUNNING and again.job(pending).attempt == 1  # started once, now
    assert again.fake.state(pending) == "pending"
    again.advance(100)  # the adopted job's time limit still counts from its real start
    assert again.state(running) is JobState.TIMEOUT and again.job(running).ended_at == began + 100


def test_the_loop_thread_sleeps_until_the_fake_clock_moves(tmp_path):
    """With the scheduler's thread running, a FakeClock's advance wakes it: a delay of a day passes at once."""
    clock = FakeClock()
    fake = FakeExecutor(clock, starts_at_once=True)
    store = Store(tmp_path / "jobflow.db")
    engine = Engine(store, {"fake": fake}, NoGpus(), EngineConfig(), clock)
    changed = []
    engine.subscribe(changed.append)
    engine.start()
    try:
        job = Job(0, "later", ("work",), executor="fake", submitted_at=clock(), dependency=None)
        parent = store.insert_job(job, [])
        engine.add(job.evolve(id=parent), None)
        _wait(lambda: fake.state(parent) == "running")
        fake.end(parent, 1, 0)
        spec = parse(f"afterok:{parent}+1d")
        child = store.insert_job(job, [(parent, "afterok", 86400)])
        engine.add(job.evolve(id=child, dependency=f"afterok:{parent}+1d"), spec)
        _wait(lambda: engine.jobs[child].reason is not None and engine.jobs[child].reason.kind == "DependencyReadyAfter")
        clock.advance(86400)
        _wait(lambda: fake.state(child) == "running")
    finally:
        engine.stop()
        store.close()


def _wait(predicate, timeout=5.0):
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within 5 s"
        time.sleep(0.001)

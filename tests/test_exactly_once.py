"""A job starts exactly once, whatever is killed when (issue: launch exactly once).

The host is SIGKILLed at many points while a 100-job fan-out launches, and a new host takes over:
every (job, attempt) ran at most once, every job ran in the end, nothing is orphaned. A commit the
database refuses (a real SQLite error, raised by a trigger on the host's own connection) leaves no
process behind, and once the database accepts writes again every job runs once.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from helpers import stop_everything, wait_terminal, wait_until

from jupyter_jobflow.core.model import JobState
from jupyter_jobflow.engine.service import JobService
from jupyter_jobflow.engine.store import Store

HOST = Path(__file__).with_name("host_process.py")
FANOUT = 100
# each run appends "<job>.<attempt>" to the file named by $RAN: one line per process that ran
RECORD = 'echo "$JOBFLOW_JOB_ID.$JOBFLOW_ATTEMPT" >> "$RAN"'


def start_host(state_dir: Path, env: dict[str, str], *fanout: str) -> tuple[subprocess.Popen, list[int]]:
    args = [sys.executable, str(HOST), str(state_dir)] + (["--fanout", *fanout] if fanout else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    ids = [int(x) for x in proc.stdout.readline().split()] if fanout else []
    assert proc.stdout.readline().strip() == "ready"
    return proc, ids


def wait_store(store: Store, predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"{what}: not after {timeout}s"
        time.sleep(0.01)
    return found


def ran_counts(path: Path) -> collections.Counter:
    return collections.Counter(path.read_text().split()) if path.exists() else collections.Counter()


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Live processes whose command line names ``text`` (a test's own tmp path): supervisors (by
    their status path) and jobs (by their command)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] != psutil.STATUS_ZOMBIE and text in " ".join(proc.info["cmdline"] or ()):
            found.append(proc)
    return found


# Delays after the gate opens at which the host dies: before, during and after the children's launch
# (recording 100 starts, spawning 100 supervisors one by one, recording their pids).
KILL_DELAYS = [0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.17, 0.25, 0.35, 0.5, 0.8]


def test_sigkill_during_a_fanout_launch_never_runs_a_job_twice(tmp_path):
    mid_launch = 0  # runs in which the host died with some children recorded as starting or spawned
    for n, delay in enumerate(KILL_DELAYS):
        root = tmp_path / f"run{n}"
        root.mkdir()
        state, gate, ran = root / "state", root / "go", root / "ran"
        env = {**os.environ, "RAN": str(ran)}
        host, ids = start_host(state, env, str(FANOUT), str(gate), RECORD)
        parent, children = ids[0], ids[1:]
        store = Store(state / "jobflow.db")
        try:
            wait_store(store, lambda: store.get_job(parent).state is JobState.RUNNING, "the gate job runs")
            gate.touch()
            time.sleep(delay)
            host.send_signal(signal.SIGKILL)
            host.wait(10)
            # what the dead host left: starts recorded without a handle are the window this is about
            attempts = [a for c in children for a in store.attempts(c)]
            if 0 < len(attempts) < FANOUT or any(a.handle is None for a in attempts):
                mid_launch += 1
            print(f"killed after {delay * 1000:.0f} ms: {len(attempts)} starts stored, "
                  f"{sum(a.handle is None for a in attempts)} without a handle, {sum(ran_counts(ran).values())} ran")
            host, _ = start_host(state, env)
            jobs = wait_store(store, lambda: (js := [store.get_job(c) for c in children]) and
                              all(j.state.terminal for j in js) and js, "every child ended")
            counts = ran_counts(ran)
            assert [j.state for j in jobs] == [JobState.FINISHED] * FANOUT, f"delay {delay}"
            assert max(counts.values()) == 1, f"delay {delay}: ran twice: {[k for k, v in counts.items() if v > 1]}"
            assert sorted(counts) == sorted(f"{j.id}.{j.attempt}" for j in jobs), f"delay {delay}"
            assert all(j.attempt == 1 for j in jobs)
            assert all(len(store.attempts(c)) == 1 for c in children)  # (a pid only where it was seen)
            assert [p for p in processes_mentioning(str(root)) if p.pid != host.pid] == []  # no orphan
        finally:
            host.kill()
            host.wait(10)
            store.close()
    assert mid_launch >= 2, f"only {mid_launch} of {len(KILL_DELAYS)} kills landed inside the launch"


def _fanout(svc: JobService, gate: Path, ran: Path, n: int = FANOUT) -> tuple[int, list[int]]:
    parent = svc.submit(["sh", "-c", f"while [ ! -f {gate} ]; do sleep 0.01; done"], name="gate").id
    children = [svc.submit(["sh", "-c", RECORD], dependency=f"afterok:{parent}",
                             env={"RAN": str(ran)}, export="RAN").id
                for _ in range(n)]
    return parent, children


def _refuse(svc: JobService, trigger: str, when: str) -> None:
    """Make the host's own connection refuse a write, as a full disk would: a real SQLite error."""
    svc.store.db.execute(f"CREATE TEMP TRIGGER {trigger} {when} BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")


@pytest.mark.parametrize("refused", ["record the starts", "record the processes"])
def test_a_refused_commit_leaves_no_process_and_each_job_runs_once(tmp_path, refused):
    gate, ran = tmp_path / "go", tmp_path / "ran"
    svc = JobService(tmp_path / "state", kill_grace=1.0).start()
    try:
        parent, children = _fanout(svc, gate, ran)
        wait_until(svc, parent, lambda j: j.state is JobState.RUNNING, "Running")
        if refused == "record the starts":
            _refuse(svc, "full", "BEFORE INSERT ON attempts WHEN NEW.job_id != %d" % parent)
        else:
            _refuse(svc, "full", "BEFORE UPDATE OF handle ON attempts")
        gate.touch()
        wait_store(svc.store, lambda: svc.engine.store_error, "the refused write is reported")
        assert "database or disk is full" in svc.engine.store_error
        # nothing runs that the store does not know: the launches were killed, or never made; the
        # step is all or nothing, so even the gate job's end waits for the database
        assert processes_mentioning(str(tmp_path)) == []
        if refused == "record the starts":
            assert all(svc.store.attempts(c) == [] for c in children) and ran_counts(ran) == {}
            assert {svc.store.get_job(c).state for c in children} == {JobState.QUEUED}
        else:  # the starts were stored, their processes launched, then killed
            assert any(a.handle is None for c in children for a in svc.store.attempts(c))
        svc.store.db.execute("DROP TRIGGER full")
        svc.engine.wake()
        jobs = [wait_terminal(svc, c) for c in children]
        assert svc.engine.store_error is None
        counts = ran_counts(ran)
        assert counts and max(counts.values()) == 1
        for job in jobs:
            if job.state is JobState.FINISHED:
                assert counts[f"{job.id}.{job.attempt}"] == 1
            else:  # killed by the host after its supervisor had begun: lost, and said so
                assert (job.state, job.reason.kind) == (JobState.FAILED, "Lost"), job
        if refused == "record the starts":
            assert all(j.state is JobState.FINISHED and j.attempt == 1 for j in jobs)
        assert processes_mentioning(str(tmp_path)) == []
    finally:
        stop_everything(svc)


# -- a big array is stored in batches, so other requests pass between them: still whole or nothing --
def test_a_host_killed_while_storing_an_array_leaves_all_of_it_or_none(tmp_path):
    size, outcomes = 10_000, set()
    for n, delay in enumerate([0.05, 0.2, 0.4, 0.7, 1.5]):
        state = tmp_path / f"run{n}" / "state"
        host = subprocess.Popen([sys.executable, str(HOST), str(state), "--array", str(size)],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert host.stdout.readline().strip() == "ready"
            time.sleep(delay)
            host.send_signal(signal.SIGKILL)
            host.wait(10)
            store = Store(state / "jobflow.db")  # what the dead host left, before a new one starts
            stored = store.db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
            store.close()
            again = JobService(state).start()
            try:
                tasks = again.list()
                assert len(tasks) in (0, size), f"killed after {delay}s: {len(tasks)} of {size} tasks"
                outcomes.add((0 < stored < size, len(tasks)))
                after = again.submit(["true"], hold=True)
                assert after.id > (tasks[-1].id if tasks else 1)  # ids are never reused, even a discarded array's
            finally:
                again.close()
        finally:
            host.kill()
            host.wait(10)
    assert (True, 0) in outcomes, f"no kill landed while the array was part-stored: {outcomes}"


def test_a_dependent_submitted_while_an_array_is_stored_waits_for_all_of_it(service):
    size, box = 10_000, {}
    writer = threading.Thread(target=lambda: box.update(sub=service.submit(["true"], array=f"0-{size - 1}",
                                                                            hold=True, scope="nb")))
    writer.start()
    wait_store(service.store, lambda: service.store.db.execute("SELECT 1 FROM pending_arrays").fetchone(),
               "the array is being stored")
    dependent = service.submit(["true"], depends_on="@", scope="nb")
    writer.join(60)
    first = box["sub"].id
    assert dependent.id > first + size - 1
    assert set(service.engine.specs[dependent.id].job_ids()) == set(range(first, first + size))
    assert service.get(dependent.id).state is JobState.QUEUED

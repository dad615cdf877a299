"""The hosting process dies with SIGKILL mid-chain; a new one on the same state directory
re-adopts the running job and the chain finishes with the right states and exit codes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from jupyter_jobflow.core.model import JobState
from jupyter_jobflow.engine.store import Store

HOST = Path(__file__).with_name("host_process.py")


def start_host(state_dir: Path, *chain: str) -> tuple[subprocess.Popen, list[int]]:
    args = [sys.executable, str(HOST), str(state_dir)] + (["--chain", *chain] if chain else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    ids = [int(x) for x in proc.stdout.readline().split()] if chain else []
    assert proc.stdout.readline().strip() == "ready"
    return proc, ids


def wait_states(store: Store, ids: list[int], predicate, timeout: float = 20.0):
    """Another process owns the engine, so read its store until the predicate holds."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = [store.get_job(i) for i in ids]
        if predicate(jobs):
            return jobs
        if time.monotonic() > deadline:
            raise AssertionError(f"states after {timeout}s: {[(j.id, j.state.value, str(j.reason)) for j in jobs]}")
        time.sleep(0.02)


def test_sigkill_host_mid_chain_then_restart_finishes_chain(tmp_path):
    state = tmp_path / "state"
    gate = tmp_path / "go"
    host, ids = start_host(state, "exit 0", f"while [ ! -f {gate} ]; do sleep 0.05; done; echo second",
                           "echo third; exit 5")
    store = Store(state / "jobflow.db")
    try:
        wait_states(store, ids, lambda js: js[1].state is JobState.RUNNING)
        host.send_signal(signal.SIGKILL)
        host.wait(10)
        gate.touch()  # the running job ends while no host is up
        host, _ = start_host(state)
        jobs = wait_states(store, ids, lambda js: all(j.state.terminal for j in js))
        assert [(j.state, j.exit_code) for j in jobs] == [
            (JobState.FINISHED, 0), (JobState.FINISHED, 0), (JobState.FAILED, 5)]
        assert (state / "logs" / str(ids[1]) / "1.log").read_text() == "second\n"
        assert (state / "logs" / str(ids[2]) / "1.log").read_text() == "third\n"
        assert jobs[2].started_at >= jobs[1].ended_at
    finally:
        host.kill()
        host.wait(10)
        store.close()

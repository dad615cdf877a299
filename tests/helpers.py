"""Helpers the tests share: waiting on the service's events (no sleeps), cleaning up."""

from __future__ import annotations

import threading
import time

from jupyter_jobflow.core.errors import Conflict
from jupyter_jobflow.core.model import TERMINAL, JobState
from jupyter_jobflow.engine.service import JobService


def wait_until(svc: JobService, job_id: int, predicate, expected: str, timeout: float = 15.0):
    """Block until ``predicate(job)`` holds, woken by the service's events (no polling)."""
    changed = threading.Condition()
    counter = [0]

    def on_event(_event):
        with changed:
            counter[0] += 1
            changed.notify_all()

    unsubscribe = svc.subscribe(on_event)
    deadline = time.monotonic() + timeout
    try:
        with changed:
            while True:
                seen = counter[0]
                job = svc.get(job_id)
                if predicate(job):
                    return job
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"job {job_id} is {job.state.value} ({job.reason}) after {timeout}s, "
                                         f"expected {expected}")
                changed.wait_for(lambda: counter[0] != seen, left)
    finally:
        unsubscribe()


def wait_job_state(svc: JobService, job_id: int, *states: JobState, timeout: float = 15.0):
    return wait_until(svc, job_id, lambda job: job.state in states, str([s.value for s in states]), timeout)


def wait_launched(svc: JobService, job_id: int, timeout: float = 15.0):
    """Wait until the job runs and its process is recorded (a start is committed first and its
    process spawned right after, outside the lock); returns the attempt's handle."""
    wait_job_state(svc, job_id, JobState.RUNNING, timeout=timeout)
    deadline = time.monotonic() + timeout
    while (handle := svc.engine.handles.get(job_id)) is None:
        assert time.monotonic() < deadline, f"job {job_id} runs but no process was recorded after {timeout}s"
        time.sleep(0.005)
    return handle


def wait_terminal(svc: JobService, job_id: int, timeout: float = 15.0):
    return wait_job_state(svc, job_id, *TERMINAL, timeout=timeout)


def until(what: str, check, timeout: float = 40.0, every: float = 0.05):
    """Poll ``check`` until it returns something true (and return that): for what no event tells,
    such as Slurm's own view of a job."""
    deadline = time.monotonic() + timeout
    while not (got := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)
    return got


def stop_everything(svc: JobService) -> None:
    """Cancel what still runs so no test leaves processes behind."""
    active = [j.id for j in svc.list(all=False)]
    if active:
        try:
            svc.cancel(active)
        except Conflict:  # the one job left ended between the listing and the cancel
            pass
        for jid in active:
            if svc.get(jid).state is JobState.RUNNING:
                wait_terminal(svc, jid, timeout=10)
    svc.close()

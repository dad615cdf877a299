"""The process side of the ``Engine``: record a start, launch it through the job's executor
outside the lock, record its handle; stop a running job (signal, then kill after the grace); settle
an attempt's end into the job's next state (retry, finish, fail, time out)."""

from __future__ import annotations

import logging
import os
import signal as _signal
import sqlite3
from dataclasses import replace as _replace

from ..core import outfiles
from ..core.model import Attempt, Job, JobState, Reason
from ..core.retry import Outcome, classify, retry_wait, should_retry
from ..core.transitions import transition
from .executors import ExitStatus, Handle, LaunchRequest

log = logging.getLogger("jupyter_jobflow")


class LaunchMixin:
    """Part of ``Engine`` (scheduler.py composes it)."""

    def _begin_launch(self, job: Job, gpus: tuple[int, ...], now: float) -> LaunchRequest:
        """Record the next attempt as starting (an attempt row without a handle), in the step's
        transaction: after a crash, recovery knows it may have begun. ``started_at`` waits for the
        executor's ``started``: the time limit counts from the moment the job really began."""
        attempt = job.attempt + 1
        native = self._native.pop(job.id, None)  # (Native, {their id: our parent}) when Slurm keeps the dependency
        self.store.insert_attempt(Attempt(job.id, attempt, now, gpus=gpus))
        self._save(transition(job, JobState.RUNNING, cause="start", reason=None, attempt=attempt, started_at=None,
                              allocated_gpus=gpus, used_gpus=gpus,
                              retry_at=None, ended_at=None, exit_code=None, signal=None))
        # the executor builds the environment (executors.job_env); a job that asked for no GPU
        # sees none, so it cannot take one behind the scheduler's back
        return LaunchRequest(job.id, attempt, tuple(job.command), job.cwd or os.path.expanduser("~"), job.env,
                             output=outfiles.expand(job.output, job) if job.output else None,
                             error=outfiles.expand(job.error, job) if job.error else None,
                             name=job.name, gpus=gpus, runtime_env=dict(self.runtime_env),
                             visible_devices=bool(job.gpus or job.gpu_ids or self.gpus.device_ids()),
                             pci_order=not self.gpus.simulated, job=job,
                             dependency=native[0] if native else None, parents=native[1] if native else {})

    def spawn(self, launches: list[LaunchRequest]) -> None:
        """Start what ``apply`` recorded as starting, outside the lock (a spawn costs a millisecond
        or two and nobody need wait for it), then record every handle in one commit. A commit that
        fails kills what was launched: no process runs that the store does not know."""
        if not launches:
            return
        results: list[tuple[LaunchRequest, Handle | None, Exception | None]] = []
        for req in launches:
            try:
                results.append((req, self.executor_of(self.jobs[req.job_id]).launch(req), None))
            except Exception as err:  # cannot spawn: the attempt fails with the reason, maybe retried
                results.append((req, None, err))
        with self.lock:
            try:
                with self.store.transaction():
                    for req, handle, err in results:
                        self._launched(self.jobs[req.job_id], handle, err)
            except sqlite3.Error as err:
                for req, handle, _ in results:
                    if handle is not None:
                        self.executor_of(self.jobs[req.job_id]).kill(handle)
                self._refused(err)
                return
            self._commit_events()
        if any(handle is None or self.dependents.get(req.job_id) for req, handle, _ in results):
            # a failed launch: its dependents and its GPUs; a launched one: dependents Slurm may keep
            self.wake()

    def _launched(self, job: Job, handle: Handle | None, err: Exception | None) -> None:
        if handle is None:
            outcome = classify(exit_code=None, signal=None, stopping=None, spawn_error=str(err).splitlines()[0])
            self._end_attempt(job, outcome, self.clock(), None, None)
            return
        self.store.record_launch(job.id, job.attempt, handle)
        self._record_handle_fields(job, handle)
        self.handles[job.id] = handle
        self._to_watch.add(job.id)
        if job.stopping:  # cancelled or timed out while it was starting
            self.executor_of(job).signal(handle, _signal.SIGTERM)

    def _record_handle_fields(self, job: Job, handle: Handle) -> None:
        """What the job shows of its attempt's handle, as its executor says (Slurm: ``slurm_job_id``);
        a launched job's dependents may now be handed to the executor with it (native dependencies)."""
        shown = getattr(self.executor_of(job), "job_fields", None)
        fields = shown(handle) if shown is not None else {}
        if fields and any(getattr(job, k) != v for k, v in fields.items()):
            self._save(job.evolve(**fields))
        self._dirty.update(self.dependents.get(job.id, ()))

    def _signal_stop(self, job: Job, why: str, now: float) -> None:
        """SIGTERM now, SIGKILL at ``kill_at``; a job still starting gets its SIGTERM once launched."""
        if job.stopping or job.state is not JobState.RUNNING:
            return
        handle = self.handles.get(job.id)
        if handle is not None:
            self.executor_of(job).signal(handle, _signal.SIGTERM)
        self._save(job.evolve(stopping=why, kill_at=now + self.config.kill_grace), "stopping", why=why)

    def _settle(self, jid: int, status: ExitStatus | None, handle: Handle | None) -> None:
        """Record how an attempt ended: ``status`` None means no status was written (Lost, or we
        SIGKILLed the supervisor while stopping the job)."""
        job = self.jobs[jid]
        self.handles.pop(jid, None)
        # the status file's mtime is coarser than time.time(): never end before the start
        ended_at = max(status.ended_at, job.started_at or 0.0) if status and status.ended_at is not None \
            else self.clock()
        outcome = classify(exit_code=status.exit_code if status else None, signal=status.signal if status else None,
                           stopping=job.stopping, time_limit=job.time_limit, lost=status is None)
        if status is not None and status.reason is not None and not job.stopping:  # the executor's own verdict
            kind = {JobState.CANCELLED: "cancel", JobState.TIMEOUT: "timeout"}.get(status.state, "failure")
            outcome = Outcome(kind, status.state, status.reason)
        if outcome.reason is not None and outcome.reason.kind == "ExitCode" and self.explain_exit is not None:
            told = self.explain_exit(jid, job.attempt)  # the job said why it failed: its words, not "exit 1"
            if told is not None:
                outcome = _replace(outcome, reason=told)
        self._end_attempt(job, outcome, ended_at, status.exit_code if status else None,
                          status.signal if status else None)

    def _end_attempt(self, job: Job, outcome: Outcome, ended_at: float, exit_code: int | None,
                     signal: int | None) -> None:
        self.store.end_attempt(job.id, job.attempt, ended_at=ended_at, exit_code=exit_code, signal=signal,
                               state=outcome.state, reason=outcome.reason)
        common = dict(allocated_gpus=(), stopping=None, kill_at=None, exit_code=exit_code, signal=signal)
        if should_retry(job, outcome):
            at = ended_at + retry_wait(job.retry, job.retry_count + 1)
            job = transition(job, JobState.QUEUED, cause="retry", retry_at=at, retry_count=job.retry_count + 1,
                             reason=Reason("RetryBackoff", {"attempt": job.retry_count + 2, "of": job.retry.retries + 1,
                                                            "at": at}), **common)
        else:
            job = transition(job, outcome.state, reason=outcome.reason, ended_at=ended_at, **common)
        self._save(job)
        self._dirty.add(job.id)
        self._dirty.update(self.dependents.get(job.id, ()))
        self._dirty.update(self._waiting_for_resources)  # its GPUs and slot are free again

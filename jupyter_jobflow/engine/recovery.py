"""Recovery for the ``Engine``: rebuild the mirror from the store, and settle every attempt that
was starting or running when the last host stopped (adopted when found running, settled from its
status when it ended, started once when it never began); and take attempts back to the queue
(unlaunch), as when a user cancel must not reach a dependent the batch system holds."""

from __future__ import annotations

import logging
import sqlite3
from collections import defaultdict
from contextlib import suppress

from ..core.errors import InvalidSpec
from ..core.model import DEPENDENCY, Job, JobState, Reason
from ..core.transitions import transition

log = logging.getLogger("jupyter_jobflow")


class RecoveryMixin:
    """Part of ``Engine`` (scheduler.py composes it)."""

    def recover(self) -> None:
        """Load the store; re-adopt attempts still running; settle those that ended meanwhile."""
        with self.lock:
            if self.store.discard_pending_arrays():  # a host died while storing an array: not submitted
                log.warning("jobflow: discarded a job array whose submission was cut short")
            self._load()
            with self.store.transaction():
                self.reconcile_attempts()
                self.watch_attempts()  # what ended or vanished meanwhile reports so at once: settle it now
                self.take_events(self.clock())
            self._commit_events()

    def _load(self) -> None:
        """Rebuild the mirror from the store: at start, and after a commit the store refused (the
        mirror may then hold changes the store does not). It writes only to fail a row it cannot
        read. Handles are kept for ``reconcile_attempts``, which the next step runs."""
        # every read first: a store that fails them leaves the mirror as it was, not half empty
        groups, stored, edges = self.store.groups(), self.store.load_jobs(), self.store.load_edges()
        self.jobs, self.specs, self.dependents, self.running = {}, {}, defaultdict(set), set()
        self._outbox.clear()
        self.groups = groups
        for job in stored:
            try:
                self._remember(job)
            except Exception as err:  # a stored value we cannot read must not stop every restart
                self._remember_broken(job, err)
        for child, parent in edges:
            self.dependents[parent].add(child)
        self._dirty.update(j.id for j in self.jobs.values() if j.state is JobState.QUEUED)
        self._reconcile_needed = True

    def reconcile_attempts(self) -> None:
        """Make every open attempt in the store match a process (or its end): the one place an
        attempt is adopted, settled or found never to have begun. In a transaction."""
        self._reconcile_needed = False
        self.handles = {}
        for a in self.store.open_attempts():
            job = self.jobs[a.job_id]
            try:
                executor = self.executor_of(job)
            except InvalidSpec:  # its executor is gone from this host: nothing can find it
                self._settle(a.job_id, None, None)
                continue
            handle = a.handle
            if handle is None:  # launched, handle unrecorded (or never launched)
                handle = executor.adopt(a.job_id, a.attempt)
                if handle is None:  # recorded as starting, never began: it may start now, as the same attempt
                    self._unlaunch(job)
                    continue
                self.store.record_launch(a.job_id, a.attempt, handle)
                self._record_handle_fields(job, handle)
            # running, ended meanwhile or vanished: its executor's events (watch) say which
            self.handles[a.job_id] = handle
            self._to_watch.add(a.job_id)
        for jid in list(self.running):
            if jid not in self.handles:  # Running in the store without an attempt row: lost
                self._settle(jid, None, None)

    def _unlaunch(self, job: Job) -> None:
        """Back to the queue: a start that was recorded but never reached a process."""
        self.store.delete_attempt(job.id, job.attempt)
        self._save(transition(job, JobState.QUEUED, cause="unlaunch", reason=DEPENDENCY, attempt=job.attempt - 1,
                              started_at=None, first_started_at=job.first_started_at if job.attempt > 1 else None,
                              allocated_gpus=()))
        self._dirty.add(job.id)

    def _take_back_before_cancel(self, job_id: int) -> None:
        """Slurm fires ``afternotok`` on a user cancel and we do not: before the cancel of
        ``job_id`` reaches Slurm, take back (scancel, to our queue) the dependents Slurm holds on it
        with ``afternotok`` (alone or in an OR), and those handed over behind them, deepest first
        so that no scancel fires another's dependency; our rule then decides them."""
        seen: set[int] = set()
        order: list[int] = []

        def visit(parent: int, first: bool) -> None:
            for child in sorted(self.dependents.get(parent, ())):
                job, handle = self.jobs.get(child), self.handles.get(child)
                if child in seen or job is None or handle is None or job.state is not JobState.RUNNING \
                        or job.started_at is not None or job.stopping is not None:
                    continue
                if parent not in (handle.get("parents") or {}).values():
                    continue  # not waiting inside the batch system on this parent
                spec = self.specs.get(child)
                if first and not (spec and any(c.target == parent and c.type == "afternotok" for c in spec.conditions)):
                    continue
                seen.add(child)
                visit(child, False)
                order.append(child)

        visit(job_id, True)
        for child in order:
            job = self.jobs[child]
            self.executor_of(job).kill(self.handles.pop(child))
            self._unlaunch(job)

    def _remember_broken(self, job: Job, err: Exception) -> None:
        log.error("job %s has a stored value that cannot be read (%s); it fails", job.id, err)
        failed = job.evolve(dependency=None,
                            reason=Reason("SpawnError", {"message": f"unreadable stored job: {err}"}),
                            ended_at=job.ended_at or self.clock())
        failed = failed if job.state.terminal else transition(failed, JobState.FAILED, cause="unreadable")
        with suppress(sqlite3.Error):  # a store that refuses writes: failed in the mirror, and next time
            self.store.update_job(failed)
        self._remember(failed)

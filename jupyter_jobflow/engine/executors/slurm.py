"""Job attempts as Slurm batch jobs: the same supervisor as on this machine, run by Slurm.

``launch`` writes a batch script (``slurm/<job>.<attempt>.sh`` in the state directory, which the
compute nodes must share) that runs the local executor's ``/bin/sh`` supervisor: it makes the
attempt's status file, runs the job (behind the ``--output``/``--error`` tee when asked), then
writes the exit code there; Slurm's ``--output`` is the attempt's log, as for a local job. Then
``sbatch --parsable`` it (``slurmrules.sbatch_argv``, with a native ``--dependency`` when the
engine found one). The handle is ``{"slurm_id", "job", "attempt", "parents"}``; ``parents`` maps
the Slurm ids named in the dependency to our ids (a dependent Slurm cancels names its parent).

ONE poller thread per executor asks ``squeue`` about every watched job in one call per poll
(``core/slurmpoll.py``'s back-off), ``sacct`` (or ``sacct -c``) only for jobs that left the queue
and have no status file. While someone watches a job (``watching``: its log followed, the event
stream open) the wait between polls is at most the policy's ``watched``; the watch lapses unless
renewed. It reports ``waiting`` (Slurm's pending reason: ``Slurm:Dependency``),
``started`` (Slurm RUNNING: the time limit counts from here), ``ended`` (the status file's exit
code, else Slurm's; Slurm's own verdicts TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED and a
dependency it found broken come as the status's state and reason) and ``lost`` (Slurm no longer
knows it and it left no status).

``submit_warning`` says at submit, once per host, when the nodes may not share the state
directory (``slurmrules.shared_state_warning``; ``JOBFLOW_SHARED_STATE=1`` declares it shared).

Stopping: SIGTERM is ``scancel`` (Slurm sends SIGTERM to every process, then SIGKILL after its
KillWait; the supervisor traps it and records the job's status); another signal is ``scancel
--signal --full``. The signals sent are noted beside the status file, as on this machine, so an
exit of 128+N after our signal N reads as "killed by N".

Long because: launch, the poller and the reading of an end share the watched set, the status
files and the handle's layout; the commands and the pure rules are apart already (slurmcmd.py,
core/slurmrules.py, core/slurmstates.py, core/slurmpoll.py).
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import socket
import signal as _signal
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ...core.depspec import DepSpec
from ...core.errors import InvalidSpec
from ...core.model import Job, JobState, Reason
from ...core.privacy import open_private, private_dir
from ...core.slurmpoll import PollPolicy
from ...core.slurmrules import Native, Parent, mount_type, native_dependency, sbatch_argv, shared_state_warning
from . import AttemptEvent, ExitStatus, Handle, LaunchRequest, Sink, job_env
from .local import _SUPERVISOR, LocalExecutor, output_argv
from .slurmcmd import SlurmCommands, SlurmJob, SlurmUnavailable

log = logging.getLogger("jupyter_jobflow")
_VERDICTS = {"OutOfMemory", "NodeFail", "Preempted", "BootFail", "Deadline", "DependencyFailed", "TimeLimit"}


def slurm_missing(env: Mapping[str, str] | None = None) -> str | None:
    """Why Slurm cannot be used from here (one line), or None: its commands on PATH, a config."""
    env = os.environ if env is None else env
    missing = [c for c in ("sbatch", "squeue", "scancel") if shutil.which(c, path=env.get("PATH")) is None]
    if missing:
        return f"Slurm's commands are not on PATH ({', '.join(missing)}): install Slurm's client or fix PATH"
    conf = env.get("SLURM_CONF") or "/etc/slurm/slurm.conf"
    if not os.path.exists(conf):
        return f"no Slurm configuration at {conf}: set SLURM_CONF to the cluster's slurm.conf"
    return None


def host_executors(state_dir: str | Path, policy: PollPolicy | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The executors this host adds to the local one: Slurm's where it is reachable; else why not."""
    why = slurm_missing()
    if why is not None:
        return {}, {"slurm": why}
    return {"slurm": SlurmExecutor(state_dir, policy=policy)}, {}


class SlurmExecutor:
    name = "slurm"
    remote = True  # Slurm brings its own GPUs and slots: the engine allocates none of ours

    def __init__(self, state_dir: str | Path, commands: SlurmCommands | None = None,
                 policy: PollPolicy | None = None, clock: Callable[[], float] = time.time):
        self.files = LocalExecutor(state_dir)  # the same status files and logs as on this machine
        self.state_dir = self.files.state_dir
        self._scripts = private_dir(self.state_dir / "slurm")
        self.cmd = commands or SlurmCommands()
        self.policy = policy or PollPolicy()
        self.clock = clock
        # the poller's own time: monotonic for the real clock (a wall-clock jump must not stall it);
        # a test's FakeClock drives it, and its advance wakes the poller
        self._tick: Callable[[], float] = time.monotonic if clock is time.time else clock
        self._unlisten = clock.on_advance(self._wake) if hasattr(clock, "on_advance") else None
        self._eyes: dict[int | None, float] = {}  # our job id (None: every job) -> watched until (_tick)
        self._sink: Sink = lambda event: None
        self._lock = threading.Condition()
        self._watched: dict[tuple[int, int], Handle] = {}
        self._began: set[tuple[int, int]] = set()
        self._waiting: dict[tuple[int, int], str] = {}
        self._thread: threading.Thread | None = None
        self._stop = False
        self._due = 0.0  # when the next poll is due (_tick)
        self._wait: float | None = None
        self._min_job_age: float | None = None
        self._shared: tuple[str | None] | None = None  # the state check's verdict, once per host
        self.polls = 0

    # -- the contract -----------------------------------------------------------------------
    def bind(self, sink: Sink) -> None:
        self._sink = sink

    def script_path(self, job_id: int, attempt: int) -> Path:
        return self._scripts / f"{job_id}.{attempt}.sh"

    def launch(self, req: LaunchRequest) -> Handle:
        if not req.argv:
            raise InvalidSpec(f"job {req.job_id}: empty command")
        job: Job = req.job or Job(id=req.job_id, name=req.name or str(req.job_id), command=req.argv)
        status = str(self.files.status_path(req.job_id, req.attempt))
        for stale in (status, f"{status}.sig"):  # left by a launch whose record a crash lost
            with suppress(FileNotFoundError):
                os.unlink(stale)
        logfile = self.files.log_path(req.job_id, req.attempt)
        logfile.parent.mkdir(exist_ok=True, mode=0o700)
        script = self.script_path(req.job_id, req.attempt)
        words = ["/bin/sh", "-c", _SUPERVISOR, "jobflow", status, req.cwd, self.files._umask, *output_argv(req)]
        with os.fdopen(open_private(script, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as f:
            f.write(f"#!/bin/sh\n# jobflow job {req.job_id} attempt {req.attempt}: our supervisor, run by Slurm\n"
                    f"{' '.join(shlex.quote(w) for w in words)}\n"
                    # the job's own exit code is the batch job's, so Slurm's dependencies see it fail
                    f"s=$(cat {shlex.quote(status)} 2>/dev/null); exit \"${{s:-1}}\"\n")
        argv = sbatch_argv(job.evolve(cwd=req.cwd), str(script), log_path=str(logfile), slurm=job.slurm,
                           dependency=req.dependency if isinstance(req.dependency, Native) else None)
        slurm_id = self.cmd.sbatch(argv, env=self._env(req, job))
        return {"slurm_id": slurm_id, "job": req.job_id, "attempt": req.attempt,
                "parents": {str(s): p for s, p in req.parents.items()}}

    def _env(self, req: LaunchRequest, job: Job) -> dict[str, str]:
        """What sbatch exports to the job (``--export=ALL``): the job's environment, with Slurm's
        own ``CUDA_VISIBLE_DEVICES`` for the GPUs it gives; sbatch itself needs SLURM_CONF and PATH."""
        env = job_env(req)
        if job.gpus or "gres" in job.slurm or "gpus" in job.slurm:
            env.pop("CUDA_VISIBLE_DEVICES", None)
            env.pop("CUDA_DEVICE_ORDER", None)
        if os.environ.get("SLURM_CONF"):
            env.setdefault("SLURM_CONF", os.environ["SLURM_CONF"])
        sbatch = shutil.which("sbatch")
        if sbatch and shutil.which("sbatch", path=env.get("PATH")) is None:
            env["PATH"] = f"{env.get('PATH', '')}:{os.path.dirname(sbatch)}".lstrip(":")
        return env

    def watch(self, job_id: int, attempt: int, handle: Handle) -> None:
        key = (job_id, attempt)
        with self._lock:
            if key in self._watched:
                return
            self._watched[key] = handle
            self._due = min(self._due, self._tick())  # a new job is news: poll soon
            self._wait = None
            if self._thread is None or not self._thread.is_alive():
                self._stop = False
                self._thread = threading.Thread(target=self._run, name="jobflow-slurm-poll", daemon=True)
                self._thread.start()
            self._lock.notify_all()

    def watching(self, job_ids: Iterable[int] | None = None, seconds: float = 5.0) -> None:
        """Someone watches these jobs (None: every job) for the next ``seconds``: poll at most
        ``policy.watched`` apart until then; a caller renews it while it still watches."""
        with self._lock:
            until = self._tick() + seconds
            for key in [None] if job_ids is None else job_ids:
                self._eyes[key] = max(self._eyes.get(key, until), until)
            if self._seen() and self._due > self._tick() + self.policy.watched:
                self._due = self._tick() + self.policy.watched
                self._lock.notify_all()

    def _seen(self) -> bool:
        """Whether someone watches a job the poller watches now (under the lock); forgets lapsed watches."""
        now = self._tick()
        self._eyes = {k: t for k, t in self._eyes.items() if t > now}
        return None in self._eyes and bool(self._watched) or any(j in self._eyes for j, _ in self._watched)

    def _wake(self) -> None:
        with self._lock:
            self._lock.notify_all()

    def adopt(self, job_id: int, attempt: int) -> Handle | None:
        """An attempt whose sbatch ran but whose id was not recorded: found in the queue by its
        batch script's path; ended already and forgotten: by its status file; else never begun."""
        script = str(self.script_path(job_id, attempt))
        if not os.path.exists(script):
            return None
        proc = self.cmd.run(["squeue", "-h", "-t", "all", "-o", "%i|%o"])
        for line in proc.stdout.splitlines() if proc.returncode == 0 else ():
            sid, _, command = line.partition("|")
            if command.strip() == script and sid.strip().isdigit():
                return {"slurm_id": int(sid), "job": job_id, "attempt": attempt, "parents": {}}
        if self.files.started(job_id, attempt):
            return {"slurm_id": None, "job": job_id, "attempt": attempt, "parents": {}}
        return None

    def signal(self, handle: Handle, sig: int) -> None:
        sid = handle.get("slurm_id")
        if sid is None:
            return
        began = (handle["job"], handle["attempt"]) in self._began or self.files.started(handle["job"], handle["attempt"])
        if began:
            with os.fdopen(open_private(f"{self.files.status_path(handle['job'], handle['attempt'])}.sig",
                                        os.O_WRONLY | os.O_CREAT | os.O_APPEND), "a") as f:
                f.write(f"{int(sig)}\n")  # before the signal: the end must read as killed by it
        if sig == _signal.SIGTERM or (sig == _signal.SIGKILL and not began):
            self.cmd.scancel([sid])
        elif began:
            self.cmd.scancel([sid], signal=_signal.Signals(sig).name[3:], full=True)

    def kill(self, handle: Handle) -> None:
        """Cancel an attempt the engine drops (unrecorded, or taken back): no event follows."""
        with self._lock:
            self._watched.pop((handle.get("job"), handle.get("attempt")), None)
        if handle.get("slurm_id") is not None:
            self.cmd.scancel([handle["slurm_id"]])

    def leader_pid(self, handle: Handle) -> int | None:
        return None  # on a compute node, not here

    def job_fields(self, handle: Handle) -> dict[str, Any]:
        """What the job shows of this handle (``gjob show``'s SlurmJobId, ``gqueue``'s slurm_job_id)."""
        return {"slurm_job_id": handle.get("slurm_id")}

    def read_log(self, job_id: int, attempt: int, offset: int = 0, limit: int = 1 << 20) -> tuple[bytes, int]:
        return self.files.read_log(job_id, attempt, offset, limit)

    def close(self) -> None:
        with self._lock:
            self._stop = True
            self._watched.clear()
            self._lock.notify_all()
            if self._unlisten is not None:
                self._unlisten()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.cmd.timeout + 5)
        self.files.close()

    def submit_warning(self) -> str | None:
        """At submit: one line when the compute nodes may not share the state directory
        (``slurmrules.shared_state_warning``); checked once (``/proc/mounts``, ``sinfo``)."""
        if os.environ.get("JOBFLOW_SHARED_STATE", "").lower() in ("1", "true", "yes"):
            return None
        if self._shared is None:
            path = os.path.realpath(self.state_dir)
            try:
                mounts = Path("/proc/mounts").read_text()
                nodes = self.cmd.node_names()
            except (OSError, SlurmUnavailable):
                return None  # not known: say nothing rather than something wrong
            name = socket.gethostname()
            here = {name, name.split(".")[0], socket.getfqdn(), "localhost"}
            self._shared = (shared_state_warning(path, fstype=mount_type(path, mounts), nodes=nodes, here=here,
                                                 declared=False),)
        return self._shared[0]

    # -- native dependencies (the engine asks, scheduler.py) ---------------------------------
    def min_job_age(self) -> float:
        if self._min_job_age is None:
            try:
                self._min_job_age = self.cmd.min_job_age()
            except SlurmUnavailable:
                return 300.0  # Slurm's default, until the controller answers
        return self._min_job_age

    def native_dependency(self, job: Job, spec: DepSpec, parents: Mapping[int, tuple[Job | None, Handle | None]],
                          *, now: float) -> tuple[Native, dict[int, int]] | None:
        """(Slurm's ``--dependency``, {Slurm id: our parent}) when every parent is a Slurm job of
        ours with an id and Slurm would decide as we do (``slurmrules.native_dependency``); None:
        our scheduler holds the job until its parents are done, then submits it."""
        found: dict[int, Parent] = {}
        ids: dict[int, int] = {}
        for pid, (pjob, handle) in parents.items():
            sid = None
            if pjob is not None and pjob.executor == self.name and pjob.state not in (JobState.QUEUED, JobState.HOLD):
                sid = (handle or {}).get("slurm_id")
            if pjob is None:
                found[pid] = Parent(None)
                continue
            ended = pjob.state.terminal
            found[pid] = Parent(sid, pjob.ended_at if ended else None,
                                may_retry=not ended and pjob.retry.retries > pjob.retry_count,
                                stopping=not ended and pjob.stopping is not None,
                                user_cancelled=pjob.state is JobState.CANCELLED and pjob.reason is not None
                                and pjob.reason.kind == "CancelledByUser")
            if sid is not None:
                ids[int(sid)] = pid
        verdict = native_dependency(spec, found, auto_cancel=job.auto_cancel, now=now,
                                    min_job_age=self.min_job_age())
        if isinstance(verdict, Native) and verdict.dependency is not None:
            return verdict, ids
        return None

    # -- the poller -------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stop and (not self._watched or self._tick() < self._due):
                    self._lock.wait(max(0.01, self._due - self._tick()) if self._watched else None)
                if self._stop:
                    return
            try:
                changed = self.poll()
            except SlurmUnavailable as err:  # slurmctld restarting: ask again later, lose nothing
                log.warning("jobflow: %s", err)
                changed = False
            except Exception:  # never let the poller die: the jobs would never end
                log.exception("jobflow: Slurm poll failed")
                changed = False
            with self._lock:
                self._wait = self.policy.next_wait(self._wait, changed=changed, now=self.clock(), watched=self._seen())
                self._due = self._tick() + self._wait

    def poll(self) -> bool:
        """One round: ONE squeue for every watched job; sacct for those that left the queue
        without a status file. Whether anything changed (the poll then tightens)."""
        with self._lock:
            items = dict(self._watched)
        if not items:
            return False
        self.polls += 1
        by_id = {int(h["slurm_id"]): key for key, h in items.items() if h.get("slurm_id") is not None}
        rows = self.cmd.squeue(by_id) if by_id else {}
        changed = False
        gone = [key for key, h in items.items() if h.get("slurm_id") is None or int(h["slurm_id"]) not in rows]
        for sid, key in by_id.items():
            if sid in rows:
                changed |= self._look(key, items[key], rows[sid])
        if gone:
            need = [int(items[k]["slurm_id"]) for k in gone
                    if items[k].get("slurm_id") is not None and self.files.read_status(*k) is None]
            acct = self.cmd.sacct(need) if need else {}
            for key in gone:
                self._end(key, items[key], acct.get(int(items[key]["slurm_id"] or 0)))
            changed = True
        return changed

    def _look(self, key: tuple[int, int], handle: Handle, row: SlurmJob) -> bool:
        found = row.outcome
        if found is None:
            return False
        if found.ended:
            self._end(key, handle, row)
            return True
        if found.state is JobState.RUNNING:
            if key not in self._began:
                self._began.add(key)
                self._sink(AttemptEvent("started", *key))
                return True
            return False
        why = row.reason or row.state
        if self._waiting.get(key) != why:
            self._waiting[key] = why
            self._sink(AttemptEvent("waiting", *key, reason=Reason("Slurm", {"reason": why})))
            return True
        return False

    def _end(self, key: tuple[int, int], handle: Handle, row: SlurmJob | None) -> None:
        with self._lock:
            if self._watched.pop(key, None) is None:
                return
        self._waiting.pop(key, None)
        status = self._status(key, handle, row)
        ran = self.files.started(*key) or (row is not None and row.start not in ("", "N/A", "Unknown", "None"))
        if status is not None and ran and key not in self._began:
            self._began.add(key)
            self._sink(AttemptEvent("started", *key))
        self._began.discard(key)
        self._sink(AttemptEvent("ended", *key, status=status) if status else AttemptEvent("lost", *key))

    def _status(self, key: tuple[int, int], handle: Handle, row: SlurmJob | None) -> ExitStatus | None:
        """Slurm's own verdict where it has one (out of memory, node failure, its time limit, a
        broken dependency); else our supervisor's status file; else Slurm's exit code; None: lost."""
        found = row.outcome if row is not None else None
        mine = self.files.read_status(*key)
        if found is not None and found.reason is not None and found.reason.kind in _VERDICTS:
            reason = found.reason
            if reason.kind == "DependencyFailed":
                reason = self._broken_parent(handle)
            return ExitStatus(found.exit_code, found.signal, mine.ended_at if mine else None,
                              state=found.state, reason=reason)
        if mine is not None:
            return mine
        if found is None or not found.ended:
            return None
        sent = self._sent(key)
        if sent:
            return ExitStatus(None, sent[-1])
        if found.state is JobState.CANCELLED:  # cancelled in Slurm, not by us
            return ExitStatus(found.exit_code, found.signal, state=JobState.CANCELLED, reason=found.reason)
        return ExitStatus(found.exit_code, found.signal)

    def _broken_parent(self, handle: Handle) -> Reason:
        """DependencyFailed naming OUR parent: Slurm says which of its ids broke the dependency."""
        parents = {int(s): p for s, p in (handle.get("parents") or {}).items()}
        from ...core.slurmstates import failed_parents

        try:
            fields = self.cmd.scontrol_job(int(handle["slurm_id"])) or {}
        except SlurmUnavailable:
            fields = {}
        broken = [parents[s] for s in failed_parents(fields.get("Dependency")) if s in parents]
        ours = broken[0] if broken else (next(iter(parents.values())) if parents else None)
        return Reason("DependencyFailed", {"job": ours if ours is not None else "Slurm"})

    def _sent(self, key: tuple[int, int]) -> list[int]:
        try:
            return [int(n) for n in Path(f"{self.files.status_path(*key)}.sig").read_text().split()]
        except (FileNotFoundError, ValueError):
            return []



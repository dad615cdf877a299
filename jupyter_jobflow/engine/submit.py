"""``JobService.submit``: validate a request, resolve ``@``, decide at once what can never run,
and store the job (an array: see ``arrays.py``). Nothing is stored when validation fails."""

from __future__ import annotations

import getpass
import os
import shlex
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..core import depspec, limits, outfiles
from ..core.depspec import DepSpec
from ..core.errors import InvalidSpec
from ..core.evaluate import Verdict, evaluate
from ..core.jobenv import stored_env
from ..core.model import DEPENDENCY, HELD_BY_USER, Job, JobState, Reason, RetryPolicy
from ..core.optvalues import array_indices
from ..core.privacy import private_dir, write_private
from ..core.request import JobRequest, format_gpus, parse_gpus
from ..core.slurmrules import sbatch_argv
from ..core.timespec import parse_time_limit
from ..core.transitions import initial
from .arrays import ARRAY_WAIT

INTERPRETERS = {"python", "python3", "bash", "sh", "zsh", "Rscript", "julia", "node", "perl"}


@dataclass(frozen=True)
class Submitted:
    """What a submission returns: the id even when the job was cancelled at once (S7)."""

    id: int
    name: str
    state: JobState
    warnings: tuple[str, ...] = ()
    #: every task's id, in index order, when the submission was a job array (``id`` is the first)
    array_ids: tuple[int, ...] = ()

    def __str__(self) -> str:
        return f"Submitted batch job {self.id} ({self.name})"


@dataclass(frozen=True)
class _Checked:
    """A request as ``submit`` checked it (``_check_request``), before its dependency is resolved."""

    request: JobRequest
    argv: list[str]
    output: str | None
    error: str | None
    count: int
    ids: tuple[int, ...] | None
    gpu_memory: int | None
    limit: float | None
    user: str
    scope: str
    spec: DepSpec | None
    policy: RetryPolicy
    indices: list[int]
    array_limit: int | None
    env: dict[str, str]
    executor: str = "local"


def default_name(command: Sequence[str]) -> str:
    """``python train.py --lr 1`` is ``train.py``; ``./run.sh`` is ``run.sh``."""
    words = list(command)
    if len(words) > 1 and os.path.basename(words[0]) in INTERPRETERS and not words[1].startswith("-"):
        return os.path.basename(words[1])
    return os.path.basename(words[0]) if words else "job"


def _check_submit_limits(argv: list[str], script: str | None, name: str | None, group: str | None,
                         cwd: str | None, env: dict[str, str] | None, priority: int, retries: int,
                         retry_delay: float, retry_backoff: float, retry_max_delay: float | None) -> None:
    """``limits``: the same bounds for in-process callers as the API and the parser apply."""
    limits.argv("The command", argv)
    if script is not None:
        limits.length("The script", script, limits.MAX_SCRIPT_CHARS)
    for what, text, most in (("--name", name, limits.MAX_NAME), ("--group", group, limits.MAX_NAME),
                             ("The working directory", cwd, limits.MAX_PATH)):
        if text is not None:
            limits.length(what, text, most)
    limits.env("The environment", dict(env or {}))
    limits.in_range("--priority", priority, *limits.PRIORITY_RANGE)
    limits.in_range("--retries", retries, 0, limits.MAX_RETRIES)
    limits.in_range("--retry-delay", retry_delay, 0, limits.MAX_SECONDS, unit=" seconds")
    limits.in_range("--retry-backoff", retry_backoff, 1, limits.MAX_BACKOFF)
    if retry_max_delay is not None:
        limits.in_range("--retry-max-delay", retry_max_delay, 0, limits.MAX_SECONDS, unit=" seconds")


def _history_needed(spec: DepSpec) -> int:
    deepest = 0
    for c in spec.conditions:
        if isinstance(c.target, str) and c.target.startswith("@"):
            deepest = max(deepest, int(c.target[2:] or 0) if c.target.startswith("@~") else 0)
    return deepest + 1


class SubmitVerbs:
    """The submit verbs of ``JobService`` (a mixin: ``service.py`` composes them)."""

    def submit(self, command: Sequence[str] | str | None = None, **fields: Any) -> Submitted:
        """``submit_request(JobRequest(command, **fields))``: ``svc.submit(["python", "train.py"], gpus=1)``.
        The fields are ``JobRequest``'s (``core/request.py``)."""
        return self.submit_request(JobRequest(command, **fields))

    def submit_request(self, request: JobRequest) -> Submitted:
        """Validate and queue one job; nothing is stored when validation fails (``InvalidSpec``).

        ``request.command`` is argv (a string is split like a shell would); or ``script`` text,
        run by ``interpreter`` (default ``/bin/bash``). ``gpu_memory`` is shared mode
        (``--gpu-memory``: MiB, or a size like ``"8G"``) and implies one GPU. ``dependency`` is a
        Slurm/Crane string or a ``DepSpec``, ``depends_on*`` gflow's flags; ``@`` and ``@~N``
        resolve against the submission history of ``scope``.

        ``array`` (``"0-9"``, ``"1,3,5"``, ``"0-15:4"``, ``"1-10%2"``) submits one job per index,
        named ``<name>[<index>]``, with ``JOBFLOW_ARRAY_TASK_ID``/``SLURM_ARRAY_TASK_ID`` and
        ``JOBFLOW_ARRAY_JOB_ID``/``SLURM_ARRAY_JOB_ID`` (the first task's id) set; ``%N`` runs at
        most N at once (a group ``array-<first id>``). The reply's id is the first task's.

        ``env`` is the submitter's environment; only what ``export`` (``--export``: ``ALL``,
        ``NONE``, ``NAME``, ``NAME=value``; default: the list in ``jobenv.py``) keeps is stored,
        and never a token (``JOBFLOW_TOKEN``, ``JPY_*``, this host's tokens): ``export="ALL"``
        keeps every variable of ``env``. ``output``/``error`` (``--output``/``--error``) are files
        that also get the job's stdout/stderr, relative to ``cwd``, with ``%j %x %A %a`` patterns
        (``outfiles.py``); the log stays.
        """
        self._accepting()
        c = self._check_request(request)
        r, argv, script, indices = request, c.argv, request.script, c.indices
        spec, user, scope = c.spec, c.user, c.scope
        with self._submit_lock:  # @ resolution and insertion must not interleave within one scope
            if spec is not None:
                history = self.store.recent_ids(scope=scope, limit=_history_needed(spec))
                if not history and not scope.startswith("tty:"):  # a new terminal's @ is not another's job
                    history = self.store.recent_ids(user=user, limit=_history_needed(spec))
                spec = self._expand_arrays(depspec.resolve(spec, history, scope_name=r.scope_name),
                                           corr=bool(indices))
                self._check_parents_exist(spec)
                task_specs = self._corr_specs(spec, indices)
                spec = task_specs[indices[0]] if task_specs else spec  # the first task's own
            else:
                task_specs = {}
            job, warnings = self._new_job(c, spec, self.engine.jobs.get)
            edges = [(x.target, x.type, x.delay) for x in (spec.conditions if spec else ())]
            if indices:  # its ids now (the order of submissions), its tasks after, without this lock
                job = job.evolve(id=self.store.reserve_array(job, edges, len(indices)))
                self._arrays_in_flight[job.id] = threading.Event()
            else:
                jobs = [self._store_job(job, edges, argv, script, r.interpreter)]
                self.engine.add_many(jobs, spec)
        base, group, array = job.name, r.group, r.array
        if indices:
            jobs = self._store_array(job, indices, edges, spec, c.array_limit, base, group, argv, script,
                                     r.interpreter, task_specs=task_specs)
        job_id, job = jobs[0].id, jobs[0]
        if warnings and job.state is JobState.CANCELLED:
            warnings[0] = warnings[0].replace("job ?", f"job {job_id}").replace("Job ?", f"Job {job_id}")
        said = getattr(self.engine.executors.get(job.executor), "submit_warning", lambda: None)()
        if said:  # e.g. Slurm's nodes may not see the state directory
            warnings.append(said)
        never = [t.id for t in jobs[1:] if task_specs and t.state is JobState.CANCELLED]
        if never:
            warnings.append(f"Warning: {len(never)} more task(s) of array {job_id} will never start (aftercorr: "
                            f"their parent task failed) and were cancelled: {', '.join(map(str, never))}")
        return Submitted(job_id, base if array is not None else job.name, job.state, tuple(warnings),
                         tuple(j.id for j in jobs) if array is not None else ())

    def _check_request(self, r: JobRequest) -> _Checked:
        """Everything ``submit`` checks of a request before it takes its lock (one-line errors)."""
        argv = shlex.split(r.command) if isinstance(r.command, str) else list(r.command or [])
        if not argv and r.script is None:
            raise InvalidSpec("Nothing to run: give a command, a script, or a cell")
        _check_submit_limits(argv, r.script, r.name, r.group, r.cwd, r.env, r.priority, r.retries, r.retry_delay,
                             r.retry_backoff, r.retry_max_delay)
        output, error = (outfiles.check(f"--{f}", v) if v is not None else None
                         for f, v in (("output", r.output), ("error", r.error)))
        executor = self._executor_for(r.executor)
        if executor == "slurm":  # Slurm's GPUs, not this machine's: sbatch_argv's checks, in _new_job
            count, ids = parse_gpus(r.gpus)
            gpu_memory = r.gpu_memory
        else:
            count, ids = self._parse_gpus(r.gpus)
            count, gpu_memory = self._parse_gpu_memory(r.gpu_memory, count, ids)
        limit = self._time_limit(r.time_limit)
        user = r.user or getpass.getuser()
        spec = r.dependency if isinstance(r.dependency, DepSpec) else depspec.from_flags(
            dependency=r.dependency, depends_on=r.depends_on, depends_on_all=r.depends_on_all,
            depends_on_any=r.depends_on_any)
        policy = RetryPolicy(retries=int(r.retries), delay=float(r.retry_delay), backoff=float(r.retry_backoff),
                             max_delay=r.retry_max_delay, retry_on=frozenset(r.retry_on or ("failure", "error")))
        if policy.retries < 0:
            raise InvalidSpec(f"--retries must be 0 or more, got {policy.retries}")
        indices, array_limit = array_indices(r.array) if r.array is not None else ([], None)
        env = stored_env(r.env, r.export, self._secrets)  # the one place a job's environment is filtered
        if array_limit is not None and r.group is not None:
            raise InvalidSpec("--array with %N cannot be combined with --group: %N uses a group of its own")
        return _Checked(r, argv, output, error, count, ids, gpu_memory, limit, user, r.scope or f"user:{user}", spec,
                        policy, indices, array_limit, dict(env or {}), executor)

    def _new_job(self, c: _Checked, spec: DepSpec | None, lookup: Callable[[int], Job | None],
                 job_id: int = 0) -> tuple[Job, list[str]]:
        """The job of a checked request, its dependency resolved: queued or held, or decided now
        when its dependency can never be met (S7, with the runtime rules, so no race)."""
        r = c.request
        job = Job(id=job_id, name=r.name or (default_name(c.argv) if c.argv else "script"), command=tuple(c.argv),
                  script=r.script, cwd=r.cwd or os.getcwd(), env=c.env, gpus=c.count, gpu_ids=c.ids,
                  gpu_memory=c.gpu_memory, time_limit=c.limit, priority=int(r.priority), group=r.group,
                  dependency=str(spec) if spec else None, auto_cancel=r.auto_cancel, retry=c.policy,
                  submitted_at=self.clock(), user=c.user, scope=c.scope, redo_of=r.redo_of, output=c.output,
                  error=c.error, run_id=r.run_id, task=r.task, executor=c.executor,
                  slurm=dict(r.slurm or {}) if c.executor == "slurm" else {})
        if c.executor == "slurm":  # what sbatch would refuse, refused now in one line
            sbatch_argv(job, "check", log_path="check", slurm=job.slurm)
        job = initial(job, JobState.HOLD if r.hold else JobState.QUEUED, reason=HELD_BY_USER if r.hold else DEPENDENCY)
        verdict = evaluate(spec, lookup)
        if verdict.never and not r.hold:
            job, warning = self._never_at_submit(job, verdict)
            return job, [warning]
        return job, []

    def submit_many(self, requests: Sequence[JobRequest], first_id: int,
                    hold_reasons: Mapping[int, Reason] | None = None) -> list[Job]:
        """Many jobs in one transaction (a flow run's tasks): each request checked as ``submit``
        checks it, then every job and edge stored with executemany and added to the mirror at once.
        The k-th request gets id ``first_id + k``, so a dependency may name a job of the batch
        before it; ``first_id`` is ``store.max_job_id() + 1``, read by the caller, which holds
        ``_submit_lock`` and ``engine.lock`` and the store's transaction around both. No arrays,
        no ``@``. ``hold_reasons`` (index -> reason) replaces a held job's reason."""
        self._accepting()
        if first_id != self.store.max_job_id() + 1:
            raise RuntimeError("submit_many: ids were taken meanwhile; hold _submit_lock and engine.lock")
        checked = [self._check_request(r) for r in requests]
        batch: dict[int, Job] = {}
        specs: dict[int, DepSpec | None] = {}
        for k, c in enumerate(checked):
            if c.indices:
                raise InvalidSpec("A job array cannot be one job of a batch; submit it on its own")
            spec = c.spec
            if spec is not None:
                spec = depspec.resolve(spec, [], scope_name=c.request.scope_name)
                outside = tuple(x for x in spec.conditions if x.target not in batch)
                if outside:  # parents stored before the batch: the rules of submit
                    spec = self._expand_arrays(spec)
                    self._check_parents_exist(DepSpec(spec.op, tuple(x for x in spec.conditions
                                                                     if x.target not in batch)))
            job, _ = self._new_job(c, spec, lambda i: batch.get(i) or self.engine.jobs.get(i), first_id + k)
            if job.state is JobState.HOLD and hold_reasons and k in hold_reasons:
                job = job.evolve(reason=hold_reasons[k])
            if c.request.script is not None:
                job = self._with_script(job, c.argv, c.request.script, c.request.interpreter)
            batch[job.id], specs[job.id] = job, spec
        jobs = list(batch.values())
        self.store.insert_jobs(jobs, [], edges_of={j.id: [(x.target, x.type, x.delay) for x in
                                                          (specs[j.id].conditions if specs[j.id] else ())]
                                                   for j in jobs})
        self.engine.add_many(jobs, None, specs=specs)
        return jobs

    def _store_job(self, job: Job, edges: list[tuple[int, str, int]], argv: list[str], script: str | None,
                   interpreter: str | None) -> Job:
        with self.store.transaction():
            job = job.evolve(id=self.store.insert_job(job, edges))
            if script is not None:
                job = self._with_script(job, argv, script, interpreter)
                self.store.update_job(job)
        return job

    def _with_script(self, job: Job, argv: list[str], script: str, interpreter: str | None) -> Job:
        runner = argv or shlex.split(interpreter or "/bin/bash")  # "#!/usr/bin/env bash": two words
        return job.evolve(command=(*runner, str(self._write_script(job.id, script))))

    def _write_script(self, job_id: int, script: str) -> Path:
        path = private_dir(self.state_dir / "scripts") / str(job_id)
        write_private(path, script)
        return path

    def _check_parents_exist(self, spec: DepSpec) -> None:
        for jid in spec.job_ids():
            if jid not in self.engine.jobs:
                if self._arrays_in_flight and jid <= self.store.max_job_id():  # a task of an array being stored?
                    for stored in list(self._arrays_in_flight.values()):
                        stored.wait(ARRAY_WAIT)
                if jid not in self.engine.jobs:
                    raise InvalidSpec(f"Dependency job {jid} not found")

    def _never_at_submit(self, job: Job, verdict: Verdict) -> tuple[Job, str]:
        cond, parent = verdict.failed[0]
        clause = f"{cond.type}:{cond.target}"
        detail = f"job {cond.target} is {parent.state.value}" if parent else f"job {cond.target} was purged"
        if parent is not None and parent.exit_code not in (None, 0) and parent.state is JobState.FAILED:
            detail += f", exit {parent.exit_code}"
        if job.auto_cancel:
            job = initial(job, JobState.CANCELLED, cause="never-satisfied-at-submit", ended_at=job.submitted_at,
                          reason=Reason("DependencyFailed", {"job": int(cond.target), "condition": clause}))
            return job, (f"Warning: job ? will never start: {clause} cannot be satisfied ({detail}). "
                         f"Job ? was cancelled; use --no-auto-cancel to keep it queued.")
        job = job.evolve(reason=Reason("DependencyNeverSatisfied", {"job": int(cond.target), "condition": clause}))
        return job, (f"Warning: job will never start unless job {cond.target} is redone in place: "
                     f"{clause} cannot be satisfied ({detail}).")

    def _executor_for(self, asked: str | None) -> str:
        """The executor a job asks for, else the host's default; one line naming what is missing
        when this host has no such executor (Slurm not reachable: ``slurm.slurm_missing``)."""
        name = asked or self.default_executor
        if name not in self.engine.executors:
            why = self.executor_problems.get(name) or f"this host runs {', '.join(sorted(self.engine.executors))} only"
            raise InvalidSpec(f"--executor {name}: not available here: {why}")
        return name

    def _parse_gpus(self, gpus: int | str | Sequence[int]) -> tuple[int, tuple[int, ...] | None]:
        """``--gpus`` by the one rule (``request.parse_gpus``); then refuse what this machine can never give."""
        count, ids = parse_gpus(gpus)
        devices = self.gpus.device_ids()
        if ids is not None:
            missing = [i for i in ids if i not in devices]
            if missing:
                raise InvalidSpec(f"--gpus {format_gpus(count, ids)}: GPU {missing[0]} does not exist here "
                                  f"({self._gpu_summary()})")
        elif count > len(devices):
            raise InvalidSpec(f"--gpus {count}: this machine has {self._gpu_summary()}")
        return count, ids

    def _gpu_summary(self) -> str:
        n = len(self.gpus.device_ids())
        if n == 0:
            return self.gpus.reason or "no GPUs"
        return f"{n} GPU{'s' if n != 1 else ''}" + (" (simulated)" if self.gpus.simulated else "")

    def _time_limit(self, value: str | float | None) -> float | None:
        if value is None:
            return self.default_time_limit
        if isinstance(value, (int, float)):
            if value <= 0:
                raise InvalidSpec(f"Time limit must be positive, got {value}")
            return float(limits.seconds("The time limit", value))
        return parse_time_limit(value)

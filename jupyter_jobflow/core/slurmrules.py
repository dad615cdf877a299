"""What a job becomes on Slurm: its native ``--dependency`` (or why it cannot have one), and its
``sbatch`` argv. Pure: the Slurm executor (engine/executors/) runs the commands.

A dependency goes to Slurm only where Slurm would decide exactly as we do (docs/rules.md,
Dependencies); anything else is held by our scheduler and submitted when ready, so a pipeline whose
parents are all on Slurm goes on inside Slurm while Jupyter is down, and nothing runs early.
Known difference kept on purpose: Slurm fires ``afternotok`` on a user cancel and we do not; the
engine takes such dependants back from Slurm before the cancel reaches it (engine/recovery.py), and
a parent being stopped is never named to Slurm (its end is ours to judge).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping

from .depspec import DepSpec
from .errors import InvalidSpec
from .model import Job

#: Slurm's options a job may carry through to ``sbatch`` as they are (``--name=value``)
PASSTHROUGH = ("partition", "account", "qos", "constraint", "mem", "cpus-per-task", "nodes", "ntasks",
               "gres", "gpus")
#: a parent that ended longer ago than MinJobAge minus this is not named to Slurm: it may be
#: forgotten (purged) by the time sbatch reaches the controller, and sbatch then refuses the job
MIN_JOB_AGE_MARGIN = 60.0
_SAFE_VALUE = re.compile(r"[^\s\0]([^\n\0]*[^\s\0])?")


@dataclass(frozen=True)
class Parent:
    """What the dependency rule needs to know of one parent.

    ``slurm_id``: its Slurm job id, None while it is not on Slurm (a local job, or one of ours not
    submitted yet); ``ended_at``: when it ended, None while active; ``may_retry``: a failed attempt
    would be retried (a retry is a new Slurm job, which Slurm's dependency would not follow);
    ``stopping``: we are stopping it; ``user_cancelled``: a person cancelled it (Slurm would read
    both as a failure, firing ``afternotok``; our rule does not).
    """

    slurm_id: int | None
    ended_at: float | None = None
    may_retry: bool = False
    stopping: bool = False
    user_cancelled: bool = False


@dataclass(frozen=True)
class Native:
    """Slurm can keep the dependency: ``dependency`` is its string (None: no dependency)."""

    dependency: str | None
    kill_on_invalid: bool = True

    def argv(self) -> list[str]:
        if self.dependency is None:
            return []
        return [f"--dependency={self.dependency}", f"--kill-on-invalid-dep={'yes' if self.kill_on_invalid else 'no'}"]


@dataclass(frozen=True)
class Held:
    """Slurm cannot keep it; ``why`` says so in one line (``gjob explain`` shows it)."""

    why: str


def native_dependency(spec: DepSpec | None, parents: Mapping[int, Parent], *, auto_cancel: bool = True,
                      now: float, min_job_age: float, namesakes_elsewhere: bool = False) -> Native | Held:
    """Slurm's ``--dependency`` for ``spec`` (our ids, resolved), or why it must be held by us.

    ``parents`` maps each of our parent ids to what we know of it; ``min_job_age`` is the cluster's
    MinJobAge in seconds; ``namesakes_elsewhere``: a job of ours with the same name and user runs
    outside Slurm, where Slurm's ``singleton`` cannot see it.
    """
    if spec is None or (not spec.conditions and not spec.singleton):
        return Native(None, auto_cancel)
    if spec.singleton and namesakes_elsewhere:
        return Held("singleton: a job of the same name runs outside Slurm, where Slurm cannot see it")
    clauses: list[tuple[str, str]] = []
    for c in spec.conditions:
        if not isinstance(c.target, int):
            raise ValueError(f"unresolved dependency target {c.target!r}")  # resolved at submit (R1)
        if c.type == "aftercorr":
            return Held(f"aftercorr:{c.target}: our array tasks are separate Slurm jobs, which Slurm cannot pair")
        if c.delay and c.type != "after":
            return Held(f"{c.type}:{c.target}+{c.delay}s: Slurm keeps a delay on 'after' only (it drops the rest)")
        if c.delay % 60:
            return Held(f"after:{c.target}+{c.delay}s: Slurm counts delays in whole minutes")
        parent = parents.get(c.target)
        if parent is None or parent.slurm_id is None:
            return Held(f"job {c.target} is not on Slurm (yet)")
        if parent.stopping:
            return Held(f"job {c.target} is being stopped; how it ends is ours to judge, not Slurm's")
        if parent.user_cancelled:
            return Held(f"job {c.target} was cancelled by a user, which Slurm would read as afternotok")
        if parent.may_retry:
            return Held(f"job {c.target} may be retried, and Slurm would not follow a retry")
        if parent.ended_at is not None and now - parent.ended_at > min_job_age - MIN_JOB_AGE_MARGIN:
            return Held(f"job {c.target} ended longer ago than Slurm remembers (MinJobAge {int(min_job_age)} s)")
        delay = f"+{c.delay // 60}" if c.delay else ""
        clauses.append((c.type, f"{parent.slurm_id}{delay}"))
    if spec.op == "or":
        text = "?".join(f"{t}:{target}" for t, target in clauses)
    else:
        groups: dict[str, list[str]] = {}
        for t, target in clauses:
            groups.setdefault(t, []).append(target)
        text = ",".join((["singleton"] if spec.singleton else []) + [f"{t}:{':'.join(v)}" for t, v in groups.items()])
    return Native(text, auto_cancel)


def slurm_time(seconds: float | None) -> str | None:
    """Our time limit as ``--time``: Slurm counts whole minutes, so it is rounded up (the batch
    script's supervisor stops the job at the exact limit); None: no limit of ours."""
    if seconds is None or seconds == math.inf:
        return None
    minutes = max(1, math.ceil(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    return f"{days}-{hours:02d}:{mins:02d}:00" if days else f"{hours:02d}:{mins:02d}:00"


def gres_gpu_count(gres: str) -> int:
    """GPUs named in a ``--gres`` value (``gpu:a100:2,shard:1`` -> 2; ``gpu`` -> 1)."""
    total = 0
    for item in gres.split(","):
        parts = item.strip().split(":")
        if parts[0] == "gpu":
            last = parts[-1] if len(parts) > 1 else "1"
            total += int(last) if last.isdigit() else 1
    return total


def sbatch_argv(job: Job, script: str, *, log_path: str, slurm: Mapping[str, str] | None = None,
                dependency: Native | None = None) -> list[str]:
    """``sbatch`` for one attempt of ``job``: ``script`` is the batch script, ``log_path`` the
    attempt's log in the (shared) state directory, ``slurm`` the Slurm options passed through.

    The job's own ``--output``/``--error`` files keep our ``%j`` (our job id, as on the local
    executor); the batch script writes them, so Slurm's ``--output`` is always our log.
    """
    slurm = dict(slurm or {})
    for key, value in slurm.items():
        if key not in PASSTHROUGH:
            raise InvalidSpec(f"--{key} is not passed to Slurm; the options that are: "
                              + ", ".join(f"--{k}" for k in PASSTHROUGH))
        if not isinstance(value, str) or not _SAFE_VALUE.fullmatch(value):
            raise InvalidSpec(f"--{key} expects one value on one line, got {value!r:.80}")
    if job.gpu_ids is not None:
        raise InvalidSpec("--gpus with device numbers picks GPUs of this machine; on Slurm ask for a count (--gpus 2)")
    if job.gpu_memory is not None:
        raise InvalidSpec("--gpu-memory shares a GPU of this machine; Slurm gives whole GPUs (--gpus N)")
    # --no-requeue: a node failure or a preemption ends the attempt (NodeFail, Preempted) and OUR retry
    # policy decides; a requeue would run the same attempt again, behind the host's back
    argv = ["sbatch", "--parsable", f"--job-name={job.name}", f"--output={log_path}", f"--comment=jobflow:{job.id}",
            "--no-requeue"]
    if job.cwd:
        argv.append(f"--chdir={job.cwd}")
    limit = slurm_time(job.time_limit)
    if limit:
        argv.append(f"--time={limit}")
    asked = gres_gpu_count(slurm.get("gres", "")) + (gres_gpu_count(f"gpu:{slurm['gpus']}") if "gpus" in slurm else 0)
    if job.gpus and ("gres" in slurm or "gpus" in slurm):
        if asked != job.gpus:
            raise InvalidSpec(f"{job.gpus} GPUs asked for, and {asked} in Slurm's --gres/--gpus: give the count once")
    elif job.gpus:
        argv.append(f"--gres=gpu:{job.gpus}")
    argv += [f"--{key}={value}" for key, value in slurm.items()]
    if dependency is not None:
        argv += dependency.argv()
    argv.append(script)
    return argv


#: filesystem types that compute nodes can share (network and cluster filesystems)
SHARED_FS = frozenset({"nfs", "nfs4", "cifs", "smb3", "lustre", "gpfs", "beegfs", "ceph", "fuse.ceph", "glusterfs",
                       "fuse.glusterfs", "panfs", "wekafs", "orangefs", "pvfs2", "fuse.juicefs", "fuse.sshfs"})


def mount_type(path: str, mounts: str) -> str | None:
    """The type of the filesystem holding ``path`` (absolute, resolved), from ``/proc/mounts``'s
    text: the longest mount point above it; None when no line matches."""
    best, kind = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def shared_state_warning(state_dir: str, *, fstype: str | None, nodes: set[str], here: set[str],
                         declared: bool) -> str | None:
    """One line when a Slurm job's state directory (logs, status files, batch scripts, a cell's
    ``--in``/``--out``) may not be seen by the compute nodes; None when it is fine: declared shared
    (``JOBFLOW_SHARED_STATE=1``), on a network or cluster filesystem, or the cluster's only node is
    this machine (``nodes``: Slurm's node names, ``here``: this machine's names)."""
    if declared or fstype in SHARED_FS or (nodes and nodes <= here):
        return None
    return (f"Warning: the state directory {state_dir} is on a local filesystem ({fstype or 'unknown'}) and Slurm's "
            f"nodes ({len(nodes) or 'unknown number'}) may not see it, so a job there would not find its script, "
            f"log or --in/--out: use a shared directory ($JOBFLOW_HOME or --state-dir), or set "
            f"JOBFLOW_SHARED_STATE=1 if the nodes do share it")

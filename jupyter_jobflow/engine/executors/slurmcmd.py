"""Slurm's commands, run with a timeout and read from their machine-readable output.

``sbatch --parsable``; one ``squeue`` for any number of jobs (``-t all``: also the jobs that ended
less than MinJobAge ago); ``sacct`` for jobs that left the queue (``sacct -c``, the job completion
file, where accounting is off; neither: the caller falls back on the job's own exit-status file);
``scontrol show job -o`` for a pending job's reason and dependency; ``scancel``. Every call is
counted (``calls``): tests and benchmarks check the controller is not hammered. The commands and
``SLURM_CONF`` come from the environment, as for any Slurm user.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from ...core.errors import InvalidSpec, JobflowError
from ...core.slurmstates import Outcome, outcome, split_exit, split_wait_status


class SlurmUnavailable(JobflowError):
    """A Slurm command could not be run or did not answer; one line, with the command's own words."""

    status = 503


#: squeue's fields, in order; '|' ends each (no field we ask for can hold one: names are left out)
SQUEUE_FIELDS = ("JobID", "State", "Reason", "exit_code", "TimeLimit", "StartTime", "EndTime", "NodeList")
SACCT_FIELDS = ("JobID", "State", "ExitCode", "Start", "End")
_INVALID_ID = "Invalid job id"
_ACCOUNTING_OFF = ("accounting storage is disabled", "accounting_storage/none")
_SCONTROL_PAIR = re.compile(r"(?:^|\s)([A-Za-z][\w/:]*)=(.*?)(?=\s[A-Za-z][\w/:]*=|$)")


@dataclass(frozen=True)
class SlurmJob:
    """One row of ``squeue``/``sacct`` about a job: Slurm's words, and ours (``outcome``)."""

    slurm_id: int
    state: str
    reason: str = ""
    exit_code: int | None = None
    signal: int | None = None
    time_limit: str = ""
    start: str = ""
    end: str = ""
    nodes: str = ""

    @property
    def outcome(self) -> Outcome | None:
        return outcome(self.state, reason=self.reason, exit_code=self.exit_code, signal=self.signal,
                       time_limit=self.time_limit)


def parse_sbatch(text: str) -> int:
    """``sbatch --parsable`` prints ``ID`` or ``ID;cluster``."""
    first = text.strip().splitlines()[-1] if text.strip() else ""
    head = first.split(";")[0]
    if not head.isdigit():
        raise SlurmUnavailable(f"sbatch printed no job id: {text.strip()[:200]!r}")
    return int(head)


def parse_squeue(text: str) -> dict[int, SlurmJob]:
    jobs: dict[int, SlurmJob] = {}
    for line in text.splitlines():
        cells = line.split("|")
        if len(cells) < len(SQUEUE_FIELDS) or not cells[0].strip().isdigit():
            continue  # array/het job rows (5000_1) are not ours
        jid, state, reason, status, limit, start, end, nodes = (c.strip() for c in cells[:len(SQUEUE_FIELDS)])
        code, sig = split_wait_status(status) if _ended(state) else (None, None)
        jobs[int(jid)] = SlurmJob(int(jid), state, reason, code, sig, limit, start, end, nodes)
    return jobs


def parse_sacct(text: str) -> dict[int, SlurmJob]:
    jobs: dict[int, SlurmJob] = {}
    for line in text.splitlines():
        cells = line.split("|")
        if len(cells) < len(SACCT_FIELDS) or not cells[0].strip().isdigit():
            continue  # steps (5000.batch) and array rows
        jid, state, exit_text, start, end = (c.strip() for c in cells[:len(SACCT_FIELDS)])
        code, sig = split_exit(exit_text)
        jobs[int(jid)] = SlurmJob(int(jid), state, "", code, sig, "", start, end)
    return jobs


def parse_scontrol(text: str) -> dict[str, str]:
    """``scontrol show job -o ID``: one line of ``Key=Value``; values may hold spaces."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return {m.group(1): m.group(2).strip() for m in _SCONTROL_PAIR.finditer(line)}


def _ended(state: str) -> bool:
    return state.split()[0].rstrip("+") not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED",
                                                "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD",
                                                "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING") if state else False


@dataclass
class SlurmCommands:
    """Runs Slurm's commands. ``env``: their environment (None: this process's, with its
    ``SLURM_CONF``); ``timeout``: seconds before a command that does not answer is given up."""

    env: Mapping[str, str] | None = None
    timeout: float = 30.0
    calls: Counter = field(default_factory=Counter)
    #: sacct's source: "sacct" (accounting), "sacct -c" (completion file) or None (neither); found on first use
    _sacct_mode: str | None = field(default="?", repr=False)

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
        self.calls[argv[0]] += 1
        env = env if env is not None else self.env
        try:
            return subprocess.run(list(argv), capture_output=True, text=True, timeout=self.timeout,
                                  env=dict(env) if env is not None else None)
        except FileNotFoundError:
            raise SlurmUnavailable(f"{argv[0]} is not on PATH: is Slurm's client installed here?") from None
        except subprocess.TimeoutExpired:
            raise SlurmUnavailable(f"{argv[0]} did not answer within {self.timeout:g} s: is slurmctld up?") from None

    def _fail(self, what: str, proc: subprocess.CompletedProcess) -> SlurmUnavailable:
        words = " ".join((proc.stderr or proc.stdout or f"exit {proc.returncode}").split())
        return SlurmUnavailable(f"{what} failed: {words[:300]}")

    def sbatch(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> int:
        """Submit (``argv`` from ``slurmrules.sbatch_argv``); Slurm's refusal of the job's own options
        (a partition that does not exist, too many GPUs) is the user's to fix: ``InvalidSpec``."""
        proc = self.run(argv, env=env)
        if proc.returncode:
            words = " ".join(proc.stderr.replace("sbatch: error:", "").split())
            if "Unable to contact" in words or "Socket timed out" in words or "Zero Bytes" in words:
                raise SlurmUnavailable(f"sbatch failed: {words[:300]}")
            raise InvalidSpec(f"Slurm refused the job: {words[:300]}")
        return parse_sbatch(proc.stdout)

    def squeue(self, slurm_ids: Iterable[int]) -> dict[int, SlurmJob]:
        """All of ``slurm_ids`` that Slurm still knows, in ONE call (``-t all``: recent ends too)."""
        ids = sorted(set(slurm_ids))
        if not ids:
            return {}
        fmt = ",".join(f"{name}:|" for name in SQUEUE_FIELDS)
        proc = self.run(["squeue", "-h", "-t", "all", "-j", ",".join(map(str, ids)), "-O", fmt])
        if proc.returncode:
            if _INVALID_ID in proc.stderr:
                return {}  # none of them is known any more
            raise self._fail("squeue", proc)
        return parse_squeue(proc.stdout)

    def sacct(self, slurm_ids: Iterable[int]) -> dict[int, SlurmJob]:
        """Ended jobs that left the queue, from accounting, else from the job completion file;
        {} where Slurm keeps neither (then the job's own exit-status file tells)."""
        ids = sorted(set(slurm_ids))
        if not ids or self._sacct_mode is None:
            return {}
        modes = ["sacct", "sacct -c"] if self._sacct_mode == "?" else [self._sacct_mode]
        for mode in modes:
            proc = self.run([*mode.split(), "-n", "-P", "-X", "-o", ",".join(SACCT_FIELDS), "-j", ",".join(map(str, ids))])
            off = any(words in f"{proc.stdout} {proc.stderr}" for words in _ACCOUNTING_OFF)
            if proc.returncode == 0 and not off:
                self._sacct_mode = mode
                return parse_sacct(proc.stdout)
            if mode == "sacct" and not off:
                raise self._fail("sacct", proc)
        self._sacct_mode = None  # no accounting, no completion file: ask no more
        return {}

    def scontrol_job(self, slurm_id: int) -> dict[str, str] | None:
        """``scontrol show job``'s fields (``JobState``, ``Reason``, ``Dependency``, ``ExitCode``...);
        None when Slurm no longer knows the job."""
        proc = self.run(["scontrol", "-o", "show", "job", str(int(slurm_id))])
        if proc.returncode:
            if _INVALID_ID in proc.stderr:
                return None
            raise self._fail("scontrol show job", proc)
        return parse_scontrol(proc.stdout)

    def scancel(self, slurm_ids: Iterable[int], *, signal: str | None = None, full: bool = False) -> None:
        """Cancel (or signal) jobs, all in one call; a job that already ended is not an error.
        ``full``: the signal goes to the batch script's processes too, not only to job steps."""
        ids = sorted(set(slurm_ids))
        if not ids:
            return
        proc = self.run(["scancel", *([f"--signal={signal}"] if signal else []), *(["--full"] if full else []),
                         *map(str, ids)])
        if proc.returncode and _INVALID_ID not in proc.stderr and "already completing" not in proc.stderr:
            raise self._fail("scancel", proc)

    def hold(self, slurm_ids: Iterable[int], *, release: bool = False) -> None:
        ids = sorted(set(slurm_ids))
        if ids:
            proc = self.run(["scontrol", "release" if release else "hold", ",".join(map(str, ids))])
            if proc.returncode:
                raise self._fail(f"scontrol {'release' if release else 'hold'}", proc)

    def min_job_age(self) -> float:
        """The cluster's MinJobAge in seconds (how long an ended job stays in the queue's memory)."""
        proc = self.run(["scontrol", "show", "config"])
        if proc.returncode:
            raise self._fail("scontrol show config", proc)
        m = re.search(r"^MinJobAge\s*=\s*(\d+)", proc.stdout, re.M)
        return float(m.group(1)) if m else 300.0  # Slurm's default

    def node_names(self) -> set[str]:
        """The cluster's node names (``sinfo -h -N -o %N``: one line per node and partition)."""
        proc = self.run(["sinfo", "-h", "-N", "-o", "%N"])
        if proc.returncode:
            raise self._fail("sinfo", proc)
        return {line.strip() for line in proc.stdout.splitlines() if line.strip()}

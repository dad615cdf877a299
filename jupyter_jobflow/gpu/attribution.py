"""Per-job GPU attribution: whose is the process on the GPU?

Each GPU process's pid is walked up its parents (psutil) until one of them is a job's supervisor
(the ``sh`` that is the job's session and process-group leader) or a kernel of this server
(``kernel_lookup(pid) -> notebook path | None``, given by the Jupyter extension). A process that
left the job's tree but kept its session (``os.getsid``) still counts as the job's. Anything
else is "unmanaged": another user's run, a process started by hand, or a pid this host cannot see
(another container). The first match from the process upwards wins, so a kernel's own child
process is the kernel's.

Ancestor chains are cached per process and re-checked with one read of ``/proc/PID/stat`` per
sample (same start time, name and parent), so attribution costs one small read per GPU process.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import psutil

from ..core.gpumodel import JobOnGpu

log = logging.getLogger("jupyter_jobflow")

KernelLookup = Callable[[int], "str | None"]


@dataclass(frozen=True)
class Owner:
    """Who a GPU process belongs to: ``kind`` is ``job``, ``kernel`` or ``unmanaged``."""

    kind: str
    job_id: int | None = None
    job_name: str | None = None
    path: str | None = None  # the kernel's notebook
    process_name: str | None = None
    user: str | None = None
    visible: bool = True  # False: no such pid here (another pid namespace, or it just ended)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "job":
            out.update(job_id=self.job_id, name=self.job_name)
        elif self.kind == "kernel":
            out.update(path=self.path)
        out.update(process_name=self.process_name, user=self.user)
        if not self.visible:
            out["visible"] = False
        return out

    def describe(self) -> str:
        if self.kind == "job":
            return f"job {self.job_id}" + (f" ({self.job_name})" if self.job_name else "")
        if self.kind == "kernel":
            return f"kernel {self.path}"
        who = ", ".join(x for x in (self.process_name, self.user) if x)
        return "unmanaged" + (f" ({who})" if who else "") + ("" if self.visible else " (not visible here)")


@dataclass
class _Seen:
    stat: tuple[str, int, int]  # name, parent, start time (see _stat)
    chain: tuple[int, ...]  # the pid, its parent, ... up to (not including) pid 1
    sid: int | None
    name: str | None
    user: str | None


class Attributor:
    """Maps GPU pids to owners. Thread-safe for one caller (the sampler)."""

    def __init__(self, kernel_lookup: KernelLookup | None = None):
        self.kernel_lookup = kernel_lookup
        self._seen: dict[int, _Seen] = {}
        self._last: dict[int, Owner] = {}  # a process that just ended keeps its owner while listed
        self._lookup_failed = False

    def owners(self, pids: Iterable[int], jobs: Sequence[JobOnGpu]) -> dict[int, Owner]:
        supervisors = {j.supervisor_pid: j for j in jobs if j.supervisor_pid}
        pids = set(pids)
        out = {}
        for pid in pids:
            owner = self.owner(pid, supervisors)
            if not owner.visible and pid in self._last:
                owner = self._last[pid]
            out[pid] = self._last[pid] = owner
        for gone in set(self._seen) - pids:
            del self._seen[gone]
        for gone in set(self._last) - pids:
            del self._last[gone]
        return out

    def owner(self, pid: int, supervisors: Mapping[int, JobOnGpu]) -> Owner:
        seen = self._ancestry(pid)
        if seen is None:
            return Owner("unmanaged", visible=False)
        for p in seen.chain:
            job = supervisors.get(p)
            if job is not None:
                return Owner("job", job.job_id, job.name, process_name=seen.name, user=seen.user)
            path = self._kernel(p)
            if path:
                return Owner("kernel", path=path, process_name=seen.name, user=seen.user)
        job = supervisors.get(seen.sid) if seen.sid else None
        if job is not None:
            return Owner("job", job.job_id, job.name, process_name=seen.name, user=seen.user)
        return Owner("unmanaged", process_name=seen.name, user=seen.user)

    def _kernel(self, pid: int) -> str | None:
        if self.kernel_lookup is None:
            return None
        try:
            return self.kernel_lookup(pid)
        except Exception:  # the host's hook must not break sampling
            if not self._lookup_failed:
                log.exception("kernel_lookup(%s) failed; GPU processes of kernels show as unmanaged", pid)
                self._lookup_failed = True
            return None

    def _ancestry(self, pid: int) -> _Seen | None:
        stat = _stat(pid)
        if stat is None:
            self._seen.pop(pid, None)
            return None
        seen = self._seen.get(pid)
        if seen is not None and seen.stat == stat:
            return seen  # the same process (start time), not exec'd since (name), same parent
        chain, parent = [pid], stat[1]
        while parent > 1 and parent not in chain and len(chain) < 64:
            chain.append(parent)
            up = _stat(parent)
            if up is None:  # that ancestor just ended
                break
            parent = up[1]
        try:
            proc = psutil.Process(pid)
            name = proc.name()
            try:
                user = proc.username()
            except KeyError:  # a uid without a name
                user = None
        except psutil.NoSuchProcess:
            return None
        except psutil.Error:  # it exists but cannot be inspected (another user's, hidepid)
            name, user = stat[0], None
        try:
            sid = os.getsid(pid)
        except OSError:
            sid = None
        seen = _Seen(stat, tuple(chain), sid, name, user)
        self._seen[pid] = seen
        return seen


def _stat(pid: int) -> tuple[str, int, int] | None:
    """``(name, parent pid, start time in clock ticks)`` from one read of /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    head, _, rest = data.rpartition(b")")
    fields = rest.split()
    try:
        if fields[0] in (b"Z", b"X"):  # ended, not reaped yet: it holds no GPU memory
            return None
        return head.partition(b"(")[2].decode(errors="replace"), int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None

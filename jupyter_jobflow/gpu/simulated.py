"""Simulated GPUs for machines without one (Binder, CI, laptops): labelled simulated everywhere.

A simulated device's readings follow the jobs allocated to it, deterministically:

- each running job on a device adds ``util_per_job`` % (capped at 100) and its declared
  ``--gpu-memory`` (else ``default_job_memory_mib``) to the device's used memory;
- each such job shows up as one compute process: the newest leaf of the job's real process tree
  (the process that would call CUDA), so attribution is exercised on real pids;
- ``add_process(index, pid, memory_mib)`` puts any other real process on a device (someone
  else's training run, a notebook kernel); it disappears when that process ends, as the driver
  frees a dead process's memory;
- temperature and power are simple functions of utilisation.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Sequence

import psutil

from ..core.gpumodel import GpuInfo, GpuProcess, GpuReading, JobOnGpu

DEFAULT_MEMORY_MIB = 16 * 1024


@dataclass
class SimulatedGpus:
    """``count`` simulated devices. ``names`` and ``memory_mib`` may be one value or one per device."""

    count: int
    names: Sequence[str] | str | None = None
    memory_mib: Sequence[int] | int = DEFAULT_MEMORY_MIB
    util_per_job: int = 40
    default_job_memory_mib: int = 2048
    idle_power_w: float = 50.0
    power_limit_w: float = 300.0
    simulated: bool = True
    reason: str | None = None
    kind: str = "simulated"
    #: devices marked unavailable by hand (``busy_elsewhere``)
    busy: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        n = self.count
        names = self.names
        if names is None or isinstance(names, str):
            names = [f"{names or 'Simulated GPU'} {i}" for i in range(n)]
        mems = [self.memory_mib] * n if isinstance(self.memory_mib, int) else list(self.memory_mib)
        if len(names) != n or len(mems) != n:
            raise ValueError(f"SimulatedGpus: {n} devices need {n} names and memory sizes")
        self._info = tuple(GpuInfo(i, str(names[i]), f"GPU-simulated-{i:04d}", int(mems[i]), simulated=True)
                           for i in range(n))
        self._external: dict[int, tuple[int, int, int]] = {}  # pid -> (device, memory, util)
        self._lock = threading.Lock()

    # -- the source interface ---------------------------------------------------------------
    def devices(self) -> tuple[GpuInfo, ...]:
        return self._info

    def device_ids(self) -> tuple[int, ...]:
        return tuple(range(self.count))

    def busy_elsewhere(self) -> frozenset[int]:
        return frozenset(self.busy)

    def close(self) -> None:
        pass

    def add_process(self, index: int, pid: int, memory_mib: int, util: int = 0) -> None:
        """Show the real process ``pid`` on device ``index`` (not a job of ours, unless it is one)."""
        if index not in self.device_ids():
            raise ValueError(f"no simulated GPU {index}")
        with self._lock:
            self._external[int(pid)] = (index, int(memory_mib), int(util))

    def remove_process(self, pid: int) -> None:
        with self._lock:
            self._external.pop(int(pid), None)

    def read(self, jobs: Sequence[JobOnGpu] = ()) -> list[GpuReading]:
        procs: dict[int, list[GpuProcess]] = {i: [] for i in self.device_ids()}
        with self._lock:
            for pid, (index, mem, util) in list(self._external.items()):
                if _alive(pid):
                    procs[index].append(GpuProcess(pid, mem, util))
                else:
                    del self._external[pid]
            for job in jobs:
                pid = self._gpu_pid(job)
                mem = job.gpu_memory_mib or self.default_job_memory_mib
                for index in job.gpus:
                    if index in procs and pid is not None:
                        procs[index].append(GpuProcess(pid, mem, self.util_per_job))
        out = []
        for info in self._info:
            on = sorted(procs[info.index], key=lambda p: p.pid)
            util = min(100, sum(p.util or 0 for p in on))
            out.append(GpuReading(
                index=info.index, memory_total_mib=info.memory_total_mib,
                memory_used_mib=sum(p.memory_mib or 0 for p in on), util=util,
                memory_util=min(100, util // 2), temperature_c=30 + util // 2,
                power_w=round(self.idle_power_w + (self.power_limit_w - self.idle_power_w) * util / 125, 1),
                power_limit_w=self.power_limit_w, processes=tuple(on)))
        return out

    def _gpu_pid(self, job: JobOnGpu) -> int | None:
        """The newest leaf of the job's process tree, looked up again at every reading (a job's
        shell may start its real work later)."""
        if not job.supervisor_pid:
            return None
        leaves = _leaves(job.supervisor_pid)
        if not leaves:
            return job.supervisor_pid if _alive(job.supervisor_pid) else None
        return leaves[0] if len(leaves) == 1 else max(leaves, key=_created_at)


def _children(pid: int) -> list[int]:
    """Direct children from /proc/PID/task/*/children (no scan of every process), else psutil."""
    try:
        out = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
        return out
    except FileNotFoundError:
        if not os.path.exists(f"/proc/{pid}"):
            return []
    except OSError:
        return []
    try:  # a kernel without CONFIG_PROC_CHILDREN
        return [c.pid for c in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def _leaves(root: int) -> list[int]:
    leaves, todo = [], _children(root)
    while todo:
        pid = todo.pop()
        kids = _children(pid)
        if kids:
            todo.extend(kids)
        elif _alive(pid):
            leaves.append(pid)
    return leaves


def _created_at(pid: int) -> float:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return 0.0


def _alive(pid: int) -> bool:
    """Runs (not a zombie): one read of /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rpartition(b")")[2].split()[:1]
    except OSError:
        return False
    return state not in ([b"Z"], [b"X"], [])

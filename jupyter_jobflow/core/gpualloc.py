"""GPU allocation rules (pure): which devices a job may get now. Used by ``decide`` and ``explain``.

A device is **free** for a job that takes whole GPUs (``--gpus N`` or ``--gpus 0,2``) when:

- no job of ours holds it (exclusively or shared);
- the memory used by processes that are not ours (other users, interactive kernels) is under
  ``threshold_mib`` (default 1024 MiB); "not ours" is everything used on the device (the
  driver's reserve aside) minus the measured memory of our jobs' processes, so processes this
  host cannot see count too, and a job that just ended does not hold up the next one;
- it could be read (no NVML error) and is not marked busy by hand.

**Shared mode** (``--gpu-memory SIZE``): a job goes on a device that no job holds whole, when its
declared memory fits in what is left: total − the driver's reserve − memory not ours − what each of
our shared jobs there
reserves (the larger of its declared and its measured memory). Jobs pack best-fit (the fullest
device that still fits, then the lowest index), which keeps whole devices free for whole-GPU jobs.
Shared jobs are placed by memory alone, so the threshold does not apply to them: a kernel's
memory is counted against the fit instead.

A device with no usage reading (no sample yet) counts as empty and unlimited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Collection, Iterable, Mapping

from .gpumodel import DeviceUsage, format_mib, pick_gpus
from .model import Job


@dataclass
class GpuPool:
    devices: tuple[int, ...]
    threshold_mib: int
    exclusive: dict[int, int] = field(default_factory=dict)  # device -> the job holding it whole
    shared: dict[int, list[int]] = field(default_factory=dict)  # device -> our shared jobs on it
    external: dict[int, int] = field(default_factory=dict)  # device -> MiB used by what is not ours
    available: dict[int, float] = field(default_factory=dict)  # device -> MiB a shared job can still get
    blocked: dict[int, str] = field(default_factory=dict)  # device -> why nothing new goes there

    @classmethod
    def build(cls, devices: Iterable[int], running: Iterable[Job], usage: Mapping[int, DeviceUsage],
              threshold_mib: int, busy_elsewhere: Collection[int] = ()) -> "GpuPool":
        pool = cls(tuple(devices), int(threshold_mib))
        on: dict[int, list[Job]] = {d: [] for d in pool.devices}
        for job in running:
            for d in job.allocated_gpus:
                on.setdefault(d, []).append(job)
        for d in pool.devices:
            u = usage.get(d) or DeviceUsage()
            jobs = on.get(d, [])
            # every job's processes are ours, also those of a job that just ended (its memory is
            # being freed: the next sample no longer shows it) -- so a hand-off waits for nothing
            pool.external[d] = max(0, int(u.used_mib) - sum(u.job_mib.values()))
            reserved = sum(max(j.gpu_memory or 0, int(u.job_mib.get(j.id, 0))) for j in jobs if j.gpu_memory)
            total = math.inf if u.total_mib is None else u.total_mib
            pool.available[d] = total - u.reserved_mib - pool.external[d] - reserved
            for j in jobs:
                if j.gpu_memory:
                    pool.shared.setdefault(d, []).append(j.id)
                else:
                    pool.exclusive[d] = j.id
            if u.error:
                pool.blocked[d] = f"cannot be read ({u.error})"
            elif d in busy_elsewhere:
                pool.blocked[d] = "marked busy"
        return pool

    def free(self) -> list[int]:
        """Devices a whole-GPU job can have now."""
        return [d for d in self.devices if self.why_busy(d) is None]

    def why_busy(self, d: int) -> str | None:
        """Why a whole-GPU job cannot have device ``d`` now (None: it can)."""
        if d in self.blocked:
            return self.blocked[d]
        if d in self.exclusive:
            return f"held by job {self.exclusive[d]}"
        if self.shared.get(d):
            return "shared by job" + ("s " if len(self.shared[d]) > 1 else " ") + ", ".join(map(str, self.shared[d]))
        if self.external[d] >= self.threshold_mib:
            return (f"{format_mib(self.external[d])} used by processes that are not jobs "
                    f"(threshold {format_mib(self.threshold_mib)})")
        return None

    def fits(self, d: int, mib: int) -> bool:
        """Whether a shared job of ``mib`` fits on ``d`` now."""
        return d not in self.blocked and d not in self.exclusive and self.available.get(d, 0) >= mib

    def take(self, job: Job) -> tuple[int, ...] | None:
        """The devices ``job`` gets now (and mark them taken), or None when it must wait."""
        if not job.gpu_memory:
            picked = pick_gpus(job.gpus, job.gpu_ids, self.free())
            for d in picked or ():
                self.exclusive[d] = job.id
            return picked
        count = max(job.gpus, 1)
        fitting = [d for d in self.devices if self.fits(d, job.gpu_memory)]
        if job.gpu_ids:
            picked = tuple(job.gpu_ids) if set(job.gpu_ids) <= set(fitting) else None
        else:
            best = sorted(fitting, key=lambda d: (self.available[d], d))[:count]
            picked = tuple(sorted(best)) if len(best) == count else None
        for d in picked or ():
            self.available[d] -= job.gpu_memory
            self.shared.setdefault(d, []).append(job.id)
        return picked

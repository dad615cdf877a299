"""``JobService``'s GPU side (a mixin): the sampler's lifecycle, the views, ``--gpu-memory``.

``JobService`` owns one ``GpuMonitor``: ``start()`` takes a first sample before the scheduler's
first decision and then samples in the monitor's thread; ``stop()`` stops it. Each sample whose
usage changed wakes the scheduler if a job waits for resources, so a GPU freed by someone else's
process is taken within one interval. Hosts call:

- ``gpu_view(history=...)``: the ``gpus`` route and ``ginfo`` (docs/api.md);
- ``subscribe_gpus(fn)``: ``fn(view)`` after every sample (the event stream's ``gpus`` topic);
- ``set_kernel_lookup(fn)``: ``fn(pid) -> notebook path | None`` for this server's kernels;
- ``job_gpu_usage()``: per running job, its measured GPU memory and utilisation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..core.errors import InvalidSpec
from ..core.gpualloc import GpuPool
from ..core.gpumodel import JobOnGpu, format_mib
from ..core.model import Job
from ..core.optvalues import parse_memory_size
from ..gpu.attribution import KernelLookup
from ..gpu.sampler import GpuMonitor
from ..gpu.view import explain_gpus, gpu_view

if TYPE_CHECKING:
    from ..core.gpumodel import GpuInventory
    from .scheduler import Engine


class GpuServiceMixin:
    gpus: "GpuInventory"
    engine: "Engine"
    gpu_monitor: GpuMonitor

    def _init_gpus(self, interval: float, history_seconds: float, kernel_lookup: KernelLookup | None) -> None:
        self.gpu_monitor = GpuMonitor(self.gpus, jobs=self._gpu_jobs, kernel_lookup=kernel_lookup,
                                      interval=interval, history_seconds=history_seconds)
        self.engine.gpu_usage = self.gpu_monitor.usage
        self._last_usage: Any = None
        self.gpu_monitor.subscribe(self._on_gpu_sample)

    def _on_gpu_sample(self, _sample: dict[str, Any]) -> None:
        usage = self.gpu_monitor.usage()
        if usage != self._last_usage:
            self._last_usage = usage
            self.engine.resources_changed()

    def _gpu_jobs(self) -> list[JobOnGpu]:
        """Every running job: where it runs and the supervisor that leads its process tree."""
        with self.engine.lock:
            out = []
            for jid in sorted(self.engine.running):
                job = self.engine.jobs[jid]
                out.append(JobOnGpu(jid, job.name, tuple(job.allocated_gpus), job.gpu_memory,
                                    self.engine.leader_pid(jid)))
            return out

    def _gpu_pool(self) -> tuple[GpuPool, dict[int, Job]]:
        with self.engine.lock:
            jobs = dict(self.engine.jobs)
            running = [jobs[j] for j in self.engine.running]
        pool = GpuPool.build(self.gpus.device_ids(), running, self.gpu_monitor.usage(),
                             self.engine.config.external_memory_threshold_mib, self.gpus.busy_elsewhere())
        return pool, jobs

    # -- views for the hosts ---------------------------------------------------------------
    def gpu_view(self, history: bool | float = False) -> dict[str, Any]:
        """Per GPU: index, name, simulated, util, memory used/total, temperature, power, what holds
        it (jobs, kernels, unmanaged processes), whether a job could have it now; ``history``
        (True: all kept; a number: the last that many seconds) adds the series for sparklines."""
        sample = self.gpu_monitor.latest()
        pool, jobs = self._gpu_pool()
        series = None
        if history:
            series = self.gpu_monitor.history(None if history is True else float(history))
        return gpu_view(sample, pool, jobs, history=series)

    def subscribe_gpus(self, fn: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``fn(view)`` (the shape of ``gpu_view()``, without history) after every sample, in
        the sampler's thread; returns the unsubscribe function."""
        def on_sample(sample: dict[str, Any]) -> None:
            pool, jobs = self._gpu_pool()
            fn(gpu_view(sample, pool, jobs))

        return self.gpu_monitor.subscribe(on_sample)

    def set_kernel_lookup(self, fn: KernelLookup | None) -> None:
        """``fn(pid)`` returns the notebook path of this server's kernel with that pid, else None.
        Called in the sampler thread for each GPU process and its ancestors: keep it a dict lookup."""
        self.gpu_monitor.kernel_lookup = fn

    def job_gpu_usage(self) -> dict[int, dict[str, Any]]:
        """``{job_id: {"gpus", "memory_mib", "util", "pids"}}`` for jobs seen on a GPU in the newest
        sample (``util`` is None where the source gives no per-process samples)."""
        return {u["job_id"]: u for u in self.gpu_monitor.latest()["job_usage"]}

    # -- submit and explain ----------------------------------------------------------------
    def _parse_gpu_memory(self, value: int | str | None, count: int,
                          ids: tuple[int, ...] | None) -> tuple[int, int | None]:
        """``(count, MiB)`` for ``--gpu-memory``: at least one GPU, and GPUs that big must exist."""
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
            return count, None
        mib = parse_memory_size(value)
        count = max(count, 1)
        devices = {d.index: d for d in self.gpus.devices()}
        if not devices:
            raise InvalidSpec(f"--gpu-memory {format_mib(mib)}: this machine has {self._gpu_summary()}")
        for i in ids or ():
            if devices[i].memory_total_mib < mib:
                raise InvalidSpec(f"--gpu-memory {format_mib(mib)}: GPU {i} has only "
                                  f"{format_mib(devices[i].memory_total_mib)}")
        big = [d for d in devices.values() if d.memory_total_mib >= mib]
        if not ids and len(big) < count:
            largest = max(d.memory_total_mib for d in devices.values())
            raise InvalidSpec(f"--gpu-memory {format_mib(mib)}: {len(big)} GPU(s) here have that much for "
                              f"--gpus {count} (the largest has {format_mib(largest)})")
        return count, mib

    def _explain_gpus(self, job: Job) -> list[str]:
        pool, jobs = self._gpu_pool()
        return explain_gpus(job, pool, self.gpu_monitor.latest(), jobs)

"""GPU sources: one interface, three kinds (NVML, simulated, none), and the automatic choice.

A source answers two questions. ``devices()``: what exists (static: index, name, uuid, memory).
``read(jobs)``: one reading of every device (utilisation, memory, temperature, power, and the
compute processes with their pids and memory). The sampler (``gpumonitor.py``) calls ``read``
once per interval in its own thread; attribution (``gpuattr.py``) maps the pids to jobs,
kernels or "unmanaged"; allocation (``gpualloc.py``) decides from what that leaves free.

Choice (``inventory_from_env``): simulated only when asked for (``simulated=N`` or
``JOBFLOW_SIMULATED_GPUS=N``); otherwise NVML when it initialises; otherwise no GPUs, with the
reason kept (``nvidia-ml-py not installed``, ``NVIDIA driver not found``, the NVML error) so that
``ginfo``, the API and ``--gpus`` refusals can say why. ``JOBFLOW_GPU_SOURCE=auto|nvml|none``
overrides the automatic choice (the tests set ``none`` so a GPU machine runs them like CI).

Units: memory in MiB (ints), utilisation in percent, temperature in °C, power in W.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Protocol, Sequence

NO_GPUS_HINT = "set JOBFLOW_SIMULATED_GPUS=N to simulate N"


@dataclass(frozen=True)
class GpuInfo:
    """What does not change while the host runs."""

    index: int
    name: str
    uuid: str
    memory_total_mib: int
    simulated: bool = False


@dataclass(frozen=True)
class GpuProcess:
    """A compute process on a device, as the source reports it."""

    pid: int
    memory_mib: int | None  # None: the driver cannot tell (WDDM)
    util: int | None = None  # SM % from per-process samples; None when the source gives none


@dataclass(frozen=True)
class GpuReading:
    """One device at one moment. A field is None when the source cannot give it; ``error`` says
    what failed (the rest of the reading is still good)."""

    index: int
    memory_total_mib: int | None = None
    memory_used_mib: int | None = None  # by processes (as nvidia-smi shows it), without the reserved
    memory_reserved_mib: int | None = None  # kept by the driver for itself, never usable
    util: int | None = None
    memory_util: int | None = None
    temperature_c: int | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    processes: tuple[GpuProcess, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class JobOnGpu:
    """A running job as the GPU side sees it: where it runs and which process tree is its own."""

    job_id: int
    name: str
    gpus: tuple[int, ...]
    gpu_memory_mib: int | None  # declared with --gpu-memory (shared mode), else None
    supervisor_pid: int | None  # session and process-group leader of the job's tree


@dataclass(frozen=True)
class DeviceUsage:
    """What allocation needs to know about a device beyond our own bookkeeping (see gpualloc)."""

    total_mib: int | None = None  # None: unknown (counts as unlimited)
    used_mib: int = 0  # everything on the device but the reserved: our jobs, kernels, other users
    reserved_mib: int = 0  # what the driver keeps for itself
    job_mib: Mapping[int, int] = field(default_factory=dict)  # measured memory of each of our jobs
    error: str | None = None  # the device could not be read: it is not offered to new jobs


class GpuInventory(Protocol):
    kind: str  # "nvml", "simulated" or "none"
    simulated: bool
    #: why there are no GPUs, when there are none (shown by ginfo, the API and --gpus refusals)
    reason: str | None

    def devices(self) -> tuple[GpuInfo, ...]: ...

    def device_ids(self) -> tuple[int, ...]: ...

    def busy_elsewhere(self) -> frozenset[int]:
        """Devices marked unavailable by hand (tests, maintenance). Processes that are not ours
        are measured by the monitor instead (``DeviceUsage``)."""
        ...

    def read(self, jobs: Sequence[JobOnGpu] = ()) -> list[GpuReading]:
        """One reading per device. Never raises for one device's trouble: it sets ``error``."""
        ...

    def close(self) -> None: ...


@dataclass
class NoGpus:
    reason: str | None = "no GPU source configured"
    simulated: bool = False
    kind: str = "none"

    def devices(self) -> tuple[GpuInfo, ...]:
        return ()

    def device_ids(self) -> tuple[int, ...]:
        return ()

    def busy_elsewhere(self) -> frozenset[int]:
        return frozenset()

    def read(self, jobs: Sequence[JobOnGpu] = ()) -> list[GpuReading]:
        return []

    def close(self) -> None:
        pass


def pick_gpus(count: int, wanted: tuple[int, ...] | None, free: Iterable[int]) -> tuple[int, ...] | None:
    """Distinct devices for one job, or None when they are not free now.

    ``wanted`` (``--gpus 0,2``) must all be free; otherwise the ``count`` lowest free ids.
    """
    free = sorted(free)
    if wanted:
        return tuple(wanted) if set(wanted) <= set(free) else None
    if count <= 0:
        return ()
    return tuple(free[:count]) if len(free) >= count else None


def format_mib(mib: int | float | None) -> str:
    """``512 MiB``, ``8.0 GiB``; ``?`` when unknown."""
    if mib is None:
        return "?"
    return f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{int(mib)} MiB"

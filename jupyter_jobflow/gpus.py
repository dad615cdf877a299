"""GPU inventory: which devices exist and which are unavailable for reasons other than our jobs.

The scheduler only needs these two answers; it tracks what its own jobs hold. This issue ships a
simulated inventory (``JOBFLOW_SIMULATED_GPUS=N``); the NVML source comes with the GPU monitor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Protocol


class GpuInventory(Protocol):
    simulated: bool
    #: why there are no GPUs, when there are none (shown by ginfo and explain)
    reason: str | None

    def device_ids(self) -> tuple[int, ...]: ...

    def busy_elsewhere(self) -> frozenset[int]:
        """Devices held by processes that are not our jobs (other users, kernels)."""
        ...


@dataclass
class NoGpus:
    reason: str | None = "no GPU source configured"
    simulated: bool = False

    def device_ids(self) -> tuple[int, ...]:
        return ()

    def busy_elsewhere(self) -> frozenset[int]:
        return frozenset()


@dataclass
class SimulatedGpus:
    """``count`` fake devices, all free unless a job holds them. Labelled simulated everywhere."""

    count: int
    simulated: bool = True
    reason: str | None = None

    def device_ids(self) -> tuple[int, ...]:
        return tuple(range(self.count))

    def busy_elsewhere(self) -> frozenset[int]:
        return frozenset()


def inventory_from_env(simulated: int | None = None) -> GpuInventory:
    """The simulated count given, else ``JOBFLOW_SIMULATED_GPUS``, else no GPUs."""
    if simulated is None:
        env = os.environ.get("JOBFLOW_SIMULATED_GPUS", "").strip()
        simulated = int(env) if env.isdigit() else 0
    if simulated > 0:
        return SimulatedGpus(simulated)
    return NoGpus("no GPUs: set JOBFLOW_SIMULATED_GPUS=N to simulate N")


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

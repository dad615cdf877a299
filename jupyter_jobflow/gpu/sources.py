"""Which GPU source to use (``inventory_from_env``): simulated when asked for, else NVML when it
initialises, else none with the reason kept so that ``ginfo``, the API and ``--gpus`` refusals can
say why."""

from __future__ import annotations

import os
from typing import Mapping

from ..core.gpumodel import NO_GPUS_HINT, GpuInventory, NoGpus


def inventory_from_env(simulated: int | None = None, *, source: str | None = None, nvml: object = None,
                       environ: Mapping[str, str] | None = None) -> GpuInventory:
    """The GPU source to use. In order: ``simulated`` > 0; ``source`` (``auto``, ``nvml``,
    ``none``); ``JOBFLOW_SIMULATED_GPUS`` > 0; ``JOBFLOW_GPU_SOURCE``; else ``auto`` (NVML when it
    initialises, else no GPUs with the reason). ``nvml`` replaces the ``pynvml`` module (tests).
    Simulated memory comes from ``JOBFLOW_SIMULATED_GPU_MEMORY`` (``16G``, the default)."""
    from ..gpu.simulated import SimulatedGpus

    env = os.environ if environ is None else environ
    memory = _memory_from_env(env)
    count = env.get("JOBFLOW_SIMULATED_GPUS", "").strip()
    count_from_env = int(count) if count.isdigit() else 0
    if simulated is not None and simulated > 0:
        return SimulatedGpus(simulated, **memory)
    if source is None:
        if count_from_env > 0:
            return SimulatedGpus(count_from_env, **memory)
        source = env.get("JOBFLOW_GPU_SOURCE", "").strip().lower() or "auto"
    if source == "simulated":
        return SimulatedGpus(count_from_env or 1, **memory)
    if source == "none":
        return NoGpus(f"no GPUs: the GPU source is 'none' (JOBFLOW_GPU_SOURCE); {NO_GPUS_HINT}")
    if source not in ("auto", "nvml"):
        return NoGpus(f"no GPUs: unknown GPU source {source!r} (expected auto, nvml, simulated or none)")
    from ..gpu.nvml import open_nvml

    found, reason = open_nvml(nvml)
    return found if found is not None else NoGpus(f"no GPUs: {reason}; {NO_GPUS_HINT}")


def _memory_from_env(env: Mapping[str, str]) -> dict[str, int]:
    text = env.get("JOBFLOW_SIMULATED_GPU_MEMORY", "").strip()
    if not text:
        return {}
    from ..core.optvalues import parse_memory_size

    return {"memory_mib": parse_memory_size(text, "JOBFLOW_SIMULATED_GPU_MEMORY")}

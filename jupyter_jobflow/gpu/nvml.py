"""The NVML source, through ``nvidia-ml-py`` (import name ``pynvml``).

``open_nvml()`` initialises NVML and returns ``(NvmlGpus, None)``, or ``(None, reason)`` with a
reason a person can act on: ``nvidia-ml-py not installed``, ``NVIDIA driver not found``, or the
NVML error. ``NvmlGpus.read()`` reads every device: memory, utilisation, temperature, power,
compute processes (pid + memory) and, where the driver keeps them, per-process SM utilisation
(``nvmlDeviceGetProcessUtilization``, the samples since the previous reading). A call that fails
leaves its field None and adds ``"<function>: <NVML error>"`` to the reading's ``error``; the
other fields and devices are still read. "Not supported" (power on some boards) is not an error.

Only the functions of ``pynvml`` are used, never its internals, so tests replace the module with a
stand-in at this boundary (``tests/test_gpus_nvml.py``). Limits: MIG instances are shown as their
parent device; pids are those of NVML's view, which in a container may be the host's.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

from ..core.gpumodel import GpuInfo, GpuProcess, GpuReading, JobOnGpu

MIB = 1024 * 1024
# Error codes (pynvml's constants, repeated so a minimal stand-in need not define them)
_NOT_SUPPORTED, _NOT_FOUND, _DRIVER_NOT_LOADED, _LIBRARY_NOT_FOUND = 3, 6, 9, 12
_FUNCTION_NOT_FOUND, _ARGUMENT_VERSION_MISMATCH = 13, 25


def open_nvml(nvml: Any = None) -> tuple["NvmlGpus | None", str | None]:
    """Initialise NVML: the source, or None and why not."""
    if nvml is None:
        try:
            import pynvml as nvml  # type: ignore[no-redef]
        except ImportError:
            return None, "nvidia-ml-py not installed (pip install nvidia-ml-py)"
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as err:
        code = getattr(err, "value", None)
        if code == _LIBRARY_NOT_FOUND:
            return None, f"NVIDIA driver not found (NVML: {err})"
        if code == _DRIVER_NOT_LOADED:
            return None, f"NVIDIA driver not loaded (NVML: {err})"
        return None, f"NVML failed to initialise: {err}"
    except OSError as err:  # a broken libnvidia-ml
        return None, f"NVML failed to initialise: {err}"
    try:
        gpus = NvmlGpus(nvml)
    except nvml.NVMLError as err:
        _shutdown(nvml)
        return None, f"NVML failed to list the GPUs: {err}"
    if not gpus.devices():
        gpus.close()
        return None, "NVML found no NVIDIA GPU"
    return gpus, None


def _shutdown(nvml: Any) -> None:
    try:
        nvml.nvmlShutdown()
    except nvml.NVMLError:
        pass


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class NvmlGpus:
    """Every NVIDIA GPU NVML sees, by NVML index (jobs get ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` so
    CUDA numbers them the same way)."""

    kind = "nvml"
    simulated = False
    reason: str | None = None

    def __init__(self, nvml: Any):
        self._nvml = nvml
        count = nvml.nvmlDeviceGetCount()
        self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        info = []
        for i, h in enumerate(self._handles):
            total = nvml.nvmlDeviceGetMemoryInfo(h).total // MIB
            info.append(GpuInfo(i, _text(nvml.nvmlDeviceGetName(h)), _text(nvml.nvmlDeviceGetUUID(h)), int(total)))
        self._info = tuple(info)
        self._last_sample_us = [0] * count  # per-process utilisation: only samples newer than this
        self._per_process = [True] * count  # False once the device said "not supported"
        # memory v2 splits the driver's reserve from "used" (as nvidia-smi shows it); old drivers: v1
        self._memory_v2 = getattr(nvml, "nvmlMemory_v2", None)
        self._lock = threading.Lock()
        self._closed = False
        self.busy: set[int] = set()

    def devices(self) -> tuple[GpuInfo, ...]:
        return self._info

    def device_ids(self) -> tuple[int, ...]:
        return tuple(d.index for d in self._info)

    def busy_elsewhere(self) -> frozenset[int]:
        return frozenset(self.busy)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                _shutdown(self._nvml)

    def read(self, jobs: Sequence[JobOnGpu] = ()) -> list[GpuReading]:
        with self._lock:  # one reader at a time: the per-process timestamps are shared state
            return [self._read_one(i, h) for i, h in enumerate(self._handles)]

    def _read_one(self, index: int, handle: Any) -> GpuReading:
        nvml, errors = self._nvml, []

        def call(name: str, *args: Any) -> Any:
            try:
                return getattr(nvml, name)(handle, *args)
            except nvml.NVMLError as err:
                if getattr(err, "value", None) != _NOT_SUPPORTED:
                    errors.append(f"{name}: {err}")
                return None

        mem, reserved = self._memory(handle, errors)
        rates = call("nvmlDeviceGetUtilizationRates")
        temp = call("nvmlDeviceGetTemperature", getattr(nvml, "NVML_TEMPERATURE_GPU", 0))
        power = call("nvmlDeviceGetPowerUsage")
        limit = call("nvmlDeviceGetEnforcedPowerLimit")
        running = call("nvmlDeviceGetComputeRunningProcesses") or []
        utils = self._process_utilisation(index, handle, errors)
        memory: dict[int, int | None] = {}
        for p in running:  # one pid may appear more than once (MIG): add up
            used = getattr(p, "usedGpuMemory", None)
            mib = None if used is None else int(used) // MIB
            before = memory.get(int(p.pid))
            memory[int(p.pid)] = mib if before is None else before + (mib or 0)
        procs = tuple(GpuProcess(pid, mib, utils.get(pid) if utils is not None else None)
                      for pid, mib in sorted(memory.items()))
        return GpuReading(
            index=index,
            memory_total_mib=None if mem is None else int(mem.total) // MIB,
            memory_used_mib=None if mem is None else int(mem.used) // MIB,
            memory_reserved_mib=None if mem is None else reserved // MIB,
            util=None if rates is None else int(rates.gpu),
            memory_util=None if rates is None else int(rates.memory),
            temperature_c=None if temp is None else int(temp),
            power_w=None if power is None else round(power / 1000, 1),
            power_limit_w=None if limit is None else round(limit / 1000, 1),
            processes=procs, error="; ".join(errors) or None)

    def _memory(self, handle: Any, errors: list[str]) -> tuple[Any, int]:
        """Memory info and the driver's reserve in bytes: v2 where the driver has it (its "used"
        leaves the reserve out, as nvidia-smi does), else v1 (the reserve inside "used")."""
        nvml = self._nvml
        try:
            if self._memory_v2 is not None:
                try:
                    mem = nvml.nvmlDeviceGetMemoryInfo(handle, version=self._memory_v2)
                    return mem, int(mem.reserved)
                except nvml.NVMLError as err:
                    if getattr(err, "value", None) not in (_FUNCTION_NOT_FOUND, _NOT_SUPPORTED,
                                                           _ARGUMENT_VERSION_MISMATCH):
                        raise
                    self._memory_v2 = None  # an older driver: v1 from now on
            return nvml.nvmlDeviceGetMemoryInfo(handle), 0
        except nvml.NVMLError as err:
            errors.append(f"nvmlDeviceGetMemoryInfo: {err}")
            return None, 0

    def _process_utilisation(self, index: int, handle: Any, errors: list[str]) -> dict[int, int] | None:
        """SM % per pid from the samples since the last reading; None when the device keeps none."""
        if not self._per_process[index]:
            return None
        nvml = self._nvml
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(handle, self._last_sample_us[index])
        except nvml.NVMLError as err:
            code = getattr(err, "value", None)
            if code == _NOT_FOUND:  # no sample since the last reading
                return {}
            if code == _NOT_SUPPORTED:
                self._per_process[index] = False
            else:
                errors.append(f"nvmlDeviceGetProcessUtilization: {err}")
            return None
        newest: dict[int, tuple[int, int]] = {}
        for s in samples:
            pid, ts = int(s.pid), int(s.timeStamp)
            if pid and (pid not in newest or ts >= newest[pid][0]):
                newest[pid] = (ts, int(s.smUtil))
            self._last_sample_us[index] = max(self._last_sample_us[index], ts)
        return {pid: min(100, util) for pid, (_ts, util) in newest.items()}

"""A stand-in for the ``pynvml`` module at its function boundary (this machine has no GPU).

It implements only the functions ``jupyter_jobflow/nvml.py`` calls, with the signatures and return
shapes of nvidia-ml-py (bytes or str names, byte counts, milliwatts, microsecond timestamps), and
raises the real ``pynvml.NVMLError`` with the real codes. ``fail(function, device, code, times)``
makes a call raise, to test errors in the middle of a run.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace

import pynvml

MIB = 1024 * 1024


@dataclass
class Device:
    name: str | bytes = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    total_mib: int = 80 * 1024
    reserved_mib: int = 0  # what the driver uses with no process
    util: int = 0
    memory_util: int = 0
    temperature: int = 35
    power_mw: int = 70_000
    power_limit_mw: int = 700_000
    processes: dict[int, int] = field(default_factory=dict)  # pid -> MiB
    sm_util: dict[int, int] = field(default_factory=dict)  # pid -> SM % in the next samples


class StandInNvml:
    NVMLError = pynvml.NVMLError
    NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU
    nvmlMemory_v2 = pynvml.nvmlMemory_v2

    def __init__(self, devices: list[Device], init_error: int | None = None, memory_v2: bool = True):
        self.devices = devices
        self.memory_v2 = memory_v2  # False: an older driver without nvmlDeviceGetMemoryInfo_v2
        self.init_error = init_error
        self.initialised = False
        self.shutdowns = 0
        self.calls: Counter[str] = Counter()
        self._fail: dict[tuple[str, int | None], list] = {}
        self._clock_us = 1_000_000
        self._lock = threading.Lock()

    # -- test controls ----------------------------------------------------------------------
    def fail(self, function: str, device: int | None, code: int | Exception, times: int = 1) -> None:
        """The next ``times`` calls of ``function`` on ``device`` raise NVMLError(code) (or ``code``
        itself when it is an exception)."""
        with self._lock:
            self._fail[(function, device)] = [code, times]

    def _enter(self, function: str, handle: Device | None = None) -> None:
        index = None if handle is None else self.devices.index(handle)
        with self._lock:
            self.calls[function] += 1
            entry = self._fail.get((function, index))
            if entry is None or entry[1] <= 0:
                return
            entry[1] -= 1
        code = entry[0]
        raise code if isinstance(code, Exception) else pynvml.NVMLError(code)

    # -- the pynvml functions ---------------------------------------------------------------
    def nvmlInit(self) -> None:
        self._enter("nvmlInit")
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self._enter("nvmlShutdown")
        self.shutdowns += 1
        self.initialised = False

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Device:
        self._enter("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.devices):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.devices[index]

    def nvmlDeviceGetName(self, h: Device) -> str | bytes:
        self._enter("nvmlDeviceGetName", h)
        return h.name

    def nvmlDeviceGetUUID(self, h: Device) -> str:
        self._enter("nvmlDeviceGetUUID", h)
        return h.uuid

    def nvmlDeviceGetMemoryInfo(self, h: Device, version: int | None = None) -> SimpleNamespace:
        """v1: the driver's reserve counts as used; v2 (``version=nvmlMemory_v2``): apart."""
        self._enter("nvmlDeviceGetMemoryInfo", h)
        total, reserved, used = h.total_mib * MIB, h.reserved_mib * MIB, sum(h.processes.values()) * MIB
        if not version:
            return SimpleNamespace(total=total, used=reserved + used, free=total - reserved - used)
        if not self.memory_v2:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        assert version == pynvml.nvmlMemory_v2
        return SimpleNamespace(version=version, total=total, reserved=reserved, used=used,
                               free=total - reserved - used)

    def nvmlDeviceGetUtilizationRates(self, h: Device) -> SimpleNamespace:
        self._enter("nvmlDeviceGetUtilizationRates", h)
        return SimpleNamespace(gpu=h.util, memory=h.memory_util)

    def nvmlDeviceGetTemperature(self, h: Device, sensor: int) -> int:
        self._enter("nvmlDeviceGetTemperature", h)
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return h.temperature

    def nvmlDeviceGetPowerUsage(self, h: Device) -> int:
        self._enter("nvmlDeviceGetPowerUsage", h)
        return h.power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, h: Device) -> int:
        self._enter("nvmlDeviceGetEnforcedPowerLimit", h)
        return h.power_limit_mw

    def nvmlDeviceGetComputeRunningProcesses(self, h: Device) -> list[SimpleNamespace]:
        self._enter("nvmlDeviceGetComputeRunningProcesses", h)
        return [SimpleNamespace(pid=pid, usedGpuMemory=mib * MIB, gpuInstanceId=0xFFFFFFFF,
                                computeInstanceId=0xFFFFFFFF) for pid, mib in h.processes.items()]

    def nvmlDeviceGetProcessUtilization(self, h: Device, last_seen_us: int) -> list[SimpleNamespace]:
        """Like the driver: one new sample per process with an SM entry since ``last_seen_us``,
        NOT_FOUND when there is none."""
        self._enter("nvmlDeviceGetProcessUtilization", h)
        with self._lock:
            self._clock_us += 166_000
            now = self._clock_us
        samples = [SimpleNamespace(pid=pid, timeStamp=now, smUtil=util, memUtil=util // 2, encUtil=0, decUtil=0)
                   for pid, util in h.sm_util.items() if now > last_seen_us]
        if not samples:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return samples

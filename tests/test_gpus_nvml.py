"""The NVML source against a stand-in for ``pynvml`` at its function boundary (no GPU here):
inventory, sampled fields, per-process utilisation, NVML errors in the middle of a run (the sampler
keeps going and reports them), and the reasons kept when there is no NVML."""

from __future__ import annotations

import os
import sys
import threading
import time

import pynvml
import pytest
from helpers import stop_everything, wait_job_state, wait_launched, wait_until
from nvml_standin import Device, StandInNvml

from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.gpumodel import NoGpus
from jupyter_jobflow.core.model import JobState
from jupyter_jobflow.engine.service import JobService
from jupyter_jobflow.gpu.nvml import NvmlGpus, open_nvml
from jupyter_jobflow.gpu.sampler import GpuMonitor
from jupyter_jobflow.gpu.sources import inventory_from_env


def two_gpus() -> StandInNvml:
    return StandInNvml([
        Device(name=b"NVIDIA A100-SXM4-40GB", uuid="GPU-aaaa", total_mib=40 * 1024, reserved_mib=300, util=57,
               memory_util=20, temperature=61, power_mw=215_500, power_limit_mw=400_000),
        Device(name="NVIDIA A100-SXM4-40GB", uuid="GPU-bbbb", total_mib=40 * 1024),
    ])


def wait_for_sample(monitor: GpuMonitor, predicate, timeout: float = 10.0) -> dict:
    """The first sample (from the sampler thread) for which ``predicate`` holds."""
    found: list[dict] = []
    done = threading.Event()

    def on_sample(sample):
        if not done.is_set() and predicate(sample):
            found.append(sample)
            done.set()

    unsubscribe = monitor.subscribe(on_sample)
    try:
        assert done.wait(timeout), f"no such sample in {timeout}s; latest: {monitor.latest()}"
        return found[0]
    finally:
        unsubscribe()


# -- inventory -----------------------------------------------------------------------------------

def test_nvml_inventory_names_uuids_and_memory():
    nvml = two_gpus()
    gpus, reason = open_nvml(nvml)
    assert reason is None and isinstance(gpus, NvmlGpus) and nvml.initialised
    assert (gpus.kind, gpus.simulated, gpus.reason, gpus.device_ids()) == ("nvml", False, None, (0, 1))
    assert [(d.index, d.name, d.uuid, d.memory_total_mib, d.simulated) for d in gpus.devices()] == [
        (0, "NVIDIA A100-SXM4-40GB", "GPU-aaaa", 40960, False),  # bytes from older drivers decoded
        (1, "NVIDIA A100-SXM4-40GB", "GPU-bbbb", 40960, False)]
    gpus.close()
    gpus.close()
    assert nvml.shutdowns == 1


def test_automatic_choice_takes_nvml_when_it_initialises_and_simulated_only_when_asked():
    nvml = two_gpus()
    assert inventory_from_env(source="auto", nvml=nvml).kind == "nvml"
    assert inventory_from_env(nvml=two_gpus(), environ={}).kind == "nvml"
    assert inventory_from_env(nvml=two_gpus(), environ={"JOBFLOW_SIMULATED_GPUS": "3"}).device_ids() == (0, 1, 2)
    assert inventory_from_env(2, nvml=two_gpus()).simulated
    none = inventory_from_env(nvml=two_gpus(), environ={"JOBFLOW_GPU_SOURCE": "none"})
    assert isinstance(none, NoGpus) and none.reason.startswith("no GPUs: the GPU source is 'none'")


# -- no NVML: the reason is kept -----------------------------------------------------------------

@pytest.mark.parametrize("code, reason", [
    (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "NVIDIA driver not found (NVML: NVML Shared Library Not Found)"),
    (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "NVIDIA driver not loaded (NVML: Driver Not Loaded)"),
    (pynvml.NVML_ERROR_NO_PERMISSION, "NVML failed to initialise: Insufficient Permissions"),
])
def test_nvml_that_cannot_initialise_gives_no_gpus_with_the_reason(code, reason):
    assert open_nvml(StandInNvml([Device()], init_error=code)) == (None, reason)
    inv = inventory_from_env(nvml=StandInNvml([Device()], init_error=code), environ={})
    assert isinstance(inv, NoGpus) and inv.device_ids() == ()
    assert inv.reason == f"no GPUs: {reason}; set JOBFLOW_SIMULATED_GPUS=N to simulate N"


def test_nvml_with_no_device_and_without_the_library(monkeypatch):
    assert open_nvml(StandInNvml([])) == (None, "NVML found no NVIDIA GPU")
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    assert open_nvml() == (None, "nvidia-ml-py not installed (pip install nvidia-ml-py)")


def test_the_real_pynvml_on_a_machine_without_a_driver_says_so():
    gpus, reason = open_nvml()
    if gpus is not None:
        gpus.close()
        pytest.skip("this machine has an NVIDIA driver")
    assert reason.startswith(("NVIDIA driver not found", "NVIDIA driver not loaded", "NVML found no NVIDIA GPU"))


def test_service_without_nvml_shows_and_uses_the_reason(tmp_path):
    inv = inventory_from_env(nvml=StandInNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND), environ={})
    svc = JobService(tmp_path / "s", gpus=inv).start()
    try:
        view = svc.gpu_view(history=True)
        assert view["gpus"] == [] and view["source"] == "none" and view["reason"].startswith(
            "no GPUs: NVIDIA driver not found")
        assert view["history"]["gpus"] == []
        with pytest.raises(InvalidSpec, match=r"^--gpus 1: this machine has no GPUs: NVIDIA driver not found"):
            svc.submit(["true"], gpus=1)
        assert not svc.gpu_monitor.running  # no devices, no sampler thread
    finally:
        stop_everything(svc)


# -- sampling ------------------------------------------------------------------------------------

def test_sample_has_every_field_and_per_process_memory_and_utilisation():
    nvml = two_gpus()
    me = os.getpid()
    nvml.devices[0].processes = {me: 1500}
    nvml.devices[0].sm_util = {me: 42}
    gpus, _ = open_nvml(nvml)
    monitor = GpuMonitor(gpus)
    s = monitor.sample_now()
    assert (s["source"], s["simulated"], s["reason"], s["error"]) == ("nvml", False, None, None)
    g0, g1 = s["gpus"]
    assert {k: g0[k] for k in ("index", "name", "uuid", "simulated", "util", "memory_util", "memory_used_mib",
                                "memory_total_mib", "temperature_c", "power_w", "power_limit_w", "error")} == {
        "index": 0, "name": "NVIDIA A100-SXM4-40GB", "uuid": "GPU-aaaa", "simulated": False, "util": 57,
        "memory_util": 20, "memory_used_mib": 1500, "memory_total_mib": 40960, "temperature_c": 61,
        "power_w": 215.5, "power_limit_w": 400.0, "error": None}
    assert g0["memory_reserved_mib"] == 300  # the driver's reserve, apart from "used" as in nvidia-smi
    [proc] = g0["processes"]
    assert (proc["pid"], proc["memory_mib"], proc["util"], proc["kind"]) == (me, 1500, 42, "unmanaged")
    assert g0["unmanaged"] == [{"pid": me, "process_name": proc["process_name"], "user": proc["user"],
                                "memory_mib": 1500}]
    assert g1["processes"] == [] and g1["memory_used_mib"] == 0
    # the next reading asks only for samples newer than the last one it saw
    nvml.devices[0].sm_util = {}
    assert monitor.sample_now()["gpus"][0]["processes"][0]["util"] is None  # NOT_FOUND: no new sample
    gpus.close()


def test_an_older_driver_without_memory_v2_counts_the_reserve_as_used():
    nvml = two_gpus()
    nvml.memory_v2 = False
    nvml.devices[0].processes = {os.getpid(): 1500}
    gpus, _ = open_nvml(nvml)
    monitor = GpuMonitor(gpus)
    for _ in range(2):
        g0 = monitor.sample_now()["gpus"][0]
        assert (g0["memory_used_mib"], g0["memory_reserved_mib"], g0["error"]) == (1800, 0, None)
    assert nvml.calls["nvmlDeviceGetMemoryInfo"] == 2 + 1 + 2 * 2  # inventory, one v2 try, then v1 only
    usage = monitor.usage()[0]
    assert (usage.used_mib, usage.reserved_mib, usage.total_mib) == (1800, 0, 40960)


def test_the_drivers_reserve_is_neither_free_nor_someone_elses():
    nvml = StandInNvml([Device(total_mib=16 * 1024, reserved_mib=900)])
    gpus, _ = open_nvml(nvml)
    monitor = GpuMonitor(gpus)
    monitor.sample_now()
    from jupyter_jobflow.core.gpualloc import GpuPool
    pool = GpuPool.build((0,), [], monitor.usage(), 512)
    assert pool.external == {0: 0} and pool.why_busy(0) is None  # 900 MiB reserve: not over 512
    assert pool.available == {0: 16 * 1024 - 900}


def test_not_supported_is_not_an_error():
    nvml = two_gpus()
    nvml.fail("nvmlDeviceGetPowerUsage", 1, pynvml.NVML_ERROR_NOT_SUPPORTED, times=100)
    nvml.fail("nvmlDeviceGetProcessUtilization", 1, pynvml.NVML_ERROR_NOT_SUPPORTED, times=100)
    gpus, _ = open_nvml(nvml)
    s = GpuMonitor(gpus).sample_now()
    assert s["error"] is None and s["gpus"][1]["power_w"] is None and s["gpus"][0]["power_w"] == 215.5
    assert s["gpus"][1]["power_limit_w"] == 700.0
    GpuMonitor(gpus).sample_now()
    assert nvml.calls["nvmlDeviceGetProcessUtilization"] == 3  # device 1 is not asked again


def test_nvml_errors_mid_run_are_reported_and_the_sampler_keeps_going():
    nvml = two_gpus()
    gpus, _ = open_nvml(nvml)
    monitor = GpuMonitor(gpus, interval=0.02).start()
    try:
        wait_for_sample(monitor, lambda s: s["error"] is None)
        nvml.fail("nvmlDeviceGetUtilizationRates", 1, pynvml.NVML_ERROR_GPU_IS_LOST, times=3)
        nvml.fail("nvmlDeviceGetMemoryInfo", 1, pynvml.NVML_ERROR_UNKNOWN, times=3)
        bad = wait_for_sample(monitor, lambda s: s["error"] is not None)
        assert bad["error"] == ("GPU 1: nvmlDeviceGetMemoryInfo: Unknown Error; "
                                "nvmlDeviceGetUtilizationRates: GPU is lost")
        g0, g1 = bad["gpus"]
        assert g0["error"] is None and g0["util"] == 57  # the other device is still read
        assert g1["util"] is None and g1["memory_used_mib"] is None and g1["temperature_c"] == 35
        assert g1["memory_total_mib"] == 40960  # from the inventory
        # something that is not an NVMLError at all: still a sample, with the error
        nvml.fail("nvmlDeviceGetComputeRunningProcesses", 0, RuntimeError("driver hiccup"), times=2)
        odd = wait_for_sample(monitor, lambda s: s["error"] and "driver hiccup" in s["error"])
        assert odd["error"] == "GPU 0: RuntimeError: driver hiccup; GPU 1: RuntimeError: driver hiccup"
        good = wait_for_sample(monitor, lambda s: s["error"] is None)
        assert good["gpus"][1]["util"] == 0 and monitor.running
        assert monitor.failed_samples >= 3
        history = monitor.history()
        assert None in history["gpus"][1]["util"]  # the failed readings show as gaps
    finally:
        monitor.stop()
        gpus.close()
    assert not monitor.running


def test_one_sampler_serves_every_reader():
    nvml = two_gpus()
    gpus, _ = open_nvml(nvml)
    monitor = GpuMonitor(gpus, interval=60).start()
    reads = nvml.calls["nvmlDeviceGetMemoryInfo"]
    for _ in range(50):
        monitor.latest()
        monitor.history()
        monitor.usage()
    assert nvml.calls["nvmlDeviceGetMemoryInfo"] == reads  # readers never cause NVML calls
    monitor.stop()


def test_history_is_a_ring_of_the_configured_length_and_a_bad_subscriber_is_harmless():
    nvml = two_gpus()
    gpus, _ = open_nvml(nvml)
    now = [1000.0]
    monitor = GpuMonitor(gpus, interval=2.0, history_seconds=10.0, clock=lambda: now[0])

    def broken(_sample):
        raise RuntimeError("a subscriber bug")

    monitor.subscribe(broken)
    seen = []
    unsubscribe = monitor.subscribe(seen.append)
    for i in range(8):
        nvml.devices[0].util = i
        monitor.sample_now()
        now[0] += 2.0
    h = monitor.history()
    assert h["interval"] == 2.0 and h["ts"] == [1006.0, 1008.0, 1010.0, 1012.0, 1014.0]  # 10 s / 2 s = 5 kept
    assert h["gpus"][0] == {"index": 0, "util": [3, 4, 5, 6, 7], "memory_used_mib": [0] * 5}
    assert monitor.history(seconds=4)["ts"] == [1010.0, 1012.0, 1014.0]
    assert len(seen) == 8 and monitor.samples == 8
    unsubscribe()
    monitor.sample_now()
    assert len(seen) == 8


def test_a_device_that_cannot_be_read_gets_no_new_job_until_it_reads_again(tmp_path):
    nvml = two_gpus()
    gpus, _ = open_nvml(nvml)
    svc = JobService(tmp_path / "s", gpus=gpus, gpu_sample_interval=0.05).start()
    try:
        nvml.fail("nvmlDeviceGetMemoryInfo", 0, pynvml.NVML_ERROR_GPU_IS_LOST, times=10**6)
        wait_for_sample(svc.gpu_monitor, lambda s: s["gpus"][0]["error"] is not None)
        a = svc.submit(["sleep", "30"], gpus=1)
        assert wait_job_state(svc, a.id, JobState.RUNNING).allocated_gpus == (1,)
        b = svc.submit(["sleep", "30"], gpus=1)
        wait_for_gpu(svc, b.id)
        assert "GPU 0: cannot be read (nvmlDeviceGetMemoryInfo: GPU is lost)" in "\n".join(svc.explain(b.id))
        nvml.fail("nvmlDeviceGetMemoryInfo", 0, pynvml.NVML_ERROR_GPU_IS_LOST, times=0)
        assert wait_job_state(svc, b.id, JobState.RUNNING).allocated_gpus == (0,)
    finally:
        stop_everything(svc)


def test_nvml_processes_of_jobs_are_attributed_and_others_block_the_gpu(tmp_path):
    """A job's real process reported by NVML is the job's; someone else's 4 GiB on GPU 0 keeps
    whole-GPU jobs off it, and explain says who holds it."""
    nvml = two_gpus()
    nvml.devices[0].reserved_mib = 0
    gpus, _ = open_nvml(nvml)
    svc = JobService(tmp_path / "s", gpus=gpus, gpu_sample_interval=0.05).start()
    try:
        nvml.devices[0].processes = {os.getpid(): 4096}  # not a job: this test's own process
        wait_for_sample(svc.gpu_monitor, lambda s: s["gpus"][0]["memory_used_mib"] == 4096)
        a = svc.submit(["sleep", "30"], gpus=1, name="train")
        job = wait_job_state(svc, a.id, JobState.RUNNING)
        assert job.allocated_gpus == (1,)
        pid = wait_launched(svc, a.id)["pid"]
        sleeper = _child(pid)
        nvml.devices[1].processes = {sleeper: 9000}
        nvml.devices[1].sm_util = {sleeper: 88}
        s = wait_for_sample(svc.gpu_monitor, lambda s: s["gpus"][1]["processes"])
        assert s["gpus"][1]["processes"][0] | {"process_name": None, "user": None} == {
            "pid": sleeper, "memory_mib": 9000, "util": 88, "kind": "job", "job_id": a.id, "name": "train",
            "process_name": None, "user": None}
        assert svc.job_gpu_usage()[a.id] == {"job_id": a.id, "name": "train", "gpus": [1], "memory_mib": 9000,
                                             "util": 88, "pids": [sleeper]}
        b = svc.submit(["sleep", "30"], gpus=1)
        wait_for_gpu(svc, b.id)
        explain = "\n".join(svc.explain(b.id))
        assert f"busy: GPU 0: unmanaged pid {os.getpid()} (" in explain and "4.0 GiB" in explain
        assert f"GPU 1: job {a.id} (train)" in explain
        view = svc.gpu_view()
        assert [g["free"] for g in view["gpus"]] == [False, False]
        assert view["gpus"][0]["external_memory_mib"] == 4096 and view["gpus"][1]["external_memory_mib"] == 0
        nvml.devices[0].processes = {}  # the other process let go of GPU 0
        assert wait_job_state(svc, b.id, JobState.RUNNING).allocated_gpus == (0,)
    finally:
        stop_everything(svc)
        gpus.close()


def _child(pid: int, timeout: float = 5.0) -> int:
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = [p for p in psutil.Process(pid).children() if p.name() == "sleep"]
        if kids:
            return kids[0].pid
        time.sleep(0.01)
    raise AssertionError("the job's process did not start")


def wait_for_gpu(svc, job_id: int):
    """Until the scheduler has looked at the job and found no GPU for it."""
    job = wait_until(svc, job_id, lambda j: str(j.reason) == "Resources(GPU)", "Resources(GPU)")
    assert job.state is JobState.QUEUED
    return job

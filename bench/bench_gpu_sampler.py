"""CPU cost of one GPU sample: 8 simulated GPUs (idle, then with 8 running jobs, a kernel and an
unmanaged process to attribute), our side of the NVML path (the tests' pynvml stand-in), and
the real NVML path where an NVIDIA GPU is present.

    .venv/bin/python bench/bench_gpu_sampler.py [N]

Prints, for each case, the CPU time per sample (median and p95 over N samples, default 200) and
what that is in % of one core at the default 1 Hz. Target: <= 1 %.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_jobflow.core.model import JobState  # noqa: E402
from jupyter_jobflow.engine.service import JobService  # noqa: E402
from jupyter_jobflow.gpu.nvml import open_nvml  # noqa: E402
from jupyter_jobflow.gpu.sampler import GpuMonitor  # noqa: E402
from jupyter_jobflow.gpu.simulated import SimulatedGpus  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def measure(label: str, sample, n: int) -> float:
    for _ in range(10):  # warm the caches
        sample()
    costs = []
    for _ in range(n):
        t0 = time.thread_time()  # CPU of this thread only: what the sampler thread would use
        sample()
        costs.append((time.thread_time() - t0) * 1e3)
    med = statistics.median(costs)
    print(f"{label}: CPU per sample median {med:.3f} ms, p95 {pct(costs, 0.95):.3f} ms "
          f"-> {med / 10:.3f} % of one core at 1 Hz")
    return med


def wait_running(svc: JobService, ids: list[int], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while any(svc.get(i).state is not JobState.RUNNING for i in ids):
        if time.monotonic() > deadline:
            raise SystemExit("jobs did not start")
        time.sleep(0.02)


def main(n: int = 200) -> None:
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    measure("8 simulated GPUs, idle", GpuMonitor(SimulatedGpus(8)).sample_now, n)

    with tempfile.TemporaryDirectory() as state:
        sim = SimulatedGpus(8, memory_mib=80 * 1024)
        # a long interval: the benchmark drives the samples itself
        svc = JobService(state, gpus=sim, gpu_sample_interval=3600, kill_grace=1.0).start()
        others = [subprocess.Popen(["sleep", "600"]) for _ in range(2)]
        try:
            ids = [svc.submit(["sh", "-c", "sleep 600 & wait"], gpus=1).id for _ in range(8)]
            wait_running(svc, ids)
            sim.add_process(0, others[0].pid, 500)  # unmanaged
            sim.add_process(1, others[1].pid, 700)  # a kernel
            svc.set_kernel_lookup({others[1].pid: "analysis.ipynb"}.get)
            svc.gpu_monitor.sample_now()
            kinds = sorted(p["kind"] for g in svc.gpu_monitor.latest()["gpus"] for p in g["processes"])
            assert kinds.count("job") == 8 and "kernel" in kinds and "unmanaged" in kinds, kinds
            measure("8 simulated GPUs, 8 jobs + kernel + unmanaged", svc.gpu_monitor.sample_now, n)
            seen = []
            unsubscribe = svc.subscribe_gpus(seen.append)  # what the server's `gpus` topic costs on top
            measure("  same, plus the published gpus view", svc.gpu_monitor.sample_now, n)
            unsubscribe()
        finally:
            svc.cancel([j.id for j in svc.list(all=False)])
            for p in others:
                p.kill()
                p.wait()
            deadline = time.monotonic() + 10
            while svc.list(all=False) and time.monotonic() < deadline:
                time.sleep(0.05)
            svc.close()

    # our side of the NVML path (pynvml calls answered by the tests' stand-in: no driver time)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from nvml_standin import Device, StandInNvml

    me = os.getpid()
    standin = StandInNvml([Device(uuid=f"GPU-{i}", processes={me: 1000}, sm_util={me: 50}) for i in range(8)])
    measure("NVML code path, 8 GPUs via the pynvml stand-in (excludes the driver's time)",
            GpuMonitor(open_nvml(standin)[0]).sample_now, n)

    gpus, reason = open_nvml()
    if gpus is None:
        print(f"NVML on a real GPU: not measured here ({reason})")
        return
    try:
        names = ", ".join(sorted({d.name for d in gpus.devices()}))
        measure(f"NVML, {len(gpus.devices())} GPU(s) ({names})", GpuMonitor(gpus).sample_now, n)
    finally:
        gpus.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)

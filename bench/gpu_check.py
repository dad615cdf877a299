"""On a machine with an NVIDIA GPU: run a job that uses the GPU and check that our sampling,
allocation and attribution agree with ``nvidia-smi``. Without a GPU it says so and exits 0.

    .venv/bin/python bench/gpu_check.py [--seconds 60] [--mib 1024]

The job uses PyTorch when it is installed (a tensor of ``--mib`` MiB and matmuls, so there is
utilisation to see); otherwise the CUDA driver API through ctypes (``libcuda.so.1`` ships with the
driver: a context and ``--mib`` MiB, no compute); if neither works, a CUDA-free fallback that says
so (then only sampling and allocation can be checked). Checks, each printed PASS/FAIL/SKIP:

1. sampling: every GPU's memory used/total as we sample it vs ``nvidia-smi --query-gpu``;
2. allocation: the job got a GPU, its ``CUDA_VISIBLE_DEVICES`` names it, and nvidia-smi shows its
   process on that GPU (by uuid);
3. attribution: each pid of ``nvidia-smi --query-compute-apps=pid,used_memory --format=csv`` that
   belongs to the job's process tree is attributed to the job, with the same memory;
4. allocation respects others: on a one-GPU machine a second job waits while the first holds it;
   then the same workload started by hand (not a job) on GPU 0 shows as "unmanaged", a job asking
   for GPU 0 waits with ``Resources(GPU)`` while explain names that pid, and starts once it ends.

Exit status: 0 when everything checked passed (or there is no GPU), 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from jupyter_jobflow.core.model import JobState  # noqa: E402
from jupyter_jobflow.engine.service import JobService  # noqa: E402
from jupyter_jobflow.gpu.nvml import open_nvml  # noqa: E402

WORKLOAD = r'''
import os, sys, time
secs, mib = float(sys.argv[1]), int(sys.argv[2])
print("CUDA_VISIBLE_DEVICES=" + os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"), flush=True)
try:
    import torch
    if not torch.cuda.is_available():
        raise ImportError("PyTorch cannot see a GPU")
    keep = torch.empty(mib * 1024 * 1024 // 4, dtype=torch.float32, device="cuda")
    a = torch.randn(2048, 2048, device="cuda")
    print("WORKLOAD pytorch", torch.__version__, torch.cuda.get_device_name(0), flush=True)
    end = time.time() + secs
    while time.time() < end:
        a = a @ a
        a = a / a.norm()
        torch.cuda.synchronize()
    sys.exit(0)
except ImportError as err:
    print(f"PyTorch not usable ({err}); trying the CUDA driver API", flush=True)
import ctypes
try:
    cuda = ctypes.CDLL("libcuda.so.1")
except OSError as err:
    print(f"WORKLOAD none: no libcuda ({err}); CUDA-free fallback, this job does not use the GPU", flush=True)
    time.sleep(secs)
    sys.exit(0)
def check(r, what):
    if r != 0:
        print(f"WORKLOAD none: {what} failed (CUresult {r}); this job does not use the GPU", flush=True)
        time.sleep(secs)
        sys.exit(0)
check(cuda.cuInit(0), "cuInit")
dev, ctx, ptr = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_uint64()
check(cuda.cuDeviceGet(ctypes.byref(dev), 0), "cuDeviceGet")
check(cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev), "cuDevicePrimaryCtxRetain")
check(cuda.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
check(cuda.cuMemAlloc_v2(ctypes.byref(ptr), ctypes.c_size_t(mib * 1024 * 1024)), "cuMemAlloc")
print(f"WORKLOAD driver-api: {mib} MiB allocated through libcuda (no PyTorch)", flush=True)
time.sleep(secs)
'''

results: list[tuple[str, str, str]] = []


def report(status: str, what: str, detail: str = "") -> None:
    results.append((status, what, detail))
    print(f"[{status}] {what}" + (f": {detail}" if detail else ""), flush=True)


def smi(query: str, fields: str) -> list[dict[str, str]]:
    out = subprocess.run(["nvidia-smi", f"--query-{query}={fields}", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    names = fields.split(",")
    return [dict(zip(names, (v.strip() for v in row))) for row in csv.reader(io.StringIO(out)) if row]


def close(a: float, b: float, mib: float = 128, frac: float = 0.03) -> bool:
    return abs(a - b) <= max(mib, frac * max(a, b))


def wait(predicate, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--mib", type=int, default=1024)
    args = ap.parse_args()

    gpus, reason = open_nvml()
    if gpus is None:
        print(f"No NVIDIA GPU to check here: {reason}. Nothing to do (exit 0).")
        return 0
    print("GPUs:", "; ".join(f"{d.index}: {d.name} {d.memory_total_mib} MiB {d.uuid}" for d in gpus.devices()))
    have_smi = shutil.which("nvidia-smi") is not None
    if not have_smi:
        print("nvidia-smi not found: the comparisons with it are skipped")
    state = tempfile.mkdtemp(prefix="jobflow-gpucheck-")
    workload = Path(state) / "workload.py"
    workload.write_text(WORKLOAD)
    svc = JobService(state, gpus=gpus, gpu_sample_interval=0.5, kill_grace=5).start()
    try:
        check_sampling(svc, have_smi)
        job = svc.submit([sys.executable, str(workload), str(args.seconds), str(args.mib)], gpus=1, name="gpucheck")
        j = wait(lambda: svc.get(job.id) if svc.get(job.id).state is not JobState.QUEUED else None, 30)
        if j is None or j.state is not JobState.RUNNING:
            report("FAIL", "allocation: the job started", f"job is {svc.get(job.id).state.value} "
                   f"({svc.get(job.id).reason}); " + " | ".join(svc.explain(job.id)))
            return 1
        report("PASS", "allocation: the job started", f"job {job.id} on GPU(s) {list(j.allocated_gpus)}")
        kind = wait(lambda: next((line.split()[1] for line in svc.read_log(job.id)[0].splitlines()
                                  if line.startswith("WORKLOAD")), None), 120)
        print("job log:", svc.read_log(job.id)[0].strip().replace("\n", " | "))
        visible = next((line.split("=", 1)[1] for line in svc.read_log(job.id)[0].splitlines()
                        if line.startswith("CUDA_VISIBLE_DEVICES=")), None)
        expected = ",".join(map(str, j.allocated_gpus))
        report("PASS" if visible == expected else "FAIL", "allocation: CUDA_VISIBLE_DEVICES",
               f"{visible!r} (allocated {expected!r})")
        if kind in (None, "none:"):
            report("SKIP", "attribution", "the job could not use the GPU (no PyTorch with CUDA, no libcuda)")
        else:
            check_attribution(svc, job.id, j.allocated_gpus, have_smi)
            if len(gpus.devices()) == 1:
                check_second_job_waits(svc, job.id)
        svc.cancel([job.id])
        wait(lambda: svc.get(job.id).state.terminal, 20)
        if kind not in (None, "none:"):
            check_unmanaged_respected(svc, workload, max(args.mib, 2048), args.seconds)
    finally:
        for other in svc.list(all=False):
            svc.cancel([other.id])
        wait(lambda: not svc.list(all=False), 20)
        svc.close()
        gpus.close()
        shutil.rmtree(state, ignore_errors=True)
    failed = [r for r in results if r[0] == "FAIL"]
    print(f"\n{sum(r[0] == 'PASS' for r in results)} passed, {len(failed)} failed, "
          f"{sum(r[0] == 'SKIP' for r in results)} skipped")
    return 1 if failed else 0


def check_sampling(svc: JobService, have_smi: bool) -> None:
    sample = svc.gpu_monitor.sample_now()
    for g in sample["gpus"]:
        print(f"  sampled GPU {g['index']}: util {g['util']}%, memory {g['memory_used_mib']}/"
              f"{g['memory_total_mib']} MiB, {g['temperature_c']} C, {g['power_w']} W, error {g['error']}")
    report("PASS" if sample["error"] is None else "FAIL", "sampling: no NVML error", str(sample["error"] or ""))
    if not have_smi:
        return
    rows = {r["uuid"]: r for r in smi("gpu", "index,uuid,memory.used,memory.total,utilization.gpu")}
    for g in sample["gpus"]:
        row = rows.get(g["uuid"])
        if row is None:
            report("FAIL", f"sampling: GPU {g['index']} in nvidia-smi", f"uuid {g['uuid']} not listed")
            continue
        ok = close(g["memory_used_mib"] or 0, float(row["memory.used"])) and \
            close(g["memory_total_mib"] or 0, float(row["memory.total"]), mib=16, frac=0.001)
        report("PASS" if ok else "FAIL", f"sampling: GPU {g['index']} memory vs nvidia-smi",
               f"ours {g['memory_used_mib']}/{g['memory_total_mib']} MiB, nvidia-smi "
               f"{row['memory.used']}/{row['memory.total']} MiB (index {row['index']})")


def check_attribution(svc: JobService, job_id: int, allocated: tuple[int, ...], have_smi: bool) -> None:
    supervisor = wait(lambda: svc.engine.handles.get(job_id), 60).pid  # spawned just after the start is stored
    tree = {supervisor} | {p.pid for p in psutil.Process(supervisor).children(recursive=True)}
    usage = wait(lambda: svc.job_gpu_usage().get(job_id), 60)
    if usage is None:
        latest = svc.gpu_monitor.latest()
        seen = [(g["index"], p["pid"], p["kind"], p.get("visible", True)) for g in latest["gpus"] for p in g["processes"]]
        report("FAIL", "attribution: the job's GPU process is attributed to it",
               f"GPU processes seen: {seen}; the job's tree: {sorted(tree)} (NVML pids from another pid namespace "
               f"cannot be matched)")
        return
    report("PASS" if set(usage["pids"]) <= tree else "FAIL", "attribution: the job's GPU process is attributed to it",
           f"job {job_id}: pids {usage['pids']}, {usage['memory_mib']} MiB, util {usage['util']}%, GPUs {usage['gpus']}")
    report("PASS" if usage["gpus"] == list(allocated) else "FAIL", "allocation: the job's process is on its GPU",
           f"seen on {usage['gpus']}, allocated {list(allocated)}")
    if not have_smi:
        return
    apps = smi("compute-apps", "pid,gpu_uuid,used_memory")
    uuid = {g["uuid"]: g["index"] for g in svc.gpu_monitor.latest()["gpus"]}
    print("  nvidia-smi --query-compute-apps=pid,used_memory:",
          ", ".join(f"pid {a['pid']} {a['used_memory']} MiB on GPU {uuid.get(a['gpu_uuid'], '?')}" for a in apps))
    sample = svc.gpu_monitor.sample_now()
    ours = {(p["pid"], g["index"]): p for g in sample["gpus"] for p in g["processes"]}
    mine = [a for a in apps if a["pid"].isdigit() and int(a["pid"]) in tree]
    if not mine:
        report("FAIL", "attribution vs nvidia-smi", f"nvidia-smi lists none of the job's pids {sorted(tree)}")
    for a in mine:
        key = (int(a["pid"]), uuid.get(a["gpu_uuid"]))
        p = ours.get(key)
        ok = p is not None and p["kind"] == "job" and p["job_id"] == job_id and \
            close(p["memory_mib"] or 0, float(a["used_memory"]), mib=64)
        report("PASS" if ok else "FAIL", f"attribution vs nvidia-smi: pid {a['pid']}",
               f"nvidia-smi {a['used_memory']} MiB on GPU {key[1]}; ours {p and (p['kind'], p.get('job_id'), p['memory_mib'])}")
    for a in apps:
        if a["pid"].isdigit() and int(a["pid"]) not in tree:
            p = ours.get((int(a["pid"]), uuid.get(a["gpu_uuid"])))
            print(f"  other GPU process pid {a['pid']}: ours says {p and p['kind']}")


def queued_reason(svc: JobService, job_id: int):
    """The job once the scheduler has looked at it: Resources(GPU) while queued, or started."""
    def look():
        job = svc.get(job_id)
        return job if job.state is not JobState.QUEUED or str(job.reason) == "Resources(GPU)" else None
    return wait(look, 15)


def check_second_job_waits(svc: JobService, job_id: int) -> None:
    """One GPU, held by our job: a second job must wait, and explain must say so."""
    second = svc.submit(["true"], gpus=1, name="second")
    j = queued_reason(svc, second.id)
    explain = " | ".join(svc.explain(second.id))
    ok = j is not None and j.state is JobState.QUEUED and f"job {job_id}" in explain
    report("PASS" if ok else "FAIL", "allocation: a second job waits for the busy GPU", explain)
    svc.cancel([second.id])


def check_unmanaged_respected(svc: JobService, workload: Path, mib: int, seconds: float) -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    other = subprocess.Popen([sys.executable, str(workload), str(seconds), str(mib)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def seen():
            g = svc.gpu_monitor.latest()["gpus"][0]
            return next((p for p in g["processes"] if p["pid"] == other.pid), None)
        p = wait(seen, 120)
        if p is None:
            report("FAIL", "attribution: a process started by hand shows on GPU 0",
                   f"pid {other.pid} not seen (NVML pids from another pid namespace cannot be matched)")
            return
        report("PASS" if p["kind"] == "unmanaged" else "FAIL", "attribution: a process started by hand is unmanaged",
               f"pid {other.pid}: {p['kind']}, {p['memory_mib']} MiB")
        wait(lambda: (svc.gpu_view()["gpus"][0]["external_memory_mib"] or 0) >= 1024, 30)
        job = svc.submit(["true"], gpus="0,", name="wants-gpu0")
        j = queued_reason(svc, job.id)
        explain = " | ".join(svc.explain(job.id))
        ok = j is not None and j.state is JobState.QUEUED and f"unmanaged pid {other.pid}" in explain
        report("PASS" if ok else "FAIL", "allocation: a job waits while an unmanaged process fills GPU 0", explain)
        other.kill()
        other.wait()
        started = wait(lambda: svc.get(job.id).state is not JobState.QUEUED, 30)
        report("PASS" if started else "FAIL", "allocation: the job starts once that process ended",
               f"job {job.id} is {svc.get(job.id).state.value}")
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()


if __name__ == "__main__":
    sys.exit(main())

"""Per-job attribution and allocation with real processes on simulated GPUs: jobs started through
JobService, their real grandchildren reported as GPU processes, an unrelated process
("unmanaged"), a kernel's child process (``kernel_lookup``), and simulated readings that follow
the allocations."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest
from helpers import stop_everything, wait_job_state, wait_terminal, wait_until

from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.gpumodel import JobOnGpu
from jupyter_jobflow.core.model import JobState
from jupyter_jobflow.engine.service import JobService
from jupyter_jobflow.gpu.attribution import Attributor
from jupyter_jobflow.gpu.simulated import SimulatedGpus

G = 1024
# a job whose GPU process is its grandchild: supervisor -> sh -> sleep
GRANDCHILD = ["sh", "-c", "sleep 30 & wait"]


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []

    def spawn(*argv: str) -> subprocess.Popen:
        p = subprocess.Popen(list(argv))
        started.append(p)
        return p

    yield spawn
    for p in started:
        p.kill()
        p.wait()


def make(tmp_path, sim: SimulatedGpus, **kw) -> JobService:
    return JobService(tmp_path / "state", gpus=sim, kill_grace=1.0, gpu_sample_interval=0.05, **kw).start()


def sample_until(svc: JobService, predicate, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = svc.gpu_monitor.sample_now()
        if predicate(s):
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"no such sample in {timeout}s: {s}; job trees: {job_trees(svc)}")
        time.sleep(0.02)


def job_trees(svc: JobService) -> dict:
    out = {}
    for job_id, handle in dict(svc.engine.handles).items():
        try:
            sup = psutil.Process(handle["pid"])
            out[job_id] = [(p.pid, p.ppid(), p.name()) for p in [sup, *sup.children(recursive=True)]]
        except psutil.Error:
            pass
    return out


def grandchildren(supervisor: int) -> set[int]:
    sup = psutil.Process(supervisor)
    return {g.pid for c in sup.children() for g in c.children()}


def names(sample: dict, index: int) -> list[str]:
    return [p["process_name"] for p in sample["gpus"][index]["processes"]]


def test_a_jobs_grandchild_on_a_gpu_is_attributed_to_that_job(tmp_path):
    svc = make(tmp_path, SimulatedGpus(2))
    try:
        a = svc.submit(GRANDCHILD, gpus=1, name="a")
        b = svc.submit(GRANDCHILD, gpus=1, name="b", gpu_memory="3G")
        wait_job_state(svc, a.id, JobState.RUNNING)
        wait_job_state(svc, b.id, JobState.RUNNING)
        s = sample_until(svc, lambda s: names(s, 0) == ["sleep"] and names(s, 1) == ["sleep"])
        for job_id, gpu, mem in ((a.id, 0, 2048), (b.id, 1, 3 * G)):
            [p] = s["gpus"][gpu]["processes"]
            assert p["pid"] in grandchildren(svc.engine.handles[job_id]["pid"])  # a real grandchild
            assert (p["kind"], p["job_id"], p["memory_mib"], p["util"]) == ("job", job_id, mem, 40)
            assert s["gpus"][gpu]["jobs"] == [job_id]
        assert {u["job_id"]: (u["gpus"], u["memory_mib"]) for u in s["job_usage"]} == {
            a.id: ([0], 2048), b.id: ([1], 3 * G)}
        assert svc.job_gpu_usage()[a.id]["name"] == "a"
    finally:
        stop_everything(svc)


def test_an_unrelated_process_is_unmanaged_and_a_kernels_child_is_the_kernels(tmp_path, procs):
    other = procs("sleep", "30")
    kernel = procs(sys.executable, "-c", "import subprocess, time; subprocess.Popen(['sleep', '30']); "
                                         "time.sleep(30)")
    kernel_child = _wait_child(kernel.pid)
    sim = SimulatedGpus(2)
    svc = make(tmp_path, sim, kernel_lookup={kernel.pid: "work/analysis.ipynb"}.get)
    try:
        sim.add_process(0, other.pid, 3 * G, util=10)
        sim.add_process(1, kernel_child, 5 * G, util=25)
        s = svc.gpu_monitor.sample_now()
        [p0], [p1] = s["gpus"][0]["processes"], s["gpus"][1]["processes"]
        assert (p0["pid"], p0["kind"], p0["process_name"], p0["memory_mib"]) == (other.pid, "unmanaged", "sleep", 3 * G)
        assert (p1["pid"], p1["kind"], p1["path"]) == (kernel_child, "kernel", "work/analysis.ipynb")
        assert s["gpus"][0]["unmanaged"][0]["pid"] == other.pid
        assert s["gpus"][1]["kernels"] == [{"pid": kernel_child, "path": "work/analysis.ipynb", "memory_mib": 5 * G}]
        assert s["gpus"][1]["util"] == 25 and s["gpus"][1]["memory_used_mib"] == 5 * G
        # a kernel lookup set later (the extension starts after the service) is used from then on
        svc.set_kernel_lookup(None)
        assert svc.gpu_monitor.sample_now()["gpus"][1]["processes"][0]["kind"] == "unmanaged"
        other.kill()
        other.wait()
        assert svc.gpu_monitor.sample_now()["gpus"][0]["processes"] == []  # the driver freed it
    finally:
        stop_everything(svc)


def test_a_process_that_left_the_jobs_tree_but_kept_its_session_is_still_the_jobs(procs):
    # double fork: the grandchild is re-parented to init (or a subreaper), its session stays
    runner = procs("setsid", "sh", "-c", "(sleep 30 &) ; sleep 30")
    leader = runner.pid
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        orphans = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "sleep" and _sid(p.pid) == leader
                   and p.ppid() != leader]
        if orphans:
            break
        time.sleep(0.01)
    assert orphans
    owner = Attributor().owners([orphans[0].pid], [JobOnGpu(7, "x", (0,), None, leader)])[orphans[0].pid]
    assert (owner.kind, owner.job_id) == ("job", 7)
    for p in orphans:
        p.kill()


def test_allocation_avoids_a_kernel_holding_a_gpu_and_explain_names_it(tmp_path, procs):
    kernel = procs("sleep", "60")
    sim = SimulatedGpus(2)
    svc = make(tmp_path, sim, kernel_lookup={kernel.pid: "analysis.ipynb"}.get)
    try:
        sim.add_process(0, kernel.pid, 2 * G)  # over the 1 GiB threshold
        svc.gpu_monitor.sample_now()
        a = svc.submit(["sleep", "30"], gpus=1, name="first")
        assert wait_job_state(svc, a.id, JobState.RUNNING).allocated_gpus == (1,)
        b = svc.submit(["sleep", "30"], gpus=1, name="second")
        wait_for_gpu(svc, b.id)
        explain = svc.explain(b.id)
        assert explain[1] == (f"Resources: wants 1 GPU(s); free: none; busy: GPU 0: kernel analysis.ipynb "
                              f"(pid {kernel.pid}, 2.0 GiB), GPU 1: job {a.id} (first)")
        assert explain[2] == (f"  GPU 0: 2.0 GiB used by processes that are not jobs (threshold 1.0 GiB): "
                              f"kernel analysis.ipynb (pid {kernel.pid}, 2.0 GiB)")
        assert explain[3] == f"  GPU 1: held by job {a.id}: job {a.id} (first)"
        view = svc.gpu_view()
        assert [(g["free"], g["external_memory_mib"]) for g in view["gpus"]] == [(False, 2 * G), (False, 0)]
        assert view["gpus"][0]["busy"].startswith("2.0 GiB used by processes that are not jobs")
        kernel.kill()  # the notebook is shut down: its GPU memory is freed, the job starts there
        kernel.wait()
        assert wait_job_state(svc, b.id, JobState.RUNNING).allocated_gpus == (0,)
    finally:
        stop_everything(svc)


def test_shared_mode_packs_jobs_on_one_gpu_and_refuses_what_can_never_fit(tmp_path):
    svc = make(tmp_path, SimulatedGpus(1, names="Sim A100", memory_mib=16 * G))
    try:
        a = svc.submit(GRANDCHILD, gpu_memory="6G", name="a")
        b = svc.submit(GRANDCHILD, gpu_memory=6 * G, name="b")
        for j in (a, b):
            job = wait_job_state(svc, j.id, JobState.RUNNING)
            assert (job.gpus, job.allocated_gpus, job.gpu_memory) == (1, (0,), 6 * G)
        s = sample_until(svc, lambda s: names(s, 0) == ["sleep", "sleep"])
        g = s["gpus"][0]
        assert (g["name"], g["util"], g["memory_used_mib"], g["jobs"]) == ("Sim A100 0", 80, 12 * G, [a.id, b.id])
        c = svc.submit(["true"], gpu_memory="6G")
        wait_for_gpu(svc, c.id)
        explain = svc.explain(c.id)
        assert explain[1].startswith("Resources: wants 1 GPU(s) with 6.0 GiB each (shared); fits on: none; "
                                     f"busy: GPU 0: job {a.id} (a), job {b.id} (b)")
        assert explain[2] == f"  GPU 0: 4.0 GiB left, 6.0 GiB needed: job {a.id} (a); job {b.id} (b)"
        assert svc.gpu_view()["gpus"][0]["available_mib"] == 4 * G
        with pytest.raises(InvalidSpec, match=r"^--gpu-memory 20.0 GiB: 0 GPU\(s\) here have that much for "
                                              r"--gpus 1 \(the largest has 16.0 GiB\)$"):
            svc.submit(["true"], gpu_memory="20G")
        with pytest.raises(InvalidSpec, match=r"^--gpus 0,1: GPU 1 does not exist here"):
            svc.submit(["true"], gpus="0,1", gpu_memory="1G")
        svc.cancel([a.id])
        assert wait_job_state(svc, c.id, JobState.RUNNING, JobState.FINISHED).allocated_gpus in ((0,), ())
    finally:
        stop_everything(svc)


def test_simulated_readings_follow_the_allocations(tmp_path):
    svc = make(tmp_path, SimulatedGpus(2, memory_mib=[16 * G, 24 * G], names=["Sim X", "Sim Y"]))
    try:
        idle = svc.gpu_monitor.sample_now()["gpus"]
        assert [(g["name"], g["memory_total_mib"], g["util"], g["memory_used_mib"], g["simulated"]) for g in idle] == [
            ("Sim X", 16 * G, 0, 0, True), ("Sim Y", 24 * G, 0, 0, True)]
        both = svc.submit(GRANDCHILD, gpus=2)
        wait_job_state(svc, both.id, JobState.RUNNING)
        s = sample_until(svc, lambda s: all(g["processes"] for g in s["gpus"]))
        assert [(g["util"], g["memory_used_mib"], g["temperature_c"]) for g in s["gpus"]] == [(40, 2048, 50)] * 2
        assert s["gpus"][0]["power_w"] > idle[0]["power_w"]
        svc.cancel([both.id])
        wait_terminal(svc, both.id)
        after = svc.gpu_monitor.sample_now()["gpus"]
        assert [(g["util"], g["memory_used_mib"], g["processes"]) for g in after] == [(0, 0, [])] * 2
        history = svc.gpu_view(history=True)["history"]
        assert 40 in history["gpus"][0]["util"] and history["gpus"][0]["util"][-1] == 0
        assert len(history["ts"]) == len(history["gpus"][1]["memory_used_mib"])
    finally:
        stop_everything(svc)


def test_gpu_view_keeps_the_basic_fields_and_is_published_on_each_sample(tmp_path):
    svc = make(tmp_path, SimulatedGpus(2))
    seen: list[dict] = []
    unsubscribe = svc.subscribe_gpus(seen.append)
    try:
        a = svc.submit(["sleep", "30"], gpus=1)
        wait_job_state(svc, a.id, JobState.RUNNING)
        view = svc.gpu_view()
        assert view["reason"] is None and view["source"] == "simulated" and view["simulated"] is True
        assert [(g["index"], g["simulated"], g["jobs"]) for g in view["gpus"]] == [(0, True, [a.id]), (1, True, [])]
        assert view["gpus"][0]["job_names"] == {str(a.id): "sleep"}
        assert "history" not in view and view["external_memory_threshold_mib"] == 1024
        svc.gpu_monitor.sample_now()
        assert seen and seen[-1]["gpus"][0]["jobs"] == [a.id] and "free" in seen[-1]["gpus"][0]
        unsubscribe()
        n = len(seen)
        svc.gpu_monitor.sample_now()
        assert len(seen) == n
    finally:
        stop_everything(svc)


def _sid(pid: int) -> int | None:
    import os

    try:
        return os.getsid(pid)
    except OSError:
        return None


def _wait_child(pid: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = psutil.Process(pid).children()
        if kids:
            return kids[0].pid
        time.sleep(0.01)
    raise AssertionError(f"{pid} started no child")


def wait_for_gpu(svc, job_id: int):
    """Until the scheduler has looked at the job and found no GPU for it."""
    job = wait_until(svc, job_id, lambda j: str(j.reason) == "Resources(GPU)", "Resources(GPU)")
    assert job.state is JobState.QUEUED
    return job

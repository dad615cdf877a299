"""GPU allocation as a pure decision: memory used by processes that are not ours against the
threshold, kernel-held GPUs, explicit devices, shared mode (packing and refusal); plus the
``--gpu-memory`` option and the stored field."""

from __future__ import annotations

import sqlite3

import pytest

from jupyter_jobflow.core.decide import Snapshot, decide
from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.gpualloc import GpuPool
from jupyter_jobflow.core.gpumodel import DeviceUsage
from jupyter_jobflow.core.model import Job, JobState
from jupyter_jobflow.core.options import parse_submit_args
from jupyter_jobflow.core.optvalues import parse_memory_size
from jupyter_jobflow.core.wire import job_to_json
from jupyter_jobflow.engine.store import MIGRATIONS, Store

NOW = 1_000_000.0
G = 1024  # MiB per GiB
R, Q = JobState.RUNNING, JobState.QUEUED


def job(id: int, state: JobState = Q, **kw) -> Job:
    return Job(id=id, name=f"j{id}", command=("true",), state=state, **kw)


def snap(*jobs: Job, gpus=(0, 1), usage=None, threshold=1024, **kw) -> Snapshot:
    return Snapshot(jobs={j.id: j for j in jobs}, now=NOW, running=[j.id for j in jobs if j.state is R],
                    gpus=tuple(gpus), gpu_usage=usage or {}, external_memory_threshold_mib=threshold, **kw)


def idle(total=16 * G, used=0, **kw) -> DeviceUsage:
    return DeviceUsage(total, used, **kw)


def starts(d) -> dict[int, tuple[int, ...]]:
    return {s.job_id: s.gpus for s in d.starts}


# -- memory that is not ours -----------------------------------------------------------------------

def test_memory_of_others_under_the_threshold_leaves_the_gpu_free():
    d = decide(snap(job(1, gpus=2), usage={0: idle(used=1023), 1: idle(used=300)}))
    assert starts(d) == {1: (0, 1)}


def test_memory_of_others_at_the_threshold_makes_the_gpu_busy():
    d = decide(snap(job(1, gpus=1), job(2, gpus=1), usage={0: idle(used=1024), 1: idle()}))
    assert starts(d) == {1: (1,)}
    assert str(d.reasons[2]) == "Resources(GPU)" and 2 in d.waiting_for_resources


def test_the_threshold_is_configurable():
    usage = {0: idle(used=3 * G), 1: idle(used=3 * G)}
    assert starts(decide(snap(job(1, gpus=1), usage=usage))) == {}
    assert starts(decide(snap(job(1, gpus=1), usage=usage, threshold=4 * G))) == {1: (0,)}


def test_a_gpu_held_by_an_interactive_kernel_is_avoided():
    # a kernel's 20 GiB on GPU 0: not a job of ours, so it counts against the threshold
    usage = {0: idle(total=80 * G, used=20 * G), 1: idle(total=80 * G)}
    d = decide(snap(job(1, gpus=1), job(2, gpus=1), usage=usage))
    assert starts(d) == {1: (1,)} and str(d.reasons[2]) == "Resources(GPU)"


def test_memory_of_our_own_jobs_on_their_gpus_is_not_counted_as_others():
    running = job(1, R, gpus=1, allocated_gpus=(0,), gpu_memory=8 * G)
    usage = {0: idle(used=10 * G + 200, job_mib={1: 10 * G}), 1: idle()}
    pool = GpuPool.build((0, 1), [running], usage, 1024)
    assert pool.external == {0: 200, 1: 0}
    # 16 GiB - 200 MiB not ours - 10 GiB measured (more than the 8 declared) = 5.8 GiB left
    assert pool.available[0] == 16 * G - 200 - 10 * G
    assert starts(decide(snap(running, job(2, gpu_memory=5 * G, gpus=1), usage=usage))) == {2: (0,)}
    assert starts(decide(snap(running, job(2, gpu_memory=6 * G, gpus=1), usage=usage, gpus=(0,)))) == {}


def test_a_job_that_just_ended_does_not_hold_up_the_next_one():
    # the newest sample still shows job 1's 30 GiB on GPU 0, but job 1 has ended: it is ours, freed
    stale = {0: idle(total=80 * G, used=30 * G, job_mib={1: 30 * G})}
    d = decide(snap(job(1, JobState.FINISHED), job(2, gpus=1), gpus=(0,), usage=stale))
    assert starts(d) == {2: (0,)}


def test_the_drivers_reserve_is_not_usable_by_shared_jobs():
    usage = {0: idle(total=16 * G, used=0, reserved_mib=G)}
    assert starts(decide(snap(job(1, gpus=1, gpu_memory=15 * G), gpus=(0,), usage=usage))) == {1: (0,)}
    assert starts(decide(snap(job(1, gpus=1, gpu_memory=15 * G + 1), gpus=(0,), usage=usage))) == {}
    assert starts(decide(snap(job(1, gpus=1), gpus=(0,), usage=usage))) == {1: (0,)}  # nor someone else's


def test_an_unreadable_or_marked_device_is_not_offered():
    usage = {0: idle(error="nvmlDeviceGetMemoryInfo: GPU is lost"), 1: idle()}
    d = decide(snap(job(1, gpus=1), job(2, gpus=1, gpu_memory=G), usage=usage))
    assert starts(d) == {1: (1,)} and str(d.reasons[2]) == "Resources(GPU)"  # not even shared
    d = decide(snap(job(1, gpus=1), job(2, gpus=1), gpus_busy_elsewhere=frozenset({1})))
    assert starts(d) == {1: (0,)} and str(d.reasons[2]) == "Resources(GPU)"


def test_without_usage_readings_devices_count_as_empty():
    assert starts(decide(snap(job(1, gpus=2)))) == {1: (0, 1)}


# -- explicit devices ------------------------------------------------------------------------------

def test_explicit_devices_wait_for_exactly_those():
    busy2 = {0: idle(), 1: idle(), 2: idle(used=5 * G)}
    d = decide(snap(job(1, gpus=2, gpu_ids=(0, 2)), job(2, gpus=1), gpus=(0, 1, 2), usage=busy2))
    assert starts(d) == {2: (0,)} and str(d.reasons[1]) == "Resources(GPU)"  # 0 and 1 free, 2 not: waits
    d = decide(snap(job(1, gpus=2, gpu_ids=(0, 2)), gpus=(0, 1, 2), usage={**busy2, 2: idle()}))
    assert starts(d) == {1: (0, 2)}


def test_explicit_device_held_by_a_job_waits():
    d = decide(snap(job(1, R, gpus=1, allocated_gpus=(1,)), job(2, gpus=1, gpu_ids=(1,))))
    assert starts(d) == {} and str(d.reasons[2]) == "Resources(GPU)"


# -- shared mode ------------------------------------------------------------------------------------

def test_shared_jobs_pack_best_fit_and_leave_whole_gpus_free():
    usage = {0: idle(), 1: idle()}
    d = decide(snap(*(job(i, gpus=1, gpu_memory=6 * G) for i in (1, 2, 3)), usage=usage))
    assert starts(d) == {1: (0,), 2: (0,), 3: (1,)}  # 16 - 6 - 6 = 4 GiB left on 0: the third goes to 1
    d = decide(snap(*(job(i, gpus=1, gpu_memory=6 * G) for i in (1, 2)), job(3, gpus=1), usage=usage))
    assert starts(d) == {1: (0,), 2: (0,), 3: (1,)}  # the whole-GPU job still finds GPU 1


def test_shared_and_whole_gpu_jobs_never_share():
    whole = job(1, R, gpus=1, allocated_gpus=(0,))
    shared = job(2, R, gpus=1, allocated_gpus=(1,), gpu_memory=2 * G)
    d = decide(snap(whole, shared, job(3, gpus=1, gpu_memory=2 * G), job(4, gpus=1),
                    usage={0: idle(), 1: idle(used=2 * G, job_mib={2: 2 * G})}))
    assert starts(d) == {3: (1,)}  # next to the shared job, never next to the whole-GPU one
    assert str(d.reasons[4]) == "Resources(GPU)"


def test_shared_job_that_does_not_fit_waits():
    running = job(1, R, gpus=1, allocated_gpus=(0,), gpu_memory=10 * G)
    usage = {0: idle(used=10 * G, job_mib={1: 10 * G})}
    d = decide(snap(running, job(2, gpus=1, gpu_memory=7 * G), gpus=(0,), usage=usage))
    assert starts(d) == {} and str(d.reasons[2]) == "Resources(GPU)" and 2 in d.waiting_for_resources
    assert starts(decide(snap(running, job(2, gpus=1, gpu_memory=6 * G), gpus=(0,), usage=usage))) == {2: (0,)}


def test_shared_jobs_count_the_memory_of_others_not_the_threshold():
    kernel = {0: idle(used=9 * G)}  # a kernel's 9 GiB: over the threshold, but 7 GiB are left
    assert starts(decide(snap(job(1, gpus=1, gpu_memory=7 * G), gpus=(0,), usage=kernel))) == {1: (0,)}
    assert starts(decide(snap(job(1, gpus=1, gpu_memory=8 * G), gpus=(0,), usage=kernel))) == {}
    assert starts(decide(snap(job(1, gpus=1), gpus=(0,), usage=kernel))) == {}


def test_shared_job_reserves_its_declared_memory_before_it_uses_it():
    running = job(1, R, gpus=1, allocated_gpus=(0,), gpu_memory=12 * G)
    just_started = {0: idle(used=0, job_mib={})}  # it has not allocated yet
    assert starts(decide(snap(running, job(2, gpus=1, gpu_memory=5 * G), gpus=(0,), usage=just_started))) == {}


def test_shared_job_on_several_or_explicit_gpus():
    usage = {0: idle(used=12 * G), 1: idle(), 2: idle()}
    d = decide(snap(job(1, gpus=2, gpu_memory=8 * G), gpus=(0, 1, 2), usage=usage))
    assert starts(d) == {1: (1, 2)}
    d = decide(snap(job(1, gpus=2, gpu_ids=(0, 1), gpu_memory=8 * G), gpus=(0, 1, 2), usage=usage))
    assert starts(d) == {} and str(d.reasons[1]) == "Resources(GPU)"
    d = decide(snap(job(1, gpus=2, gpu_ids=(0, 1), gpu_memory=4 * G), gpus=(0, 1, 2), usage=usage))
    assert starts(d) == {1: (0, 1)}


def test_gpu_memory_without_a_count_means_one_gpu():
    assert starts(decide(snap(job(1, gpu_memory=G), usage={0: idle(), 1: idle()}))) == {1: (0,)}


# -- the option and the stored field -----------------------------------------------------------------

@pytest.mark.parametrize("text, mib", [("8G", 8192), ("8GB", 8192), ("8gib", 8192), ("500M", 500), ("500", 500),
                                       ("1.5G", 1536), ("1T", 1024 * 1024), ("512K", 1), (" 2 G ", 2048)])
def test_gpu_memory_sizes(text, mib):
    assert parse_memory_size(text) == mib
    assert parse_submit_args(["--gpu-memory", text, "python", "t.py"]).gpu_memory == mib


@pytest.mark.parametrize("text", ["", "x", "8X", "-1G", "0", "0.0M", "1b"])
def test_gpu_memory_bad_sizes(text):
    with pytest.raises(InvalidSpec, match=r"^--gpu-memory (expects a size like 8G or 500M|must be more than 0)"):
        parse_submit_args([f"--gpu-memory={text}", "true"])


def test_gpu_memory_is_stored_sent_and_migrated(tmp_path):
    store = Store(tmp_path / "db")
    jid = store.insert_job(job(0, gpus=1, gpu_memory=8 * G, submitted_at=1.0), [])
    assert store.get_job(jid).gpu_memory == 8 * G
    assert job_to_json(store.get_job(jid))["gpu_memory"] == 8 * G
    store.close()
    # a database of the first schema gains the column, its jobs read as whole-GPU jobs
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    import sqlite_utils
    MIGRATIONS[0][1](sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO jobs (name, state, command, submitted_at) VALUES ('a', 'Queued', '[\"true\"]', 1)")
    conn.commit()
    conn.close()
    store = Store(old)
    assert store.schema_version() == len(MIGRATIONS) >= 4  # later migrations ran too
    assert store.load_jobs()[0].gpu_memory is None
    store.close()

"""Bounded growth: host memory and the event stream's snapshot after 50,000 finished jobs, before
and after the purge of the default retention (30 days). Prints one RESULT line per figure.

    .venv/bin/python bench/bench_retention.py [--jobs 50000] [--real 200]

How the jobs are made: ``--real`` jobs (``true``) run through a real service; the other finished
jobs are written in bulk through the store (a job row, its attempt and its three events with the
job's JSON, as the engine writes them; a log and a status file each), because 50,000 processes
take minutes on a small machine. Their end times spread evenly over the last 60 days: half are
older than the retention. Then the host
(``JobService``, in this process, so its RSS is the host's) starts on that store, as after a
restart, every job is listed once (the server caches each job's JSON), and the figures are taken;
then the clock-driven purge runs and they are taken again; last, rounds of new jobs that end and
are purged show whether the host's memory stays flat once jobs come and go (``steady``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JOBFLOW_GPU_SOURCE", "none")

from benchlib import ms, result  # noqa: E402

from jupyter_jobflow.core import wire  # noqa: E402
from jupyter_jobflow.core.model import Attempt, Job, JobState  # noqa: E402
from jupyter_jobflow.core.wire import job_to_json  # noqa: E402
from jupyter_jobflow.engine.service import PURGE_BATCH, JobService  # noqa: E402
from jupyter_jobflow.engine.store import Store  # noqa: E402

DAY = 86400.0


def bulk_finished(state: Path, n: int, now: float) -> int:
    """``n`` finished jobs, ended evenly over the last 60 days; returns how many are older than 30."""
    store = Store(state / "jobflow.db")
    (state / "status").mkdir()
    old = 0
    with store.transaction():
        for i in range(n):
            ended = now - 60 * DAY * (n - i) / n
            old += ended < now - 30 * DAY
            job = Job(id=0, name=f"sweep[{i}]", command=("python", "train.py", "--seed", str(i)),
                      state=JobState.FINISHED, reason=None, cwd="/home/user/project", attempt=1, exit_code=0,
                      submitted_at=ended - 120, first_started_at=ended - 60, started_at=ended - 60, ended_at=ended,
                      user="user", scope="user:user")
            job = job.evolve(id=store.insert_job(job, []))
            (state / "logs" / str(job.id)).mkdir(parents=True)
            (state / "logs" / str(job.id) / "1.log").write_text(f"epoch 1 loss 0.{i}\n")
            (state / "status" / f"{job.id}.1").write_text("0\n")
            store.insert_attempt(Attempt(job.id, 1, ended - 60, pid=1000 + i, proc_start=ended - 60))
            store.end_attempt(job.id, 1, ended_at=ended, exit_code=0, signal=None, state=JobState.FINISHED,
                              reason=None)
            for kind, at, shown in (("submitted", ended - 120, job.evolve(state=JobState.QUEUED)),
                                    ("job", ended - 60, job.evolve(state=JobState.RUNNING)), ("job", ended, job)):
                store.append_event(kind, job.id, {"job": job_to_json(shown), "state": shown.state.value}, ts=at)
    store.close()
    return old


def figures(svc: JobService, stage: str) -> None:
    texts = [wire.job_json_text(j) for j in svc.list()]  # what GET jobs caches, for every retained job
    gc.collect()
    seq, jobs, total = svc.stream_snapshot()
    snapshot = json.dumps({"type": "snapshot", "seq": seq, "jobs": [job_to_json(j) for j in jobs],
                           "total": total, "omitted": total - len(jobs)})
    everything = sum(len(t) + 2 for t in texts)  # what the snapshot sent before: every job
    rss = psutil.Process().memory_info().rss
    db = sum(f.stat().st_size for f in svc.state_dir.glob("jobflow.db*"))
    result(f"{stage}.host_rss", f"{rss / 2**20:.1f} MiB", f"python heap blocks {sys.getallocatedblocks():,}")
    result(f"{stage}.mirror_jobs", f"{len(svc.engine.jobs):,}",
           f"json cache {sum(1 for _ in wire._texts):,} texts, specs {len(svc.engine.specs):,}")
    result(f"{stage}.snapshot_bytes", f"{len(snapshot):,}",
           f"{len(jobs):,} jobs, omitted {total - len(jobs):,}; every job would be {everything:,} bytes")
    result(f"{stage}.database_bytes", f"{db:,}")


def steady_state(svc: JobService, offset: list[float], rounds: int = 5, per_round: int = 5_000) -> None:
    """Jobs keep coming after a purge: each round 5,000 jobs are submitted and end (cancelled while
    held: the cheapest end a job can have), a month passes and the purge takes them. The host's
    RSS after each round shows whether memory freed by a purge is used again (bounded) or grows."""
    sizes = []
    for _ in range(rounds):
        sub = svc.submit(["true"], array=f"0-{per_round - 1}", hold=True)
        svc.cancel(list(sub.array_ids))
        offset[0] += 31 * DAY
        svc.purge()
        gc.collect()
        sizes.append(psutil.Process().memory_info().rss / 2**20)
    result("steady.host_rss", f"{sizes[-1]:.1f} MiB", f"after each of {rounds} rounds of {per_round:,} jobs "
           f"submitted, ended and purged: {', '.join(f'{x:.1f}' for x in sizes)} MiB; mirror {len(svc.engine.jobs)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=50_000, help="finished jobs in all")
    p.add_argument("--real", type=int, default=200, help="of which run as real `true` processes")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jobflow-bench-retention-"))
    try:
        state = work / "state"
        offset = [0.0]
        clock = lambda: time.time() + offset[0]  # noqa: E731  # the host's clock, moved by the bench

        rss0 = psutil.Process().memory_info().rss
        t = time.perf_counter()
        old = bulk_finished(state, args.jobs - args.real, clock())
        result("setup.bulk_insert", f"{time.perf_counter() - t:.1f} s",
               f"{args.jobs - args.real:,} finished jobs, {old:,} older than 30 days")

        t = time.perf_counter()
        svc = JobService(state, clock=clock, retention="none", purge_poll=3600).start()  # no purge yet
        result("setup.host_start", f"{time.perf_counter() - t:.1f} s", "recover: the mirror loads every job")
        t = time.perf_counter()
        ids = [svc.submit(["true"]).id for _ in range(args.real)]
        while any(not svc.get(i).state.terminal for i in ids):
            time.sleep(0.05)
        result("setup.real_jobs", f"{time.perf_counter() - t:.1f} s", f"{args.real} `true` jobs run")
        result("baseline.rss_before_host", f"{rss0 / 2**20:.1f} MiB", "this process before the store existed")

        figures(svc, "before")
        svc.retention = 30 * DAY  # the default retention, as a host started without --retention has
        holds: list[float] = []
        forget = svc.engine.forget

        def timed_forget(*a, **kw):  # each call is one hold of the engine's lock
            t0 = time.perf_counter()
            try:
                return forget(*a, **kw)
            finally:
                holds.append(time.perf_counter() - t0)

        svc.engine.forget = timed_forget
        t = time.perf_counter()
        report = svc.purge()
        result("purge.time", ms(time.perf_counter() - t), f"batches of {PURGE_BATCH}, longest lock hold "
               f"{ms(max(holds))}; "
               f"{len(report.ids):,} jobs, {report.counts.get('events', 0):,} events, "
               f"{report.counts.get('files', 0):,} paths, {len(report.kept):,} kept")
        figures(svc, "after")
        offset[0] += 31 * DAY  # a month later, nothing new: the hourly purge takes the rest
        report = svc.purge()
        figures(svc, "month_later")
        steady_state(svc, offset)
        svc.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

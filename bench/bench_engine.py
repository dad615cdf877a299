"""Engine benchmarks (issue: the engine). Prints one RESULT line per figure.

    .venv/bin/python bench/bench_engine.py [--with-gflow]

a. hand-off: a chain of 20 jobs (`--depends-on @`); each job stamps its first and last moment;
   parent end -> child command start, median and p95 (target: median <= 20 ms).
b. burst: 500 `true` jobs submitted at once; time from the first submit to all done, and how many
   Finished (target: <= 5 s, 500/500).
c. submit latency through the Python API with 0 and with 10,000 jobs already queued
   (target: ratio <= 2).

With --with-gflow it also runs bench/gflow_peer.sh (gflow, PyPI `runqd`, installed in
a private venv under bench/out/) with the same chain and burst, and prints the two side by side.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import ms, pct, result  # noqa: E402

from jupyter_jobflow.core.model import TERMINAL, JobState  # noqa: E402
from jupyter_jobflow.engine.service import JobService  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def wait_all_done(svc: JobService, ids: list[int], timeout: float) -> float:
    """Block until every job in ``ids`` is terminal; returns the time it happened."""
    remaining = set(ids)
    done = threading.Event()
    lock = threading.Lock()

    def on_event(event: dict) -> None:
        if event.get("job_id") in remaining and event.get("state") in TERMINAL:
            with lock:
                remaining.discard(event["job_id"])
                if not remaining:
                    done.set()

    unsubscribe = svc.subscribe(on_event)
    with lock:
        remaining -= {j for j in ids if svc.get(j).state.terminal}
        if not remaining:
            done.set()
    done.wait(timeout)
    unsubscribe()
    return time.time()


def bench_handoff(svc: JobService, work: Path, n: int = 20) -> None:
    stamps = work / "chain"
    stamps.mkdir()
    ids = []
    for i in range(n):
        # the first job sleeps so the whole chain is queued before it ends
        body = f"date +%s.%N > {stamps}/{i}.start; {'sleep 1; ' if i == 0 else ''}date +%s.%N > {stamps}/{i}.end"
        ids.append(svc.submit(["sh", "-c", body], depends_on="@" if i else None, scope="bench-chain").id)
    wait_all_done(svc, ids, 120)
    states = {svc.get(j).state.value for j in ids}
    read = lambda i, what: float((stamps / f"{i}.{what}").read_text())  # noqa: E731
    gaps = [read(i, "start") - read(i - 1, "end") for i in range(1, n)]
    result("a.handoff_parent_end_to_child_start_median", ms(statistics.median(gaps)),
           f"p95={ms(pct(gaps, 0.95))} min={ms(min(gaps))} max={ms(max(gaps))} chain={n} states={sorted(states)}; "
           f"includes one `date` exec on each side")


def bench_burst(svc: JobService, n: int = 500) -> None:
    t0 = time.time()
    ids = [svc.submit(["true"], scope="bench-burst").id for _ in range(n)]
    submitted = time.time()
    t_done = wait_all_done(svc, ids, 300)
    finished = sum(svc.get(j).state is JobState.FINISHED for j in ids)
    result("b.burst_submit_to_all_done", f"{t_done - t0:.2f} s",
           f"jobs={n} finished={finished}/{n} submit_phase={submitted - t0:.2f} s "
           f"-> {n / (t_done - t0):.0f} jobs/s")


def submit_latency(svc: JobService, parent: int, reps: int) -> list[float]:
    lat = []
    for _ in range(reps):
        t = time.perf_counter()
        svc.submit(["true"], dependency=f"afterok:{parent}", scope="bench-submit")
        lat.append(time.perf_counter() - t)
    return lat


def bench_submit(work: Path, queued: int = 10_000, reps: int = 300) -> None:
    svc = JobService(work / "submit-state").start()
    try:
        gate = svc.submit(["true"], hold=True, name="gate").id  # everything below waits on it
        empty = submit_latency(svc, gate, reps)
        t = time.time()
        for _ in range(queued - reps):
            svc.submit(["true"], dependency=f"afterok:{gate}", scope="bench-fill")
        fill = time.time() - t
        full = submit_latency(svc, gate, reps)
        n_queued = len(svc.list(states=["Queued"]))
        p50_0, p50_n = statistics.median(empty), statistics.median(full)
        result("c.submit_latency_p50_at_0_queued", ms(p50_0), f"p95={ms(pct(empty, 0.95))} reps={reps}")
        result(f"c.submit_latency_p50_at_{queued}_queued", ms(p50_n),
               f"p95={ms(pct(full, 0.95))} reps={reps} queued_now={n_queued} (filled in {fill:.1f} s)")
        result("c.submit_latency_ratio", f"{p50_n / p50_0:.2f}x", "target <= 2x")
        svc.cancel([gate])
    finally:
        svc.close()


def run_gflow(work: Path) -> None:
    """gflow's own figures from bench/gflow_peer.sh, run privately."""
    venv = ROOT / "bench" / "out" / "gflow-venv"
    if not (venv / "bin" / "gbatch").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "runqd"], check=True)
    env = {**os.environ, "GFLOW_BIN": str(venv / "bin"), "CHAIN_LEN": "20", "N_THROUGHPUT": "500",
           "N_SUBMIT": "20", "BENCH_WORKDIR": str(work / "gflow")}
    script = ROOT / "bench" / "gflow_peer.sh"
    out = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=1800)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT"):
            print("gflow " + line, flush=True)
    if out.returncode:
        print(f"[bench] gflow bench exited {out.returncode}: {out.stderr.strip()[-400:]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-gflow", action="store_true", help="also run gflow's figures side by side")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jobflow-bench."))
    try:
        print(f"[bench] jupyter-jobflow engine, state in {work}, {os.cpu_count()} cores", flush=True)
        svc = JobService(work / "state").start()
        try:
            bench_handoff(svc, work)
            bench_burst(svc)
        finally:
            svc.close()
        bench_submit(work)
        if args.with_gflow:
            run_gflow(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Schedules: 1,000 flows on cron, on a real clock.

a. Idle CPU of the tick loop's thread (its own CPU clock, over a few seconds with no tick due): target <= 0.1 % of a core.
b. Lateness after the tick, all 1,000 schedules firing on the same minute: when each run is
   created (its row, run-level Queued) and when it has its jobs (admitted), p50/p99 over the
   1,000 runs: target p99 <= 1 s for the creation.

The clock is real time shifted so that the next minute starts a few seconds after setup (no
minute-long wait); lateness is measured in real seconds.

    PYTHONPATH=$PWD python bench/bench_schedules.py [--schedules 1000] [--idle 5]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ms, pct, result  # noqa: E402

from jupyter_jobflow.engine.service import JobService  # noqa: E402

def thread_cpu(name: str) -> float:
    """CPU seconds (user + system, nanosecond clock) of this process's thread called ``name``."""
    thread = next(t for t in threading.enumerate() if t.name == name)
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--schedules", type=int, default=1000)
    ap.add_argument("--idle", type=float, default=5.0, help="seconds of idle measurement")
    args = ap.parse_args()
    n = args.schedules
    shift = [0.0]

    def clock() -> float:
        return time.time() + shift[0]

    with tempfile.TemporaryDirectory() as tmp:
        svc = JobService(tmp, kill_grace=1.0, max_running=16, clock=clock).start()
        try:
            t = time.perf_counter()
            for i in range(n):
                svc.save_flow(f"f{i}", "tasks:\n  work: {command: 'true'}\n")
                svc.set_schedule(f"f{i}", cron="* * * * *", enabled=False)
            print(f"setup: {n} flows and schedules in {time.perf_counter() - t:.1f} s")
            # a. idle: every schedule enabled, its first tick (the boundary) ten minutes away
            boundary = math.ceil(time.time() / 60) * 60 + 600
            for i in range(n):  # a new start moves the cursor to the first tick at or after it
                svc.set_schedule(f"f{i}", start=boundary - 30, enabled=True)
            time.sleep(0.5)  # the loop settles on the next tick
            cpu0, wall0 = thread_cpu("jobflow-schedules"), time.perf_counter()
            time.sleep(args.idle)
            cpu = thread_cpu("jobflow-schedules") - cpu0
            idle_pct = 100 * cpu / (time.perf_counter() - wall0)
            result("schedules.idle_cpu", f"{idle_pct:.3f} % of a core",
                   f"tick loop thread, {n} schedules, {args.idle:g} s with no tick due (target <= 0.1 %)")
            # the clock jumps to 2 s before the boundary (and says so, as a FakeClock would)
            shift[0] = boundary - 2 - time.time()
            svc._tick_poke()
            # b. lateness: every schedule fires at the boundary
            tick = boundary
            seen: dict[str, float] = {}  # run id -> when this thread first saw its row (polled every 5 ms)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len(seen) < n:
                rows = svc.store._select("SELECT run_id FROM runs WHERE logical_time = ?", [tick])
                at = clock()
                for r in rows:
                    seen.setdefault(r["run_id"], at)
                time.sleep(0.005)
            while time.monotonic() < deadline:
                admitted = svc.store._select("SELECT MIN(j.submitted_at) AS at FROM runs r JOIN jobs j ON j.run_id = "
                                             "r.run_id WHERE r.logical_time = ? GROUP BY r.run_id", [tick])
                if len(admitted) >= n:
                    break
                time.sleep(0.05)
            created = [t - tick for t in seen.values()]
            jobs = [r["at"] - tick for r in admitted]
            assert len(created) == n and min(created) >= 0, "a run before its tick"
            early = svc.store._select("SELECT COUNT(*) AS n FROM runs WHERE created_at < logical_time")[0]["n"]
            assert early == 0, f"{early} runs created before their tick"
            result("schedules.created_lateness", f"p50 {ms(pct(created, 0.5))}, p99 {ms(pct(created, 0.99))}",
                   f"{n} runs on one tick, run rows created (target p99 <= 1 s)")
            result("schedules.admitted_lateness", f"p50 {ms(pct(jobs, 0.5))}, p99 {ms(pct(jobs, 0.99))}, "
                   f"max {ms(max(jobs))}", f"{len(jobs)} runs given their jobs (max_active_runs free)")
        finally:
            svc.stop()


if __name__ == "__main__":
    main()

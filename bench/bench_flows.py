"""Flows: create a run of a 1,000-task flow (target <= 1 s), show it (target <= 200 ms), and the
run-state aggregation cost against how many other jobs exist (it selects by run id: flat).

    PYTHONPATH=$PWD python bench/bench_flows.py [--tasks 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from jupyter_jobflow.engine.executors.local import LocalExecutor  # noqa: F401 (the real executor)
from jupyter_jobflow.engine.service import JobService


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=1000)
    n = ap.parse_args().tasks
    with tempfile.TemporaryDirectory() as tmp:
        svc = JobService(tmp, kill_grace=1.0).start()
        try:
            lines = ["tasks:", "  t0: {command: 'true', gpus: 0}"]
            lines += [f"  t{i}: {{command: 'true', depends: t{i - 1}}}" for i in range(1, n)]
            svc.save_flow("big", "\n".join(lines) + "\n")
            t = time.perf_counter()
            run = svc.create_run("big")
            print(f"create a run of {n} tasks: {time.perf_counter() - t:.3f} s (target <= 1 s)")
            t = time.perf_counter()
            svc.run(run["run_id"])
            print(f"show that run: {(time.perf_counter() - t) * 1000:.1f} ms (target <= 200 ms)")
            for others in (0, 2000, 8000):
                have = len(svc.list())
                for _ in range(max(0, others - have)):
                    svc.submit(["true"], hold=True)
                t = time.perf_counter()
                for _ in range(5):
                    svc.run(run["run_id"], tasks=False)
                print(f"run state with {len(svc.list())} jobs stored: {(time.perf_counter() - t) / 5 * 1000:.1f} ms")
            svc.cancel_run(run["run_id"])
        finally:
            svc.close()


if __name__ == "__main__":
    main()

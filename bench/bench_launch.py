"""Time LocalExecutor end to end: launch(`true`) -> pidfd readable -> collect() returns.

    .venv/bin/python bench/bench_launch.py [N]

Prints median and p95 over N launches (default 200), and the share spent in launch() alone.
"""

from __future__ import annotations

import os
import select
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_jobflow.engine.executors import LaunchRequest  # noqa: E402
from jupyter_jobflow.engine.executors.local import LocalExecutor  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main(n: int = 200) -> None:
    with tempfile.TemporaryDirectory() as state:
        ex = LocalExecutor(state)
        env, cwd = dict(os.environ), os.getcwd()
        total, launch = [], []
        for i in range(n + 10):  # the first 10 warm the caches and are not counted
            t0 = time.perf_counter()
            h = ex.launch(LaunchRequest(i, 1, ("true",), cwd, env))
            t1 = time.perf_counter()
            fd = ex.pidfd(h)
            if fd is not None:
                select.select([fd], [], [])
                os.close(fd)
            status = ex.collect(h)
            t2 = time.perf_counter()
            assert status is not None and status.exit_code == 0, status
            if i >= 10:
                total.append((t2 - t0) * 1e3)
                launch.append((t1 - t0) * 1e3)
    print(f"launch(true) -> collect(), {n} runs: median {statistics.median(total):.2f} ms, "
          f"p95 {pct(total, 0.95):.2f} ms, min {min(total):.2f} ms, max {max(total):.2f} ms")
    print(f"  of which launch(): median {statistics.median(launch):.2f} ms, "
          f"p95 {pct(launch, 0.95):.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)

"""API latency under scheduler load (issue 9: requests never wait on the scheduler).

    .venv/bin/python bench/bench_api_load.py [--jobs 1000] [--array 10000] [--arrays 3]

Two concurrent client threads, one per request, time `GET jobs?all=0&limit=100` (list) and
`POST jobs` (submit, a held job) back to back; the script prints p50/p99/max of each (target
p99 <= 50 ms):

a. while `--jobs` jobs start at once: they wait on one held gate job, whose release makes all of
   them ready in one step (each runs `true`, so they also end in a burst);
b. while a `--array`-task job array is submitted (held, so only the insert is measured), `--arrays`
   times in a row.

It starts a private `jobflow daemon` (a real one, its own state directory) and stops it. The
default run takes well under a minute.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import ms, pct, result  # noqa: E402

from jupyter_jobflow.client.http import Client, ensure_daemon  # noqa: E402

REQUESTS = {
    "list": lambda c: c.jobs(all=False, limit=100),  # a page: the whole list's cost is bench_api.py's c
    "submit": lambda c: c.submit({"command": ["true"], "hold": True, "scope": "bench-probe"}),
}


def probe(client: Client, kind: str, until: threading.Event, out: list[float]) -> None:
    """One kind of request, back to back, until ``until`` is set; the latency of each."""
    while not until.is_set():
        t = time.perf_counter()
        REQUESTS[kind](client)
        out.append(time.perf_counter() - t)


def report(label: str, lat: dict[str, list[float]], note: str) -> None:
    for kind, xs in lat.items():
        if not xs:
            result(f"{label}.{kind}_latency", "no samples", note)
            continue
        result(f"{label}.{kind}_latency", f"p50={ms(statistics.median(xs))} p99={ms(pct(xs, 0.99))}",
               f"max={ms(max(xs))} samples={len(xs)} {note} (target p99 <= 50 ms)")


def measured(client: Client, work) -> tuple[dict[str, list[float]], float]:
    """Run ``work()`` while one client thread per request kind probes the API (each on its own
    connection); the latencies and the work's span."""
    done = threading.Event()
    lat: dict[str, list[float]] = {kind: [] for kind in REQUESTS}
    threads = [threading.Thread(target=probe, args=(Client(client.url, client.token), kind, done, lat[kind]))
               for kind in REQUESTS]
    for thread in threads:
        thread.start()
    t0 = time.perf_counter()
    try:
        work()
    finally:
        span = time.perf_counter() - t0
        done.set()
        for thread in threads:
            thread.join()
    return lat, span


def bench_start_burst(client: Client, n: int) -> None:
    gate = client.submit({"command": ["true"], "hold": True, "name": "gate"})["id"]
    ids = client.submit({"command": ["true"], "dependency": f"afterok:{gate}", "array": f"1-{n}",
                         "scope": "bench-burst"})["array_ids"]

    def release_and_wait() -> None:
        client.release(gate)
        deadline = time.monotonic() + 120
        while client.jobs(ids=f"{ids[0]}-{ids[-1]}", state="Queued,Running", all=True)["total"]:
            if time.monotonic() > deadline:
                raise SystemExit("the burst did not finish in 120 s")
            time.sleep(0.05)

    lat, span = measured(client, release_and_wait)
    report("a", lat, f"while {n} jobs start at once (all started and ended in {span:.2f} s)")


def bench_array_submit(client: Client, size: int, times: int) -> None:
    spans: list[float] = []

    def submit_arrays() -> None:
        for _ in range(times):
            t = time.perf_counter()
            client.submit({"command": ["true"], "array": f"0-{size - 1}", "hold": True, "scope": "bench-array"})
            spans.append(time.perf_counter() - t)

    lat, _ = measured(client, submit_arrays)
    report("b", lat, f"while {times} x a {size}-task array is submitted (each submit took "
                     f"{', '.join(f'{s:.2f}' for s in spans)} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--array", type=int, default=10_000)
    ap.add_argument("--arrays", type=int, default=3)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="jobflow-bench-load."))
    os.environ.update(JOBFLOW_HOME=str(home), PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get(
        "PYTHONPATH")])))  # the daemon runs this checkout's package
    os.environ.pop("JOBFLOW_URL", None)
    os.environ.pop("JOBFLOW_TOKEN", None)
    try:
        ensure_daemon(home)
        client = Client.discover(home, timeout=120)
        print(f"[bench] jobflow daemon for {home}, {os.cpu_count()} cores", flush=True)
        bench_start_burst(client, args.jobs)
        bench_array_submit(client, args.array, args.arrays)
    finally:
        subprocess.run([sys.executable, "-m", "jupyter_jobflow.cli", "jobflow", "stop", "--state-dir", str(home)],
                       capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

"""API and command benchmarks (issue: one API). Prints one RESULT line per figure.

    .venv/bin/python bench/bench_api.py

a. `gbatch true` wall time vs `python -c pass`, medians over 30 runs each (target <= 1.3x).
b. API latency p50/p99 of `GET jobs` and `POST jobs` while a 500-job burst runs
   (target p99 <= 100 ms; gflow stopped answering for up to 146 s in the same burst).
c. `gqueue` and `gqueue -t` with 10,000 jobs queued: server time (the `GET jobs` request) and the
   command's wall time (targets 100 ms and 200 ms of server time).

It starts a private `jobflow daemon` (a real one, with its own state directory) and stops it.
"""

from __future__ import annotations

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

BIN = Path(sys.executable).parent


def wall(argv: list[str], env: dict[str, str], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - t)
    return out


def bench_gbatch(env: dict[str, str], client: Client, reps: int = 30) -> None:
    gate = client.submit({"command": ["true"], "hold": True})["id"]
    base = wall([sys.executable, "-c", "pass"], env, reps)
    cmd = wall([str(BIN / "gbatch"), "--depends-on", str(gate), "true"], env, reps)  # queued: no job runs
    ratio = statistics.median(cmd) / statistics.median(base)
    result("a.python_c_pass_wall_median", ms(statistics.median(base)), f"reps={reps}")
    result("a.gbatch_wall_median", ms(statistics.median(cmd)), f"p90={ms(pct(cmd, 0.9))} reps={reps}")
    result("a.gbatch_vs_python_ratio", f"{ratio:.2f}x", "target <= 1.3x")
    client.cancel([gate])


def bench_latency_during_burst(client: Client, n: int = 500) -> None:
    lat: dict[str, list[float]] = {"list": [], "submit": []}
    done = threading.Event()

    def burst() -> None:
        for _ in range(n):
            client.submit({"command": ["true"], "scope": "bench-burst"})
        done.set()

    t0 = time.perf_counter()
    thread = threading.Thread(target=burst)
    thread.start()
    while not done.is_set() or client.jobs(state="Queued,Running", all=False)["total"]:
        t = time.perf_counter()
        client.jobs(all=False)
        lat["list"].append(time.perf_counter() - t)
        t = time.perf_counter()
        client.submit({"command": ["true"], "scope": "bench-probe"})
        lat["submit"].append(time.perf_counter() - t)
    thread.join()
    span = time.perf_counter() - t0
    for kind, xs in lat.items():
        result(f"b.{kind}_latency_during_burst", f"p50={ms(statistics.median(xs))} p99={ms(pct(xs, 0.99))}",
               f"max={ms(max(xs))} samples={len(xs)} burst={n} jobs, all done in {span:.2f} s")


def fetch_raw(client: Client, path: str) -> tuple[float, int]:
    """Time to the last byte of a reply, without parsing it: what the server costs."""
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(client.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    t = time.perf_counter()
    conn.request("GET", url.path + path, headers={"Authorization": f"token {client.token}"})
    size = len(conn.getresponse().read())
    conn.close()
    return time.perf_counter() - t, size


def bench_gqueue(env: dict[str, str], client: Client, queued: int = 10_000, reps: int = 5) -> None:
    gate = client.submit({"command": ["true"], "hold": True, "name": "gate"})["id"]
    for _ in range(queued - 1):
        client.submit({"command": ["true"], "dependency": f"afterok:{gate}", "scope": "bench-fill"})
    fetches = [fetch_raw(client, "jobs?all=0") for _ in range(reps + 1)]  # the reply's bytes, unparsed
    cold, warm = fetches[0], [f for f, _ in fetches[1:]]
    result("c.server_GET_jobs_active_cold", ms(cold[0]),
           f"jobs={queued} reply={cold[1] / 1e6:.1f} MB; first list after 10,000 changes serialises every job")
    result("c.server_GET_jobs_active_median", ms(statistics.median(warm)),
           f"jobs={queued} max={ms(max(warm))} reps={reps} (target 100 ms; gqueue -t asks the same, 200 ms)")
    total = queued
    for label, args in (("gqueue", []), ("gqueue_-t", ["-t"])):
        xs = wall([str(BIN / "gqueue"), *args], env, reps)
        result(f"c.{label}_wall_median", ms(statistics.median(xs)), f"jobs={total} max={ms(max(xs))} reps={reps}")
    client.cancel([gate])


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="jobflow-bench-api."))
    env = {**os.environ, "JOBFLOW_HOME": str(home)}
    env.pop("JOBFLOW_URL", None)
    env.pop("JOBFLOW_TOKEN", None)
    # as an installed package runs: with bytecode (pip compiles it at install time; an editable
    # checkout, or PYTHONDONTWRITEBYTECODE=1 as some sandboxes set, would compile every module each run)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "jupyter_jobflow")], env=env,
                   stdout=subprocess.DEVNULL, check=True)
    os.environ.update(JOBFLOW_HOME=str(home))
    try:
        ensure_daemon(home)
        client = Client.discover(home)
        print(f"[bench] jobflow daemon for {home}, {os.cpu_count()} cores", flush=True)
        bench_gbatch(env, client)
        bench_latency_during_burst(client)
        bench_gqueue(env, client)
    finally:
        subprocess.run([str(BIN / "jobflow"), "stop", "--state-dir", str(home)], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

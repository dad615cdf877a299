"""Magic submit latency (issue: the magics). Prints one RESULT line per figure.

    .venv/bin/python bench/bench_magics.py

The time a `%%gbatch` cell takes to return its job handle, in a real IPython shell against a real
`jobflow daemon`, p50 and p95 over 200 cells (target p50 <= 5 ms; gflow's `gbatch` is 12-16 ms
here). The jobs wait on a held job, so running them does not compete with the submissions.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(reps: int = 200) -> None:
    home = tempfile.mkdtemp(prefix="jobflow-bench-magics.")
    os.environ["JOBFLOW_HOME"] = home
    for key in ("JOBFLOW_URL", "JOBFLOW_TOKEN"):
        os.environ.pop(key, None)
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_jobflow.client.http import Client, ensure_daemon

    try:
        ensure_daemon(home)
        shell = InteractiveShell.instance()
        shell.run_cell("%load_ext jupyter_jobflow")
        gate = Client.discover(home).submit({"command": ["true"], "hold": True})["id"]
        magics = shell.magics_manager.registry["JobflowMagics"]
        cell = "x = 1\nprint(x)\n"
        for line in (f"--depends-on {gate}", f"--depends-on {gate} --in y --out x"):
            shell.user_ns["y"] = {"rows": list(range(100))}
            lat = []
            with contextlib.redirect_stdout(io.StringIO()):  # the 'Submitted batch job' lines
                magics.submit_cell(line, cell)  # warm: the service found, modules loaded
                for _ in range(reps):
                    t = time.perf_counter()
                    magics.submit_cell(line, cell)
                    lat.append(time.perf_counter() - t)
            lat.sort()
            label = "with_in_out" if "--in" in line else "plain"
            print(f"RESULT magic_submit_latency_{label} = p50 {statistics.median(lat) * 1000:.2f} ms   "
                  f"# p95={lat[int(0.95 * (reps - 1))] * 1000:.2f} ms reps={reps}; %%gbatch {line}; target p50 <= 5 ms",
                  flush=True)
    finally:
        subprocess.run([sys.executable, "-m", "jupyter_jobflow.cli", "jobflow", "stop", "--state-dir", home],
                       capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

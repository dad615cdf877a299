"""`./dev start`, as a first-time reader runs it: it says what it is doing, passes JupyterLab's
options through (`--port`), and prints the one URL that opens the tutorial, with the server's own
port and token. Setup is skipped (JOBFLOW_DEV_SETUP=0: this test's environment is set up already;
its progress lines are what a fresh clone shows, checked by hand)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dev_start_prints_the_url_that_opens_the_tutorial_on_the_port_asked_for(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBFLOW_", "JPY_", "JUPYTER"))}
    env.update(JOBFLOW_VENV=sys.prefix, JOBFLOW_DEV_SETUP="0", JOBFLOW_HOME=str(tmp_path / "state"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_DATA_DIR=str(tmp_path / "data"), IPYTHONDIR=str(tmp_path / "ipython"), BROWSER="true")
    proc = subprocess.Popen([str(ROOT / "dev"), "start", "--no-browser", "--port", str(port)], cwd=tmp_path,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not any(line.startswith("dev: open ") for line in lines):
            assert proc.poll() is None, "".join(lines)[-3000:]
            assert time.monotonic() < deadline, "no `dev: open` line:\n" + "".join(lines)[-3000:]
            time.sleep(0.2)
        ours = [line.strip() for line in lines if line.startswith("dev: ")]
        assert ours[0].startswith("dev: starting JupyterLab (notebooks/, 2 simulated GPUs, state in "), ours
        url = ours[1].removeprefix("dev: open ")
        assert re.fullmatch(rf"http://localhost:{port}/lab/tree/01-quickstart\.ipynb\?token=[0-9a-f]{{32,}}", url), url
        assert ours[2] == f"dev: stop with Ctrl-C twice, or `{sys.prefix}/bin/jupyter lab stop {port}`", ours
        with urllib.request.urlopen(url, timeout=30) as reply:  # the token in it logs in
            assert reply.status == 200 and b"JupyterLab" in reply.read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and what it started
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

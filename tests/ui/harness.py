"""What the browser tests and the browser benchmarks share: a JupyterLab server with jobflow and
simulated GPUs in a throw-away directory, and headless Chromium (Debian's ``/usr/bin/chromium``,
driven by Playwright; browsers are never downloaded).

Needs: ``pip install playwright`` (with ``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1``), ``apt-get install
chromium``, jupyterlab and this package installed with its built front end (``pip install .`` or
``-e .``: the labextension is then in ``share/jupyter/labextensions/jupyter-jobflow``).

Env: ``CHROMIUM`` (default ``/usr/bin/chromium``), ``LAB_START_TIMEOUT`` (s, default 90),
``JOBFLOW_UI_PYTHON``: the Python whose JupyterLab and jupyter_jobflow to test (default: this one),
e.g. a fresh venv with the built wheel installed (``pip install dist/*.whl jupyterlab ipykernel``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
START_TIMEOUT = float(os.environ.get("LAB_START_TIMEOUT", "90"))
LAB_PYTHON = os.environ.get("JOBFLOW_UI_PYTHON") or sys.executable


def missing_prerequisite() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 pip install playwright)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "jupyterlab is not installed"
    return None


def labextension_dir() -> Path | None:
    """Where the jupyter-jobflow labextension of ``LAB_PYTHON`` is, if it is installed with its bundle."""
    code = ("from jupyter_core.paths import jupyter_path; import pathlib; "
            "print(next((str(p) for p in (pathlib.Path(b) / 'jupyter-jobflow' for b in jupyter_path('labextensions')) "
            "if (p / 'package.json').exists()), ''))")
    try:
        out = subprocess.run([LAB_PYTHON, "-c", code], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out) if out else None


@dataclasses.dataclass
class LabServer:
    proc: subprocess.Popen
    port: int
    token: str
    root: Path
    home: Path
    log: Path
    base_url: str = "/"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else (b"" if method in ("POST", "PATCH") else None)
        req = urllib.request.Request(self.base + path.lstrip("/"), data=data, method=method, headers={
            "Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=15) as r:
            raw = r.read()
            return json.loads(raw) if raw else None

    def jobflow(self, path: str, method: str = "GET", body: Any = None) -> Any:
        return self.api("jobflow/api/" + path, method, body)

    def log_tail(self, n: int = 80) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "<no log>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(base: Path, files: dict[str, str | Path] | None = None, *, simulated_gpus: int = 2,
              extra_env: dict[str, str] | None = None, base_url: str = "/") -> LabServer:
    """Start ``jupyter lab`` on a free loopback port with a fixed token, jobflow's state in
    ``base/jobflow`` and ``simulated_gpus`` simulated GPUs; wait until jobflow's API answers.
    ``base_url`` as behind JupyterHub or a proxy (``/user/ann/``)."""
    root = base / "root"
    root.mkdir(parents=True, exist_ok=True)
    for name, src in (files or {}).items():
        if isinstance(src, Path):
            shutil.copy(src, root / name)
        else:
            (root / name).write_text(src)
    config = base / "config"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    home = base / "jobflow"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBFLOW_", "JPY_"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_DATA_DIR=str(base / "data"), IPYTHONDIR=str(base / "ipython"), JUPYTER_PLATFORM_DIRS="1",
        PYTHONUNBUFFERED="1", JOBFLOW_HOME=str(home), JOBFLOW_SIMULATED_GPUS=str(simulated_gpus),
        **(extra_env or {}),
    )
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        LAB_PYTHON, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True", "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
        "--LabApp.extension_manager=readonly", f"--ServerApp.base_url={base_url}",
    ]
    log = base / "jupyter-lab.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = LabServer(proc=proc, port=port, token=token, root=root, home=home, log=log, base_url=base_url)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            server.jobflow("status")
            return server
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                stop_lab(server)
                raise RuntimeError(f"jupyter lab (with jobflow) not ready in {START_TIMEOUT}s:\n{server.log_tail()}")
            time.sleep(0.25)


def stop_lab(server: LabServer) -> None:
    """Clean API shutdown (stops kernels), then SIGTERM / SIGKILL to our process only."""
    proc = server.proc
    if proc.poll() is None:
        try:
            server.api("api/shutdown", method="POST")
        except Exception:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            break
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass


def launch_browser(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def notebook(cells: list[str]) -> str:
    """An .ipynb (nbformat 4) with these code cells and no outputs."""
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                   "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }, indent=1)


def wait_kernel_idle(page: Any, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return !!k && k.status === 'idle' && k.connectionStatus === 'connected';
        }""",
        timeout=timeout_ms,
    )


def lab_command(page: Any, command: str, args: dict | None = None, *, wait: bool = True) -> Any:
    """Run a JupyterLab command; ``wait=False`` returns at once (``notebook:run-all-cells`` resolves
    only when the last cell has finished)."""
    if wait:
        return page.evaluate("([c, a]) => window.jupyterapp.commands.execute(c, a || {})", [command, args])
    page.evaluate("([c, a]) => { window.jupyterapp.commands.execute(c, a || {}); }", [command, args])
    return None


def widen_sidebar(page: Any, by: float) -> None:
    """Drag the handle between the left sidebar and the main area `by` pixels to the right."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)").first
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 200)
    page.mouse.down()
    page.mouse.move(box["x"] + by, box["y"] + 200, steps=8)
    page.mouse.up()

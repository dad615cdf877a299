"""What the magics' tests share: one real `jobflow daemon` per module, found the way a kernel finds
it (the environment), and a fresh notebook scope in the IPython shell for each test."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_jobflow.client.http import ensure_daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    home = tmp_path_factory.mktemp("jobflow-home")
    saved = {k: os.environ.get(k) for k in ("JOBFLOW_HOME", "JOBFLOW_URL", "JOBFLOW_TOKEN")}
    os.environ["JOBFLOW_HOME"] = str(home)
    os.environ.pop("JOBFLOW_URL", None)
    os.environ.pop("JOBFLOW_TOKEN", None)
    info = ensure_daemon(home)
    yield home, info
    subprocess.run([sys.executable, "-m", "jupyter_jobflow.cli", "jobflow", "stop", "--state-dir", str(home)],
                   capture_output=True, timeout=60)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def ip(daemon):
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext jupyter_jobflow")
    magics = shell.magics_manager.registry["JobflowMagics"]
    magics.scope = f"test:{os.urandom(4).hex()}"  # a fresh notebook: its own `@` history
    magics._client = None  # this module's daemon (the shell is shared with other test modules)
    yield shell


def cell(ip, source: str):
    """Run a cell as a person would (it gets a prompt number); its value (the job handle)."""
    return ip.run_cell(textwrap.dedent(source), store_history=True).result

"""The tutorials run under nbval (`pytest --nbval-lax notebooks/`) against a private daemon that
the magics start by themselves, in a throw-away state directory; it is stopped at the end."""

import os
import subprocess
import sys
import tempfile

import pytest

os.environ["JOBFLOW_HOME"] = tempfile.mkdtemp(prefix="jobflow-tutorial-")
os.environ["JOBFLOW_SIMULATED_GPUS"] = "2"
for key in ("JOBFLOW_URL", "JOBFLOW_TOKEN"):
    os.environ.pop(key, None)


@pytest.fixture(scope="session", autouse=True)
def stop_tutorial_daemon():
    yield
    subprocess.run([sys.executable, "-m", "jupyter_jobflow.cli", "jobflow", "stop",
                    "--state-dir", os.environ["JOBFLOW_HOME"]], capture_output=True, timeout=60)

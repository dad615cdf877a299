"""The tutorials run under nbval (`pytest --nbval-lax notebooks/`) against a private daemon that
the magics start by themselves, in a throw-away state directory; it is stopped at the end.

The environment is set by a fixture (not at import): the tests in tests/ must not see it."""

import os
import subprocess
import sys
import tempfile

import pytest

TUTORIAL_ENV = {"JOBFLOW_SIMULATED_GPUS": "2", "JOBFLOW_URL": None, "JOBFLOW_TOKEN": None}


@pytest.fixture(scope="session", autouse=True)
def tutorial_service():
    """Set before the first notebook's kernel starts (it inherits the environment)."""
    env = {**TUTORIAL_ENV, "JOBFLOW_HOME": tempfile.mkdtemp(prefix="jobflow-tutorial-")}
    saved = {key: os.environ.get(key) for key in env}
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    yield
    subprocess.run([sys.executable, "-m", "jupyter_jobflow.cli", "jobflow", "stop",
                    "--state-dir", env["JOBFLOW_HOME"]], capture_output=True, timeout=60)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

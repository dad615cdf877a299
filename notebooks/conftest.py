"""The tutorials run under nbval (`pytest --nbval-lax notebooks/`) against a private daemon that
the magics start by themselves, in a throw-away state directory; it is stopped at the end.

The environment is set just before the first notebook runs (not at import: the tests in tests/ must
not see it), by a hook rather than a fixture: nbval starts the kernel while setting up the notebook,
before any fixture of its cells, and the kernel inherits the environment it starts with."""

import os
import subprocess
import sys
import tempfile

import pytest

TUTORIAL_ENV = {"JOBFLOW_SIMULATED_GPUS": "2", "JOBFLOW_URL": None, "JOBFLOW_TOKEN": None}
_saved: dict = {}


def _apply(env: dict) -> None:
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if _saved or not str(item.fspath).endswith(".ipynb"):
        return
    env = {**TUTORIAL_ENV, "JOBFLOW_HOME": tempfile.mkdtemp(prefix="jobflow-tutorial-")}
    _saved.update({key: os.environ.get(key) for key in env})
    _saved["__home__"] = env["JOBFLOW_HOME"]
    _apply(env)


def pytest_sessionfinish(session):
    home = _saved.pop("__home__", None)
    if home is None:
        return
    subprocess.run([sys.executable, "-m", "jupyter_jobflow.cli", "jobflow", "stop", "--state-dir", home],
                   capture_output=True, timeout=60)
    _apply(_saved)
    _saved.clear()

from __future__ import annotations

import os

import pytest
from helpers import stop_everything

from jupyter_jobflow.engine.service import JobService

# The tests never use this machine's own GPUs: a developer's GPU box runs them as CI does. Tests of
# the NVML path pass a stand-in module; simulated GPUs are asked for explicitly.
os.environ.setdefault("JOBFLOW_GPU_SOURCE", "none")


@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / "state"


@pytest.fixture
def service(state_dir):
    svc = JobService(state_dir, kill_grace=1.0).start()
    yield svc
    stop_everything(svc)


@pytest.fixture
def gpu_service(tmp_path):
    svc = JobService(tmp_path / "gpu-state", simulated_gpus=2, kill_grace=1.0).start()
    yield svc
    stop_everything(svc)


# -- the server tests (test_server_*.py, test_daemon.py) ----------------------------------------
def pytest_configure(config):
    config.addinivalue_line("markers", "deny_jobflow: the Jupyter server's authorizer denies the jobflow resource")
    config.addinivalue_line("markers", "jobflow_config(**traits): JobflowApp config for that test's server")


def _wants_jupyter_loop(request) -> bool:
    import inspect

    return inspect.iscoroutinefunction(getattr(request, "function", None)) or \
        "jp_configurable_serverapp" in request.fixturenames


@pytest.fixture
def jp_asyncio_loop(request):
    """pytest-jupyter's event loop, only where it is needed. The server test modules register
    pytest-jupyter (``pytest_plugins``), which makes this fixture and ``jp_server_cleanup``
    autouse for the whole run; closing a loop that another library runs (Playwright's, in the UI
    tests) then fails those tests. So: a loop for coroutine tests and Jupyter-server tests, None
    elsewhere. The body is pytest-jupyter's own."""
    if not _wants_jupyter_loop(request):
        yield None
        return
    from jupyter_core.utils import ensure_event_loop

    loop = ensure_event_loop(prefer_selector_loop=True)
    yield loop
    loop.close()


@pytest.fixture
def jp_server_cleanup(jp_asyncio_loop):
    """pytest-jupyter's cleanup of the ServerApp singleton, skipped where there was no loop."""
    yield
    if jp_asyncio_loop is None:
        return
    from jupyter_server.serverapp import ServerApp

    app = ServerApp.instance()
    try:
        jp_asyncio_loop.run_until_complete(app._cleanup())
    except (RuntimeError, SystemExit) as e:
        print("ignoring cleanup error", e)
    if hasattr(app, "kernel_manager"):
        app.kernel_manager.context.destroy()
    ServerApp.clear_instance()


@pytest.fixture
def jobflow_server_config(tmp_path):
    """pytest-jupyter's server config for the jobflow extension: its own state directory, two
    simulated GPUs, a short kill grace. A module aliases it as ``jp_server_config``."""
    from traitlets.config import Config

    return Config({
        "ServerApp": {"jpserver_extensions": {"jupyter_jobflow": True}, "allow_root": True},
        "JobflowApp": {"state_dir": str(tmp_path / "jobflow-state"), "simulated_gpus": 2, "kill_grace": 1.0},
    })


@pytest.fixture
def daemon(tmp_path):
    """A real ``python -m jupyter_jobflow.server.daemon`` on a fresh state directory."""
    from server_support import Daemon

    d = Daemon(tmp_path / "daemon-state")
    yield d
    d.cancel_everything()
    d.stop()

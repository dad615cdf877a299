"""The Jupyter server extension: ``JobflowApp`` hosts the scheduler inside the Jupyter server.

Enabled on install (``jupyter-config/jupyter_server_config.d/jupyter_jobflow.json``). It starts
the ``JobService`` of its state directory, mounts the API under ``{base_url}jobflow/api/``,
publishes ``endpoint.json`` and ``JOBFLOW_URL``/``JOBFLOW_TOKEN`` (kernels and terminals started by
this server inherit them), and keeps the server from being culled as idle while jobs are queued or running.
On shutdown it stops scheduling; running jobs go on and the next host re-adopts them.

``JOBFLOW_TOKEN`` is a random token of jobflow's own, which opens the jobflow API only
(``jupyter_auth.py``); the Jupyter server's token is never published nor given to a job.

If another host (a ``jobflow daemon``, another Jupyter server) already schedules the state
directory, or the directory or its database cannot be used (damaged, newer, unwritable, full),
the extension still mounts the API, but every route answers 503 with the one-line message naming
the holder or the path (and logs it once); it writes no endpoint and exports nothing, so clients find the host
that does schedule through its endpoint file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from jupyter_server._tz import utcnow
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop, PeriodicCallback
from traitlets import Dict, Float, Int, TraitError, Unicode, default, validate

from ..client import discovery as paths
from ..core.errors import JobflowError
from ..core.model import JobState
from ..core.timespec import parse_time_limit
from .base import HostContext
from .jupyter_auth import JUPYTER
from .kernels import REFRESH_MS, KernelPaths
from .routes import make_handlers
from .static import static_handlers

ACTIVITY_MS = 30_000  # the server checks for idleness every 60 s


class JobflowApp(ExtensionApp):
    name = "jupyter_jobflow"
    description = "A GPU job scheduler with job dependencies, inside the Jupyter server"

    state_dir = Unicode(help="The state directory (jobs, logs, endpoint.json). Default: $JOBFLOW_HOME, "
                             "else jobflow/ under Jupyter's data directory.").tag(config=True)
    simulated_gpus = Int(None, allow_none=True, help="Simulate this many GPUs (default: "
                         "$JOBFLOW_SIMULATED_GPUS, else none)").tag(config=True)
    default_time_limit = Unicode(None, allow_none=True, help="Time limit of jobs submitted without one, in "
                                 "Slurm's format (2:00:00, 1-0, UNLIMITED)").tag(config=True)
    group_limits = Dict(value_trait=Int(), help="Running jobs allowed at once per group: "
                        "{name: limit}, 0 = no limit").tag(config=True)
    kill_grace = Float(30.0, help="Seconds between SIGTERM and SIGKILL when a job is stopped").tag(config=True)
    retention = Unicode(None, allow_none=True, help="Keep finished jobs this long, then purge them with their "
                        "logs (30d, 7-0, 12h; none keeps every job). Default: $JOBFLOW_RETENTION, "
                        "else 30d").tag(config=True)

    default_executor = Unicode(help="Where jobs that name no executor run: local (this machine) or slurm "
                               "(sbatch; registered when Slurm is reachable). Default: $JOBFLOW_EXECUTOR, "
                               "else local").tag(config=True)

    @default("default_executor")
    def _default_executor(self) -> str:
        return os.environ.get("JOBFLOW_EXECUTOR") or "local"

    @validate("default_executor")
    def _check_executor(self, proposal: dict[str, Any]) -> str:
        from ..core.request import executor_name

        try:
            return executor_name("JobflowApp.default_executor", proposal["value"])
        except Exception as e:
            raise TraitError(str(e)) from None

    @default("state_dir")
    def _default_state_dir(self) -> str:
        return str(paths.default_state_dir())

    @validate("retention")
    def _check_retention(self, proposal: dict[str, Any]) -> str | None:
        from ..engine.retention import parse_retention

        try:
            parse_retention(proposal["value"])
        except Exception as e:
            raise TraitError(f"JobflowApp.retention: {e}") from None
        return proposal["value"]

    @validate("default_time_limit")
    def _check_time_limit(self, proposal: dict[str, Any]) -> str | None:
        if proposal["value"] is not None:
            try:
                parse_time_limit(proposal["value"])
            except Exception as e:
                raise TraitError(f"JobflowApp.default_time_limit: {e}") from None
        return proposal["value"]

    def initialize_settings(self) -> None:
        from ..engine.service import JobService

        limit = parse_time_limit(self.default_time_limit) if self.default_time_limit else None
        service: JobService | None = None
        try:  # a second host, a damaged database, an unwritable directory: one line and 503s
            service = JobService(self.state_dir, simulated_gpus=self.simulated_gpus, kill_grace=self.kill_grace,
                                 default_time_limit=limit, retention=self.retention,
                                 default_executor=self.default_executor)
            service.start()
        except JobflowError as e:  # Unavailable, or a bad $JOBFLOW_RETENTION (InvalidSpec)
            if service is not None:
                service.close()
            service, self.unavailable = None, str(e)
            self.log.warning("jobflow: not scheduling here: %s", e)
        else:
            self.unavailable = None
            for group, n in self.group_limits.items():
                service.set_group(group, limit=n)
        self.service = service
        self.jobflow_token = secrets.token_hex(24)  # scoped to the jobflow API (jupyter_auth.py)
        self.settings["jobflow_token"] = self.jobflow_token
        self.settings["jobflow"] = HostContext(service, "jupyter", self.unavailable)
        self._watch_activity()
        self._watch_kernels()
        # Publish once the loop runs: by then the server has chosen its port (port 0, or a retry
        # past a busy one, is only settled after the extensions load), and no kernel has started.
        IOLoop.current().add_callback(self._publish)

    def initialize_handlers(self) -> None:
        self.handlers.extend(make_handlers("jobflow/api", JUPYTER))
        self.handlers.extend(static_handlers("jobflow", allow_unauthenticated))

    def _publish(self) -> None:
        """endpoint.json and the environment kernels inherit; only the host that schedules publishes."""
        if self.service is None:
            return
        url, token = self.serverapp.connection_url, self.jobflow_token
        self.service.set_endpoint(url, token, secrets=[self.serverapp.identity_provider.token or ""])
        paths.write_endpoint(Path(self.state_dir), {"url": url, "token": token, "pid": os.getpid(), "host": "jupyter"})
        self._exported = {"JOBFLOW_URL": url, "JOBFLOW_TOKEN": token}
        os.environ.update(self._exported)

    # -- idle culling ------------------------------------------------------------------------
    def current_activity(self) -> bool:
        """The server's idle shutdown asks its extensions; jobs that wait or run are activity."""
        return self.service is not None and any(
            j.state in (JobState.QUEUED, JobState.RUNNING) for j in self.service.list(all=False))

    def _mark_active(self) -> None:
        """Record activity where ``web_app.last_activity()`` looks (JupyterHub's culler reads it)."""
        self.serverapp.web_app.settings["last_activity_times"]["jobflow"] = utcnow()

    def _watch_activity(self) -> None:
        """Mark activity on each event of a waiting or running job (cheap, from the scheduler
        thread onto the loop), and every 30 s while any job waits or runs (a long job is silent)."""
        self._activity: PeriodicCallback | None = None
        self._unsubscribe: Any = None
        if self.service is None:
            return
        loop = IOLoop.current()

        def on_event(event: dict[str, Any]) -> None:
            if event.get("state") in (JobState.QUEUED.value, JobState.RUNNING.value):
                loop.add_callback(self._mark_active)

        self._unsubscribe = self.service.subscribe(on_event)
        self._activity = PeriodicCallback(lambda: self.current_activity() and self._mark_active(), ACTIVITY_MS)
        self._activity.start()

    def _watch_kernels(self) -> None:
        """Tell the GPU monitor which notebook a GPU process of one of our kernels belongs to."""
        self.kernel_paths = KernelPaths(self.serverapp)
        self._kernels: PeriodicCallback | None = None
        if self.service is not None:
            self.service.set_kernel_lookup(self.kernel_paths.lookup)
            self._kernels = PeriodicCallback(self.kernel_paths.refresh, REFRESH_MS)
            self._kernels.start()

    async def stop_extension(self) -> None:
        for callback in (self._activity, self._kernels):
            if callback is not None:
                callback.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.service is not None:
            self.service.close()  # stops scheduling; running jobs keep running for the next host
            paths.remove_endpoint(Path(self.state_dir), os.getpid())
            for key, value in getattr(self, "_exported", {}).items():
                if os.environ.get(key) == value:
                    del os.environ[key]
            self.service = None

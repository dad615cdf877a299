"""jupyter-jobflow: a GPU job scheduler with job dependencies that lives inside the Jupyter server.

The engine is a plain Python library (no Jupyter import here): ``JobService`` is the facade every
front calls.
"""

from .errors import Conflict, InvalidSpec, JobflowError, JobflowSubmitError, NotFound, Unavailable
from .model import Job, JobState, Reason

__version__ = "0.1.0"

__all__ = ["JobService", "Job", "JobState", "Reason", "JobflowError", "JobflowSubmitError", "InvalidSpec",
           "NotFound", "Conflict", "Unavailable", "__version__"]


def _jupyter_server_extension_points() -> list[dict]:
    """Jupyter finds the server extension here; the import is deferred so that importing the
    package (the CLI, the magics) never pulls in jupyter_server."""
    from .server.app import JobflowApp

    return [{"module": "jupyter_jobflow.server.app", "app": JobflowApp}]


def __getattr__(name: str):
    # JobService pulls in sqlite and the executor; keep `import jupyter_jobflow` light for CLIs.
    if name == "JobService":
        from .service import JobService

        return JobService
    raise AttributeError(name)


def load_ipython_extension(ipython):  # `%load_ext jupyter_jobflow`
    from .magics import load_ipython_extension as load

    load(ipython)

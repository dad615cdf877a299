"""jupyter-jobflow: a GPU job scheduler with job dependencies that lives inside the Jupyter server.

The engine is a plain Python library (no Jupyter import here): ``JobService`` is the facade every
front calls.
"""

__version__ = "0.1.0"

__all__ = ["JobService", "Panel", "Flow", "Job", "JobState", "Reason", "JobflowError", "JobflowSubmitError", "InvalidSpec",
           "NotFound", "Conflict", "Unavailable", "__version__"]


def _jupyter_labextension_paths() -> list[dict]:
    return [{"src": "labextension", "dest": "jupyter-jobflow"}]


def _jupyter_server_extension_points() -> list[dict]:
    """Jupyter finds the server extension here; the import is deferred so that importing the
    package (the CLI, the magics) never pulls in jupyter_server."""
    from .server.app import JobflowApp

    return [{"module": "jupyter_jobflow.server.app", "app": JobflowApp}]


# Where each public name lives. Nothing is imported up front: every console script (gbatch above
# all) imports this package first, and should pay only for what it uses.
_PUBLIC = {"JobService": "engine.service", "Panel": "notebook.widget", "Flow": "client.flow",
           **{name: "core.model" for name in ("Job", "JobState", "Reason")},
           **{name: "core.errors" for name in ("JobflowError", "JobflowSubmitError", "InvalidSpec", "NotFound",
                                               "Conflict", "Unavailable")}}


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module 'jupyter_jobflow' has no attribute {name!r}")


def load_ipython_extension(ipython):  # `%load_ext jupyter_jobflow`
    from .notebook.magics import load_ipython_extension as load

    load(ipython)

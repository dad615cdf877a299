"""The state directory's default: the one definition, light enough for gbatch's fast path."""

from __future__ import annotations

import os
import sys


def default_home() -> str:
    """The state directory: ``$JOBFLOW_HOME``, else ``jobflow/`` under Jupyter's data directory.
    The one definition (``paths.default_state_dir`` uses it); here because this module is light."""
    return os.path.expanduser(os.environ.get("JOBFLOW_HOME") or os.path.join(_jupyter_data_dir(), "jobflow"))


def _jupyter_data_dir() -> str:
    """jupyter_core's answer on Linux, without importing it (and platformdirs)."""
    if os.environ.get("JUPYTER_DATA_DIR"):
        return os.environ["JUPYTER_DATA_DIR"]
    if sys.platform.startswith("linux"):
        return os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "jupyter")
    from jupyter_core.paths import jupyter_data_dir

    return jupyter_data_dir()

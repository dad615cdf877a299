"""Where things live: the state directory and its endpoint file (discovery).

Light on purpose (no tornado, no sqlite): the CLI imports it before deciding anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..core.privacy import open_private, private_dir

ENDPOINT = "endpoint.json"


def default_state_dir() -> Path:
    """``$JOBFLOW_HOME``, else ``jobflow/`` under Jupyter's data directory."""
    from .home import default_home  # the one definition, shared with gbatch's fast path

    return Path(default_home())


def write_endpoint(state_dir: Path, info: dict[str, Any]) -> Path:
    """Write ``{"url", "token", "pid", "host"}`` with mode 0600 (it holds a token), atomically."""
    private_dir(state_dir)
    path = state_dir / ENDPOINT
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = open_private(tmp)
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    os.replace(tmp, path)
    return path


def read_endpoint(state_dir: Path) -> dict[str, Any] | None:
    """The endpoint of the host serving ``state_dir``, or None when there is none (or its
    process is gone: a host killed by SIGKILL cannot remove its file)."""
    try:
        info = json.loads((state_dir / ENDPOINT).read_text())
    except (OSError, ValueError):
        return None
    pid = info.get("pid")
    if isinstance(pid, int):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
    return info


def remove_endpoint(state_dir: Path, pid: int | None = None) -> None:
    """Remove the endpoint file if it is ours (``pid``), on a clean exit."""
    path = state_dir / ENDPOINT
    try:
        if pid is None or json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass

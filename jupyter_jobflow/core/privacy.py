"""Private by default: the state directory is 0700 and what the host writes in it is 0600.

The state directory holds the jobs (commands, environments), their logs and the token of the
host, so no other local account may read it. Its mode is what protects everything below it;
files are still created 0600 (and directories 0700) so that a copy or a looser parent never
exposes them. Modes are given when a file is created, never by a process-wide ``umask``: the
Jupyter server's own files (saved notebooks) keep the user's umask, and so do a job's.

Stdlib only: the cell runner, started in the job, imports it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE, FILE_MODE = 0o700, 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` (and missing parents) created; the last component made 0700 if it was looser."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _tighten(path)
    return path


def create_private(path: str | os.PathLike[str]) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (SQLite then gives its -wal and
    -shm files the same mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE))
    except FileExistsError:
        _tighten(Path(path))


def open_private(path: str | os.PathLike[str], flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """``os.open`` with mode 0600 for a file created now (an existing one keeps its mode)."""
    return os.open(path, flags | os.O_CLOEXEC, FILE_MODE)


def write_private(path: str | os.PathLike[str], data: str | bytes) -> None:
    with os.fdopen(open_private(path), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def secure_state_dir(state_dir: str | os.PathLike[str]) -> Path:
    """Make ``state_dir`` 0700, creating it if needed. A directory that was looser (made by an
    earlier version) has everything in it that this user owns tightened too, once."""
    path = Path(state_dir)
    try:
        looser = stat.S_IMODE(path.stat().st_mode) & 0o077
    except FileNotFoundError:
        looser = 0
    private_dir(path)
    if looser:
        for root, dirs, files in os.walk(path):
            for name in dirs:
                _tighten(Path(root, name))
            for name in files:
                _tighten(Path(root, name))
    return path


def _tighten(path: Path) -> None:
    """Drop group/other bits of a file or directory this user owns (not a link's target)."""
    try:
        st = path.lstat()
        if st.st_uid != os.geteuid() or stat.S_ISLNK(st.st_mode) or not stat.S_IMODE(st.st_mode) & 0o077:
            return
        os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
    except OSError:  # gone meanwhile, or not ours to change: the 0700 directory still guards it
        pass

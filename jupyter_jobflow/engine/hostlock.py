"""One scheduler per state directory: an exclusive ``flock`` held while a host schedules.

The kernel drops the lock when the holder dies, even by SIGKILL, so a crash never leaves a stale
lock behind; the file only records who holds it, for the error message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..core.errors import Unavailable


class HostLock:
    def __init__(self, path: Path, fd: int):
        self.path, self._fd = path, fd

    @classmethod
    def acquire(cls, path: Path) -> "HostLock":
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise Unavailable(f"{path.parent} is already scheduled by {holder}; stop it, or use another "
                              f"state directory") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} ({_command_line()})".encode())
        return cls(path, fd)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1


def _command_line() -> str:
    try:
        with open(f"/proc/{os.getpid()}/cmdline", "rb") as f:
            words = f.read().split(b"\0")
        return " ".join(w.decode(errors="replace") for w in words if w)[:200]
    except OSError:
        return "unknown command"

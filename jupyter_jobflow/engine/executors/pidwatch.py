"""One thread that waits on many pidfds and calls back once each becomes readable (its process
exited): how the local executor learns of an end the moment it happens, without polling."""

from __future__ import annotations

import logging
import os
import selectors
import threading
from typing import Callable, Hashable

log = logging.getLogger("jupyter_jobflow")


class PidfdWatcher:
    def __init__(self, on_exit: Callable[[Hashable], None]):
        self._on_exit = on_exit
        self._lock = threading.Lock()
        self._fds: dict[Hashable, int] = {}
        self._thread: threading.Thread | None = None
        self._wake_r = self._wake_w = -1

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._fds

    def add(self, key: Hashable, fd: int) -> None:
        """Call ``on_exit(key)`` (in the watcher's thread) once ``fd`` is readable; the fd is ours to close."""
        with self._lock:
            if key in self._fds:  # watched already
                os.close(fd)
                return
            self._fds[key] = fd
            if self._thread is None:
                self._wake_r, self._wake_w = os.pipe()
                os.set_blocking(self._wake_w, False)
                self._thread = threading.Thread(target=self._run, args=(self._wake_r, self._wake_w), name="jobflow-pidfds",
                                                daemon=True)
                self._thread.start()
            else:
                self._poke()

    def close(self) -> None:
        """Stop the thread and close every fd; a later ``add`` starts again."""
        with self._lock:
            thread, self._thread = self._thread, None
            fds, self._fds = self._fds, {}
            if thread is not None:
                self._poke()
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)
        for fd in fds.values():
            os.close(fd)

    def _poke(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except (BlockingIOError, OSError):
            pass

    def _run(self, wake_r: int, wake_w: int) -> None:
        me = threading.current_thread()
        selector = selectors.DefaultSelector()
        selector.register(wake_r, selectors.EVENT_READ, None)
        registered: dict[int, Hashable] = {}
        try:
            while True:
                with self._lock:
                    if self._thread is not me:
                        return
                    wanted = {fd: key for key, fd in self._fds.items()}
                for fd in set(registered) - set(wanted):
                    selector.unregister(fd)
                    del registered[fd]
                for fd, key in wanted.items():
                    if fd not in registered:
                        selector.register(fd, selectors.EVENT_READ, key)
                        registered[fd] = key
                for sel_key, _ in selector.select():
                    if sel_key.data is None:
                        os.read(wake_r, 4096)
                        continue
                    with self._lock:
                        mine = self._fds.get(sel_key.data) == sel_key.fd
                        if mine:
                            del self._fds[sel_key.data]
                    selector.unregister(sel_key.fd)
                    registered.pop(sel_key.fd, None)
                    if mine:
                        os.close(sel_key.fd)
                        try:
                            self._on_exit(sel_key.data)
                        except Exception:  # one bad report must not stop the others
                            log.exception("jobflow: reporting the end of %s failed", sel_key.data)
        finally:
            selector.close()
            os.close(wake_r)
            os.close(wake_w)

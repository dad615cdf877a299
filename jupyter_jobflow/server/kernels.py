"""Which notebook each of this Jupyter server's kernels runs, by pid, for GPU attribution.

The GPU monitor asks ``lookup(pid)`` in its sampler thread for every GPU process and its ancestors,
so the answer must be a dict lookup; the map is rebuilt on the server's loop every few seconds from
the kernel and session managers (a kernel's GPU use shows as its notebook within one refresh).
"""

from __future__ import annotations

from typing import Any

REFRESH_MS = 5_000


class KernelPaths:
    def __init__(self, serverapp: Any):
        self.serverapp = serverapp
        self.paths: dict[int, str] = {}

    def lookup(self, pid: int) -> str | None:
        return self.paths.get(pid)

    async def refresh(self) -> None:
        km, sm = self.serverapp.kernel_manager, getattr(self.serverapp, "session_manager", None)
        sessions = await sm.list_sessions() if sm is not None else []
        by_kernel = {s["kernel"]["id"]: s.get("path") for s in sessions if s.get("kernel")}
        paths = {}
        for kernel_id in km.list_kernel_ids():
            pid = _pid(km.get_kernel(kernel_id))
            if pid:
                paths[pid] = by_kernel.get(kernel_id) or f"kernel {kernel_id}"
        self.paths = paths  # one assignment: the sampler thread sees the old map or the new one


def _pid(kernel: Any) -> int | None:
    provisioner = getattr(kernel, "provisioner", None)
    pid = getattr(provisioner, "pid", None) if provisioner is not None else None
    return pid if isinstance(pid, int) else None

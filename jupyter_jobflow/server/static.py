"""``<prefix>/static/``: the panel's built JavaScript (``jupyter_jobflow/static``), which a notebook's
widget loader imports instead of saving a copy of it in every panel (``widget.py``).

Public, like Jupyter's own static files and labextensions (it is the package's code, no data),
and readable from another origin (``import()`` of the daemon's URL from a notebook page). A request
for another version (``?v=`` not the hash of this server's ``widget.js``) is a 404, so the loader
takes the kernel's copy rather than a bundle that does not match its kernel.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tornado import web

STATIC = Path(__file__).resolve().parent.parent / "static"
_HASH: dict[str, Any] = {}


def bundle_hash() -> str:
    """The hash of the built ``widget.js``: the version a kernel's loader asks for ("" unbuilt)."""
    path = STATIC / "widget.js"
    try:
        stat = path.stat()
    except OSError:
        return ""
    key = (stat.st_mtime_ns, stat.st_size)
    if _HASH.get("key") != key:
        _HASH.update(key=key, hash=hashlib.sha256(path.read_bytes()).hexdigest()[:16])
    return _HASH["hash"]


class StaticHandler(web.StaticFileHandler):
    def set_default_headers(self) -> None:
        self.set_header("Access-Control-Allow-Origin", "*")

    async def get(self, path: str, include_body: bool = True) -> None:
        wanted = self.get_query_argument("v", "")
        if wanted and path == "widget.js" and wanted != bundle_hash():
            raise web.HTTPError(404, "another version of widget.js")
        await super().get(path, include_body)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish(f"{status_code}: {self._reason}")


def static_handlers(prefix: str, public: Any = None) -> list[tuple[str, type, dict[str, Any]]]:
    """The route of one host; ``public`` is Jupyter's ``allow_unauthenticated`` (its servers check
    that every route states its authentication), None for the daemon."""
    handler: type = StaticHandler
    if public is not None:
        handler = type("JobflowStaticHandler", (StaticHandler,), {
            "get": public(StaticHandler.get), "head": public(StaticHandler.head)})
    return [(prefix.rstrip("/") + "/static/(.*)", handler, {"path": str(STATIC)})]

"""``Panel``: the live jobflow panel in a notebook (an anywidget), and its compact one-job form.

    from jupyter_jobflow.widget import Panel
    Panel()                                  # every job: graph, jobs, logs, GPUs (what %gqueue --watch shows)
    Panel(job_ids=[12, 13])                  # jobs 12 and 13 and every job connected to them
    Panel(job_ids=[12], compact=True)        # one line per job, with its log on demand (under %%gbatch)
    Panel(tab="gpus", height=520)            # open on the GPU charts, taller
    Panel(tab="flows")                       # flows, their runs, a run's task graph, log and Resume

The browser talks to the scheduler itself: first the page's own Jupyter server (same origin: its
cookie, ``_xsrf`` and token, as JupyterLab does), then ``server_url``/``token`` (the service this
kernel found: ``$JOBFLOW_URL``/``$JOBFLOW_TOKEN`` or the endpoint file), so the panel keeps
updating while the kernel runs a cell, and comes back live after a page reload. Where neither
answers (VS Code, a server without the extension), the widget goes through the kernel: this class
then makes the REST calls and relays the event stream (``transport/kernel.ts`` has the messages).

The widget's ``_esm`` is a loader of ~2 KB (``static/loader.js``), which is all a saved notebook
keeps of the code per panel: it imports the bundle (``static/widget.js``) from the Jupyter server
(``<base>jobflow/static/widget.js?v=<bundle_hash>``, ``server/static.py``) or, where no server serves
it, asks this class for it (``{type: "bundle"}``: the code comes back as a message buffer).

A saved notebook shows a static HTML table of the jobs: displaying a panel makes two outputs, the
widget view and a ``text/html`` snapshot (with a display id). The snapshot is rewritten with the
jobs' states: from what the browser reports (at most every 2 s), and by the kernel itself after
every cell and when it is asked to shut down (``refresh_snapshots``), so a notebook executed
headless (nbconvert, papermill, nbval) saves the states as of the end of its run. While the widget
is live it hides the snapshot under it (a CSS rule keyed by ``snapshot_id``), and the widget
output itself is never redrawn.

Constructor: ``Panel(job_ids=None, *, compact=False, tab="graph", height=440, transport="auto",
client=None)``. ``job_ids`` takes ids or ``%%gbatch`` handles (anything with ``.id``);
``transport="kernel"`` forces the path through the kernel (tests, or a proxy that blocks
WebSockets); ``client`` is a ``jupyter_jobflow.client.Client`` (default: ``Client.discover()``).

For the lead's magics: ``%%gbatch`` shows ``Panel(job_ids=[handle.id], compact=True)`` under its
cell; ``%gqueue --watch`` shows ``Panel()`` (or ``Panel(job_ids=...)`` when ids were given).
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable

import anywidget
import traitlets

from ..core.errors import JobflowError
from ..server.static import STATIC as _STATIC
from ..server.static import bundle_hash
from .snapshot import _LIVE, _counts_text, _keep_snapshots_current, _signature, snapshot_html

TABS = ("graph", "jobs", "logs", "gpus", "flows")


class Panel(anywidget.AnyWidget):
    """The live panel (see the module doc)."""

    _esm = _STATIC / "loader.js"

    job_ids = traitlets.List(traitlets.Int(), help="Jobs to show, with those connected to them; empty: all").tag(sync=True)
    compact = traitlets.Bool(False, help="One line per job (the view under a %%gbatch cell)").tag(sync=True)
    tab = traitlets.Enum(TABS, default_value="graph", help="The tab the full panel opens on").tag(sync=True)
    height = traitlets.Int(440, help="Height of the full panel in pixels").tag(sync=True)
    server_url = traitlets.Unicode("", help="The service's base URL as the kernel sees it").tag(sync=True)
    token = traitlets.Unicode("", help="Its token; the browser drops its copy after use").tag(sync=True)
    transport = traitlets.Enum(("auto", "kernel"), default_value="auto",
                               help="auto: the browser connects itself when it can; kernel: always through the kernel"
                               ).tag(sync=True)
    snapshot_id = traitlets.Unicode(help="Marks this panel's static snapshot, which the live view hides").tag(sync=True)
    bundle_hash = traitlets.Unicode(help="The version of widget.js the loader fetches").tag(sync=True)
    #: how the browser connected ("direct" or "kernel"), once a view has rendered
    connected_via = traitlets.Unicode("")

    def __init__(self, job_ids: Iterable[Any] | None = None, *, compact: bool = False, tab: str = "graph",
                 height: int = 440, transport: str = "auto", client: Any = None, **kwargs: Any):
        ids = [int(getattr(j, "id", j)) for j in (job_ids or [])]
        self._client = client
        url, token = self._endpoint()
        super().__init__(job_ids=ids, compact=compact, tab=tab, height=height, transport=transport,
                         server_url=url, token=token, snapshot_id=uuid.uuid4().hex, bundle_hash=bundle_hash(),
                         **kwargs)
        self._jobs: list[dict[str, Any]] | None = None
        self._written: str | None = None  # the jobs last written into the displays' HTML
        self._handles: list[Any] = []
        self._pool: ThreadPoolExecutor | None = None
        self._relays: dict[int, threading.Event] = {}
        self._hidden: set[int] = set()  # relayed streams whose page is hidden: not watching (server/events.py)
        self._lock = threading.Lock()
        self.on_msg(self._on_custom)
        _LIVE.add(self)

    # -- where the service is -------------------------------------------------------------------
    def _endpoint(self) -> tuple[str, str]:
        """The service's base URL (without ``jobflow/api/``) and token, or empties when none runs."""
        try:
            client = self.client
        except JobflowError:
            return "", ""
        url = client.url
        base = url[: -len("jobflow/api/")] if url.endswith("jobflow/api/") else url
        return base, client.token or ""

    @property
    def client(self) -> Any:
        if self._client is None:
            from ..client.http import Client

            self._client = Client.discover()
        return self._client

    # -- what a saved notebook shows --------------------------------------------------------------
    def _fetch_jobs(self) -> list[dict[str, Any]] | None:
        """The shown jobs from the service now (for the first HTML), or None when it cannot say."""
        try:
            from ..client.http import Client

            c = self.client
            quick = Client(c.url, c.token, timeout=3.0) if isinstance(c, Client) else c
            if self.job_ids:
                jobs = quick.jobs(ids=",".join(map(str, self.job_ids)))["jobs"]
            else:
                jobs = quick.jobs(limit=500)["jobs"]
            return jobs
        except Exception:
            return None

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The widget view with a plain-text line and the HTML snapshot (for hosts that call this
        directly; IPython's display goes through ``_ipython_display_``)."""
        out = super()._repr_mimebundle_(**kwargs)
        if out is None:
            return None
        data, metadata = out
        snap = self._snapshot()
        return {**data, **snap}, metadata

    def _snapshot(self) -> dict[str, str]:
        if self._jobs is None:
            self._jobs = self._fetch_jobs()
        return {"text/html": snapshot_html(self._jobs, compact=self.compact, ids=self.job_ids, key=self.snapshot_id),
                "text/plain": self._plain()}

    def _ipython_display_(self, **kwargs: Any) -> None:
        """Two outputs: the live widget, and the snapshot a saved notebook shows (rewritten as the
        jobs change; the live widget hides it)."""
        from IPython.display import display

        out = super()._repr_mimebundle_()
        if out is None:
            return
        data, metadata = out
        snap = self._snapshot()
        display({**data, "text/plain": snap["text/plain"]}, metadata=metadata, raw=True)
        self._written = _signature(self._jobs)
        self._handles.append(display(snap, raw=True, display_id=True))
        _keep_snapshots_current()

    def _plain(self) -> str:
        what = f"jobs {', '.join(map(str, self.job_ids))}" if self.job_ids else "all jobs"
        return f"jobflow panel: {what}{_counts_text(self._jobs)}"

    def _rewrite(self) -> None:
        """Write the last state the browser saw into every snapshot of this panel."""
        sig = _signature(self._jobs)
        if sig == self._written or not self._handles:
            return
        self._written = sig
        bundle = self._snapshot()
        for handle in self._handles:
            try:
                handle.update(bundle, raw=True)
            except Exception:  # the kernel is going away
                pass

    # -- messages from the browser ------------------------------------------------------------------
    def _on_custom(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "bundle":
            self._send_bundle(str(content.get("hash") or ""))
        elif kind == "jobs":
            jobs = content.get("jobs")
            if isinstance(jobs, list):
                self._jobs = [j for j in jobs if isinstance(j, dict)]
                self._rewrite()
        elif kind == "connected":
            self.connected_via = str(content.get("transport") or "")
        elif kind == "request":
            self._executor().submit(self._request, content)
        elif kind == "subscribe":
            self._subscribe(content)
        elif kind == "visible" and isinstance(content.get("visible"), bool):
            sid = int(content.get("sid") or 0)
            if content["visible"]:
                self._hidden.discard(sid)
            elif sid in self._relays:
                self._hidden.add(sid)
        elif kind == "unsubscribe":
            stop = self._relays.pop(int(content.get("sid") or 0), None)
            if stop:
                stop.set()

    def _send_bundle(self, asked: str) -> None:
        """The panel's code for a loader that no server gave it (VS Code, a server without jobflow)."""
        try:
            code = (_STATIC / "widget.js").read_bytes()
        except OSError as err:
            self.send({"type": "bundle", "hash": asked, "error": f"the front end is not built: {err}"})
            return
        self.send({"type": "bundle", "hash": asked}, buffers=[code])

    def _merge(self, fetched: list[dict[str, Any]]) -> None:
        """Take the service's current state of the shown jobs (the kernel's own refresh)."""
        if not self.job_ids:
            self._jobs = fetched
        else:
            mine = set(self.job_ids)
            by_id = {j.get("id"): j for j in (self._jobs or [])}
            by_id.update({j["id"]: j for j in fetched if j.get("id") in mine})
            self._jobs = sorted(by_id.values(), key=lambda j: j.get("id") or 0)
        self._rewrite()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jobflow-panel")
            return self._pool

    def _request(self, content: dict[str, Any]) -> None:
        """A REST call for the browser (kernel transport); the reply carries the status and body."""
        rid = content.get("rid")
        method = str(content.get("method") or "GET").upper()
        path = str(content.get("path") or "")
        if method not in ("GET", "POST", "PATCH") or path.startswith("/") or ".." in path or "://" in path:
            self.send({"type": "reply", "rid": rid, "status": 400,
                       "body": {"message": f"not an API call: {method} {path}", "reason": "InvalidSpec"}})
            return
        try:
            body = self.client.request(method, path, content.get("body") if method != "GET" else None)
            self.send({"type": "reply", "rid": rid, "status": 200, "body": body})
        except JobflowError as err:
            self.send({"type": "reply", "rid": rid, "status": getattr(err, "status", 0) or 500,
                       "body": {"message": str(err), "reason": type(err).__name__}})
        except Exception as err:  # never leave the browser waiting
            self.send({"type": "reply", "rid": rid, "status": 500,
                       "body": {"message": f"{type(err).__name__}: {err}", "reason": "Error"}})

    def _subscribe(self, content: dict[str, Any]) -> None:
        sid = int(content.get("sid") or 0)
        topics = [str(t) for t in content.get("topics") or ["jobs"]]
        since = content.get("since")
        stop = threading.Event()
        self._relays[sid] = stop
        threading.Thread(target=self._relay, args=(sid, topics, since, stop), daemon=True,
                         name=f"jobflow-relay-{sid}").start()

    def _relay(self, sid: int, topics: list[str], since: Any, stop: threading.Event) -> None:
        """Relay the server's event stream to the browser until it unsubscribes or the stream ends."""
        from urllib.parse import urlencode

        import websocket  # websocket-client, a dependency of jupyter_server

        error = None
        ws = None
        try:
            client = self.client
            query = {"topics": ",".join(topics)}
            if isinstance(since, int):
                query["since"] = str(since)
            url = "ws" + client.url[4:] + "events?" + urlencode(query)
            headers = [f"Authorization: token {client.token}"] if client.token else []
            ws = websocket.create_connection(url, header=headers, timeout=10)
            ws.settimeout(1.0)
            self.send({"type": "stream-open", "sid": sid})
            told_hidden = False  # a new stream counts as visible
            while not stop.is_set():
                if (sid in self._hidden) != told_hidden:  # the page was hidden or shown: tell the server
                    told_hidden = not told_hidden
                    ws.send(json.dumps({"visible": not told_hidden}))
                try:
                    data = ws.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                if not data:
                    error = "the server closed the event stream"
                    break
                self.send({"type": "stream", "sid": sid, "data": data})
        except JobflowError as err:
            error = str(err)
        except Exception as err:
            error = f"cannot relay the event stream: {type(err).__name__}: {err}"
        finally:
            if ws is not None:
                try:
                    ws.close()
                except Exception:
                    pass
            self._relays.pop(sid, None)
            self._hidden.discard(sid)
            if not stop.is_set():
                try:
                    self.send({"type": "stream-closed", "sid": sid, "error": error})
                except Exception:
                    pass

    def close(self) -> None:
        for stop in list(self._relays.values()):
            stop.set()
        self._relays.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        _LIVE.discard(self)
        super().close()


# -- the static HTML --------------------------------------------------------------------------------

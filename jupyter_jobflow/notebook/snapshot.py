"""What a saved notebook shows of a panel: a static HTML snapshot of its jobs, kept current by the
kernel after every cell (and once at exit), so the file opened later or on GitHub is not blank."""

from __future__ import annotations

import atexit
import html
import json
import time
import weakref
from typing import Any, Iterable

from ..core.model import STATE_COLOURS


def _signature(jobs: list[dict[str, Any]] | None) -> str | None:
    if jobs is None:
        return None
    return json.dumps([(j.get("id"), j.get("state"), j.get("reason")) for j in jobs], sort_keys=True)


def _counts_text(jobs: list[dict[str, Any]] | None) -> str:
    if not jobs:
        return ""
    counts: dict[str, int] = {}
    for j in jobs:
        counts[str(j.get("state"))] = counts.get(str(j.get("state")), 0) + 1
    return " (" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")"


def snapshot_html(jobs: list[dict[str, Any]] | None, *, compact: bool = False, ids: Iterable[int] = (),
                  key: str = "") -> str:
    """A plain HTML table of ``jobs`` (inline styles only: GitHub and nbviewer drop stylesheets).
    ``key`` is the panel's ``snapshot_id``: its live view hides the output with that class."""
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    esc = html.escape
    mark = f" jobflow-snapshot-{esc(key)}" if key else ""  # a class: sanitizers keep classes, not data-*
    if jobs is None:
        what = f"jobs {', '.join(map(str, ids))}" if ids else "all jobs"
        return (f'<div class="jobflow-snapshot{mark}" style="font:13px sans-serif;color:#555">jobflow panel ({esc(what)}): '
                f"the live view needs the Jupyter server; no snapshot was taken ({esc(when)}).</div>")
    rows = []
    for j in sorted(jobs, key=lambda j: j.get("id") or 0):
        code = str(j.get("code") or "")
        colour = STATE_COLOURS.get(code, "#555")
        badge = (f'<span style="display:inline-block;min-width:22px;padding:0 5px;border:1px solid {colour};'
                 f'border-radius:9px;color:{colour};font-weight:600;font-size:11px;text-align:center">{esc(code)}</span>')
        reason = j.get("reason") or ""
        rows.append(
            f'<tr><td style="text-align:right;padding:2px 6px">{esc(str(j.get("id")))}</td>'
            f'<td style="padding:2px 6px">{esc(str(j.get("name") or ""))}</td>'
            f'<td style="padding:2px 6px">{badge} {esc(str(j.get("state") or ""))}</td>'
            f'<td style="padding:2px 6px;color:#555">{esc(str(reason))}</td>'
            + ("" if compact else f'<td style="padding:2px 6px;font-family:monospace;font-size:12px">'
                                  f'{esc(str(j.get("dependency") or ""))}</td>')
            + "</tr>")
    head = ("<tr>" + "".join(f'<th style="text-align:left;padding:2px 6px;border-bottom:1px solid #ccc">{h}</th>'
                             for h in (["ID", "Name", "State", "Reason"] + ([] if compact else ["Depends on"])))
            + "</tr>")
    caption = (f'<div style="color:#666;font-size:12px;margin-bottom:2px">jobflow: {len(jobs)} '
               f'job{"" if len(jobs) == 1 else "s"}{esc(_counts_text(jobs))}, as last seen at {esc(when)}</div>')
    return (f'<div class="jobflow-snapshot{mark}" style="font:13px sans-serif">{caption}'
            f'<table style="border-collapse:collapse">{head}{"".join(rows) or ""}</table></div>')


# -- the kernel keeps the snapshots current ----------------------------------------------------------
#: the panels shown in this kernel (``widget.Panel`` adds itself when created, leaves when closed)
_LIVE: "weakref.WeakSet[Any]" = weakref.WeakSet()
REFRESH_TIMEOUT = 2.0  # seconds per request: this runs after every cell
_PAUSE_AFTER_FAILURE = 30.0  # a service that does not answer is not asked again after each cell
_refresh = {"hooked": False, "failed_at": None}


def refresh_snapshots(timeout: float = REFRESH_TIMEOUT) -> None:
    """Write the service's current state of the jobs into every displayed panel's snapshot: one
    request per service for all panels showing given jobs, one for those showing all jobs. Quiet
    when the service does not answer (the last state seen stays)."""
    failed_at = _refresh["failed_at"]
    if failed_at is not None and time.monotonic() - failed_at < _PAUSE_AFTER_FAILURE:
        return
    groups: dict[tuple[str, str], list[Any]] = {}
    for panel in list(_LIVE):
        try:
            if panel._handles:
                c = panel.client
                groups.setdefault((c.url, c.token or ""), []).append(panel)
        except Exception:
            continue
    from ..client.http import Client

    for (url, token), panels in groups.items():
        quick = Client(url, token or None, timeout=timeout)
        try:
            ids = sorted({i for p in panels for i in p.job_ids})
            some = quick.jobs(ids=",".join(map(str, ids)))["jobs"] if ids else []
            every = quick.jobs(limit=500)["jobs"] if any(not p.job_ids for p in panels) else []
        except Exception:
            _refresh["failed_at"] = time.monotonic()
            continue
        _refresh["failed_at"] = None
        for panel in panels:
            try:
                panel._merge(list(some) if panel.job_ids else list(every))
            except Exception:
                pass


def _after_cell(*_args: Any) -> None:
    refresh_snapshots()


def _on_exit_now(change: dict[str, Any]) -> None:
    if change.get("new"):  # ipykernel sets it when asked to shut down, before it replies
        refresh_snapshots()


def _keep_snapshots_current() -> None:
    """Once per kernel, on the first panel shown: refresh the snapshots after every cell (IPython's
    post_run_cell, still inside the cell: nbconvert and papermill record the update) and when the
    kernel is asked to shut down."""
    if _refresh["hooked"]:
        return
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is None:
        return
    shell.events.register("post_run_cell", _after_cell)
    if shell.has_trait("exit_now"):
        shell.observe(_on_exit_now, names="exit_now")
    _refresh["hooked"] = True


@atexit.register
def _write_last_state() -> None:
    for panel in list(_LIVE):
        try:
            panel._rewrite()
        except Exception:
            pass

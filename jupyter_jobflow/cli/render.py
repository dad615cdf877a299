"""Text views of the API's JSON (``wire.py`` shapes), shared by the terminal commands and the magics.

Pure functions of dicts and a clock: no I/O, no client. Column layout, codes and glyphs follow
gflow where the two overlap (``gqueue`` columns, ``-t`` tree, ``ginfo``); ``show`` prints
Slurm/Crane-style ``Key=Value`` lines with Crane's ``Dependency=`` line (docs/rules.md, When the dependency is judged).
"""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any, Callable, Iterable, Sequence

from ..core.errors import InvalidSpec
from ..core.model import STATE_COLOURS, format_clock
from ..core.timespec import format_duration

Job = dict[str, Any]

DEFAULT_FIELDS = ("JOBID", "NAME", "ST", "TIME", "TIMELIMIT", "NODELIST(REASON)")
WAITING = {"Queued", "Hold"}


def elapsed(job: Job, now: float | None = None) -> str:
    """gflow's TIME: run time of the current (or last) attempt; ``-`` before the first start."""
    started = job.get("started_at")
    if started is None or job.get("state") in WAITING:
        return "-"
    end = job.get("ended_at") if job.get("state") != "Running" else None
    seconds = (end if end is not None else (time.time() if now is None else now)) - started
    return format_duration(max(0.0, seconds))


def nodelist(job: Job) -> str:
    """gflow's NODELIST(REASON): a running job's GPUs, a waiting or ended job's ``(Reason)``."""
    if job.get("state") == "Running":
        return ",".join(map(str, job.get("allocated_gpus") or ())) or "-"
    if job.get("state") == "Finished" or not job.get("reason"):
        return "-"
    return f"({job['reason']})"


def executor(job: Job) -> str:
    """Where a job runs: ``local``, or ``slurm:812`` with Slurm's job id once Slurm has one."""
    name = job.get("executor") or "local"
    return f"{name}:{job['slurm_job_id']}" if job.get("slurm_job_id") else name


def default_fields(jobs: Sequence[Job]) -> tuple[str, ...]:
    """gflow's columns, plus EXECUTOR when a listed job runs elsewhere than here."""
    off_host = any((j.get("executor") or "local") != "local" for j in jobs)
    return DEFAULT_FIELDS + ("EXECUTOR",) if off_host else DEFAULT_FIELDS


_FIELDS: dict[str, Callable[[Job, float | None], Any]] = {
    "JOBID": lambda j, now: j["id"],
    "NAME": lambda j, now: j.get("name") or "-",
    "ST": lambda j, now: j.get("code") or "-",
    "STATE": lambda j, now: j.get("state") or "-",
    "TIME": elapsed,
    "TIMELIMIT": lambda j, now: j.get("time_limit_display") or format_duration(j.get("time_limit")),
    "NODES": lambda j, now: j.get("gpus", 0),
    "NODELIST(REASON)": lambda j, now: nodelist(j),
    "REASON": lambda j, now: j.get("reason") or "-",
    "PRIORITY": lambda j, now: j.get("priority", 0),
    "DEPENDENCY": lambda j, now: j.get("dependency") or "-",
    "GROUP": lambda j, now: j.get("group") or "-",
    "USER": lambda j, now: j.get("user") or "-",
    "SUBMIT": lambda j, now: format_clock(j["submitted_at"]) if j.get("submitted_at") else "-",
    "COMMAND": lambda j, now: " ".join(j.get("command") or ()) or "-",
    "EXECUTOR": lambda j, now: executor(j),
}
_ALIASES = {"NODELIST": "NODELIST(REASON)", "ID": "JOBID", "GPUS": "NODES", "STATUS": "STATE"}


def parse_fields(text: str | None) -> tuple[str, ...]:
    """``-f JOBID,NAME,st`` -> the canonical field names; ``InvalidSpec`` names an unknown one."""
    if not text:
        return DEFAULT_FIELDS
    out = []
    for word in (w.strip().upper() for w in text.split(",")):
        name = _ALIASES.get(word, word)
        if name not in _FIELDS:
            raise InvalidSpec(f'Unknown field "{word}": expected a comma list of {", ".join(_FIELDS)}')
        out.append(name)
    return tuple(out)


def _columns(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, no trailing blanks (what gflow's blank table gives)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def queue(jobs: Sequence[Job], fields: Sequence[str] = DEFAULT_FIELDS, *, now: float | None = None,
          fmt: str = "table", tree: bool = False) -> str:
    """``gqueue``: a table (optionally the ``-t`` tree), or JSON (the API's job objects), or CSV."""
    if fmt == "json":
        return json.dumps({"jobs": list(jobs), "total": len(jobs)}, indent=2)
    cells = [[str(_FIELDS[f](j, now)) for f in fields] for j in jobs]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(fields)
        writer.writerows(cells)
        return out.getvalue().rstrip("\n")
    if fmt not in ("table", "html"):
        raise InvalidSpec(f'Unknown output format "{fmt}": expected table, json, csv or html')
    if not jobs:
        return "No jobs found." if fmt == "table" else "<p>No jobs found.</p>"
    codes = [j.get("code") or "" for j in jobs]
    if tree:
        by_id = {j["id"]: (row, j.get("code") or "") for j, row in zip(jobs, cells)}
        key = fields.index("JOBID") if "JOBID" in fields else 0
        cells, codes = [], []
        for jid, prefix, see in tree_rows(jobs):
            if see:  # a job drawn under its first parent, named under this other one
                row = [""] * len(fields)
                row[key] = f"{prefix}see job {jid}"
                cells.append(row)
                codes.append("")
                continue
            row = list(by_id[jid][0])
            row[key] = prefix + row[key]
            cells.append(row)
            codes.append(by_id[jid][1])
    if fmt == "html":
        return _html_table(fields, cells, codes)
    return _columns([list(fields), *cells])


def _html_table(fields: Sequence[str], rows: Sequence[Sequence[str]], codes: Sequence[str]) -> str:
    """The same table as HTML (``%gqueue`` in a notebook): monospace, so tree glyphs line up."""
    from html import escape

    head = "".join(f"<th style='text-align:left'>{escape(f)}</th>" for f in fields)
    body = "".join(
        f"<tr style='border-left:4px solid {STATE_COLOURS.get(code, '#bbb')}'>"
        + "".join(f"<td style='text-align:left;white-space:pre'>{escape(c)}</td>" for c in row) + "</tr>"
        for row, code in zip(rows, codes))
    return (f"<table class='jobflow-queue' style='font-family:monospace'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def parents_of(job: Job) -> list[int]:
    """The job ids in a job's canonical dependency string, in order (delays skipped)."""
    from ..core.depspec import parse

    dep = job.get("dependency")
    if not dep:
        return []
    try:
        return list(parse(dep).job_ids())
    except InvalidSpec:
        return []


def tree_order(jobs: Sequence[Job]) -> tuple[list[int], dict[int, str]]:
    """Depth-first order of the ``-t`` view and each job's prefix (``├─ ``, ``│  └─ ``...).

    A job hangs under its first parent that is shown; one with no shown parent is a root.
    """
    rows = [(jid, prefix) for jid, prefix, see in tree_rows(jobs) if not see]
    return [jid for jid, _ in rows], dict(rows)


def tree_rows(jobs: Sequence[Job]) -> list[tuple[int, str, bool]]:
    """The ``-t`` view's rows: ``(job id, prefix, see)``. A job with several shown parents is drawn
    under its first one; under each other one a ``see`` row (``╰─→ see job N``, as gflow) names it."""
    shown = {j["id"] for j in jobs}
    children: dict[int, list[int]] = {}
    also: dict[int, list[int]] = {}  # parent -> the jobs drawn under another of their parents
    roots: list[int] = []
    for j in sorted(jobs, key=lambda j: j["id"]):
        parents = list(dict.fromkeys(p for p in parents_of(j) if p in shown and p != j["id"]))
        (children.setdefault(parents[0], []) if parents else roots).append(j["id"])
        for other in parents[1:]:
            also.setdefault(other, []).append(j["id"])
    rows: list[tuple[int, str, bool]] = []
    seen: set[int] = set()

    def walk(root: int) -> None:
        # an explicit stack, not recursion: a chain of thousands of jobs is one deep branch
        stack: list[tuple[int, str, str, bool]] = [(root, "", "", False)]
        while stack:
            node, lead, glyph, see = stack.pop()
            if see:
                rows.append((node, lead + glyph, True))
                continue
            if node in seen:
                continue
            seen.add(node)
            rows.append((node, lead + glyph, False))
            kids = [(c, False) for c in children.get(node, ()) if c not in seen] + \
                [(c, True) for c in also.get(node, ())]
            below = lead + ("" if not glyph else "│  " if glyph == "├─ " else "   ")
            last = len(kids) - 1
            stack.extend(reversed([
                (kid, below, ("╰─→ " if n == last else "├─→ ") if see else ("└─ " if n == last else "├─ "), see)
                for n, (kid, see) in enumerate(kids)]))

    for root in roots:
        walk(root)
    for rest in sorted(shown - seen):  # only a dependency cycle gets here; show it flat
        walk(rest)
    return rows


def show(reply: dict[str, Any], *, now: float | None = None) -> str:
    """``gjob show``: the ``GET jobs/{id}`` reply as ``Key=Value`` lines, then the attempts."""
    j: Job = reply["job"]

    def clock(ts: float | None) -> str:
        return format_clock(ts) if ts else "-"

    gpus = str(j.get("gpus", 0)) + (f" (ids {','.join(map(str, j['gpu_ids']))})" if j.get("gpu_ids") else "")
    retry = f"Retries={j.get('retry_count', 0)}/{j.get('retries', 0)}"
    if j.get("retries"):
        retry += (f" RetryDelay={format_duration(j.get('retry_delay') or 0)} RetryBackoff={j.get('retry_backoff')}"
                  f" RetryOn={','.join(j.get('retry_on') or ())}")
    dependents = ",".join(map(str, reply.get("dependents") or ())) or "-"
    lines = [
        f"JobId={j['id']} JobName={j.get('name')}",
        f"   State={j.get('state')} ({j.get('code')}) Reason={j.get('reason') or '-'}"
        + (f" Stopping={j['stopping']}" if j.get("stopping") else ""),
        f"   UserId={j.get('user') or '-'} Scope={j.get('scope') or '-'} Group={j.get('group') or '-'}"
        f" Priority={j.get('priority', 0)}",
        f"   Command={' '.join(j.get('command') or ()) or '-'}",
        f"   WorkDir={j.get('cwd') or '-'}",
        f"   GPUs={gpus} AllocatedGPUs={','.join(map(str, j.get('allocated_gpus') or ())) or '-'}",
        f"   TimeLimit={j.get('time_limit_display') or format_duration(j.get('time_limit'))} RunTime={elapsed(j, now)}",
        f"   SubmitTime={clock(j.get('submitted_at'))} StartTime={clock(j.get('started_at'))}"
        f" EndTime={clock(j.get('ended_at'))}",
        f"   Attempt={j.get('attempt', 0)} {retry} ExitCode={_exit(j)}",
        f"   DependencyExpr={j.get('dependency') or '-'} AutoCancel={'yes' if j.get('auto_cancel', True) else 'no'}",
        f"   {reply.get('dependency') or 'Dependency=(null)'}",
        f"   Dependents={dependents}" + (f" RedoOf={j['redo_of']}" if j.get("redo_of") else ""),
    ]
    if j.get("executor", "local") != "local":
        slurm = " ".join(f"{k}={v}" for k, v in (j.get("slurm") or {}).items())
        lines.append(f"   Executor={j['executor']}" + (f" SlurmJobId={j.get('slurm_job_id') or '-'}"
                                                       if j["executor"] == "slurm" else "") + (f" {slurm}" if slurm else ""))
    if j.get("run_id"):
        lines.append(f"   Flow={j.get('flow')} Run={j['run_id']} Task={j.get('task')}")
    attempts = reply.get("attempts") or []
    if attempts:
        rows = [["ATTEMPT", "STATE", "START", "END", "RUNTIME", "GPUS", "EXIT", "REASON"]]
        for a in attempts:
            run = format_duration(a["ended_at"] - a["started_at"]) if a.get("ended_at") else "-"
            rows.append([str(a["attempt"]), a.get("state") or "Running", clock(a.get("started_at")),
                         clock(a.get("ended_at")), run, ",".join(map(str, a.get("gpus") or ())) or "-",
                         _exit(a), a.get("reason") or "-"])
        lines += ["Attempts:", *("  " + line for line in _columns(rows).splitlines())]
    return "\n".join(lines)


def _exit(obj: dict[str, Any]) -> str:
    """Slurm's ``ExitCode=code:signal``; ``-`` while nothing ended."""
    code, sig = obj.get("exit_code"), obj.get("signal")
    if code is None and sig is None:
        return "-"
    return f"{code if code is not None else 0}:{sig or 0}"


def gpus(reply: dict[str, Any], running: Iterable[Job] = ()) -> str:
    """``ginfo``: one row per GPU with the job that holds it (gflow's columns; UTIL and MEMORY
    too when the reply carries samples), or one line saying why there are none."""
    devices = reply.get("gpus") or []
    if not devices:
        why = reply.get("reason") or "none were found"
        return f"No GPUs available: {why}. Jobs that ask for GPUs will wait; jobs without --gpus still run."
    names = {str(j["id"]): j.get("name") for j in running}
    sampled = any(g.get("util") is not None or g.get("memory_total_mib") for g in devices)
    rows = [["PARTITION", "GPUS", "NODES", "STATE", "JOB(REASON)"] + (["UTIL", "MEMORY"] if sampled else [])]
    for g in devices:
        held = g.get("jobs") or []
        job_names = {**names, **(g.get("job_names") or {})}
        who = ", ".join(f"{i} ({job_names[str(i)]})" if job_names.get(str(i)) else str(i) for i in held)
        if not held and g.get("busy"):
            who = f"({g['busy']})"
        row = ["gpu", "1", str(g["index"]), "allocated" if who else "idle", who]
        if sampled:
            util, used, total = g.get("util"), g.get("memory_used_mib"), g.get("memory_total_mib")
            row += [f"{util:g}%" if isinstance(util, (int, float)) else "-",
                    f"{used or 0:g}/{total:g} MiB" if total else "-"]
        rows.append(row)
    text = _columns(rows)
    simulated = [str(g["index"]) for g in devices if g.get("simulated")]
    if simulated:
        verb = "is" if len(simulated) == 1 else "are"
        text += f"\nNote: GPU {','.join(simulated)} {verb} simulated (no real device)."
    return text


def cancel_report(reply: dict[str, Any]) -> tuple[str, list[str]]:
    """The ``jobs/cancel`` reply as (report text without the warnings, the warnings)."""
    warnings = list(reply.get("warnings") or [])
    lines = (reply.get("text") or "").splitlines()
    while lines and warnings and lines[-1] in warnings:
        lines.pop()
    return "\n".join(lines), warnings

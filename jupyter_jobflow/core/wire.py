"""The JSON shape of jobs and attempts: what the API sends, the clients render and events carry.

One function per object, so the server, the event stream and the CLI never disagree on a field.
Times are Unix seconds (floats); durations are seconds; ``None`` is JSON null.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from . import depspec
from .errors import InvalidSpec
from .model import Attempt, Job
from .request import API_FIELDS, DEFAULTS, JobRequest, format_gpus, parse_gpus
from .timespec import format_duration


def job_to_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id, "name": job.name, "state": job.state.value, "code": job.code,
        "reason": str(job.reason) if job.reason else None,
        "reason_kind": job.reason.kind if job.reason else None,
        "reason_args": dict(job.reason.args) if job.reason else None,
        "command": list(job.command), "cwd": job.cwd, "user": job.user, "scope": job.scope,
        "gpus": job.gpus, "gpu_ids": list(job.gpu_ids) if job.gpu_ids is not None else None,
        "allocated_gpus": list(job.allocated_gpus), "used_gpus": list(job.used_gpus), "gpu_memory": job.gpu_memory,
        "time_limit": job.time_limit, "time_limit_display": format_duration(job.time_limit),
        "priority": job.priority, "group": job.group, "dependency": job.dependency,
        **dependency_to_json(job.dependency), "auto_cancel": job.auto_cancel,
        "retries": job.retry.retries, "retry_delay": job.retry.delay, "retry_backoff": job.retry.backoff,
        "retry_max_delay": job.retry.max_delay, "retry_on": sorted(job.retry.retry_on),
        "attempt": job.attempt, "retry_count": job.retry_count,
        "submitted_at": job.submitted_at, "first_started_at": job.first_started_at,
        "started_at": job.started_at, "ended_at": job.ended_at, "retry_at": job.retry_at,
        "exit_code": job.exit_code, "signal": job.signal, "redo_of": job.redo_of, "stopping": job.stopping,
        "array_of": job.array_of, "output": job.output, "error": job.error,
        "run_id": job.run_id, "task": job.task, "flow": job.flow,
        "executor": job.executor, "slurm_job_id": job.slurm_job_id, "slurm": dict(job.slurm),
    }


def request_to_json(request: JobRequest) -> dict[str, Any]:
    """The ``POST jobs`` body of ``request``: its API fields that differ from the defaults, so the
    server's own defaults (a default time limit) apply to the rest (docs/api.md)."""
    body: dict[str, Any] = {}
    for name in API_FIELDS:
        value = getattr(request, name)
        if value is None or value == DEFAULTS[name] or (isinstance(value, (dict, list, tuple)) and not value):
            continue
        if name == "gpus" and not isinstance(value, (int, str)):
            value = format_gpus(*parse_gpus(value))
        elif isinstance(value, (set, frozenset)):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif not isinstance(value, (str, int, float, bool, list, dict)):
            value = str(value)  # a DepSpec: its canonical text
        body[name] = value
    return body


@lru_cache(maxsize=4096)
def _parsed(text: str) -> tuple[tuple[tuple[tuple[str, Any], ...], ...], bool]:
    try:
        spec = depspec.parse(text)
    except InvalidSpec:  # an unreadable stored row still renders (its text says what it was)
        return (), False
    edges = tuple(
        (("parent", c.target), ("type", c.type), ("delay", c.delay or None),
         ("group", 0 if spec.op == "or" else i))
        for i, c in enumerate(spec.conditions) if isinstance(c.target, int))
    return edges, spec.singleton


def dependency_to_json(text: str | None) -> dict[str, Any]:
    """The canonical dependency as structured edges, so no client parses the grammar again: one
    edge per parent, ``group`` numbers the AND-ed groups (edges sharing one are OR-ed), ``delay``
    is seconds or null. ``singleton`` is the one clause that names no parent."""
    if not text:
        return {"edges": [], "singleton": False}
    edges, singleton = _parsed(text)
    return {"edges": [dict(e) for e in edges], "singleton": singleton}


def attempt_to_json(a: Attempt) -> dict[str, Any]:
    return {
        "attempt": a.attempt, "started_at": a.started_at, "ended_at": a.ended_at,
        "pid": (a.handle or {}).get("pid"),  # a local attempt's supervisor; None for other executors
        "gpus": list(a.gpus), "exit_code": a.exit_code, "signal": a.signal,
        "state": a.state.value if a.state else None, "reason": str(a.reason) if a.reason else None,
    }


def shown_to_json(shown: dict[str, Any]) -> dict[str, Any]:
    """``GET jobs/{id}``: what ``JobService.show`` returns, as JSON (what ``gjob show`` renders)."""
    return {"job": job_to_json(shown["job"]), "attempts": [attempt_to_json(a) for a in shown["attempts"]],
            "dependency": shown["dependency"], "dependents": shown["dependents"]}


_texts: dict[int, tuple[Job, str]] = {}


def job_json_text(job: Job) -> str:
    """``json.dumps(job_to_json(job))``, kept per job: jobs are immutable and replaced on every
    change, so a job that is still the same object still has the same text. Listing 10,000 jobs
    then costs a join, not 10,000 serialisations."""
    hit = _texts.get(job.id)
    if hit is not None and hit[0] is job:
        return hit[1]
    text = json.dumps(job_to_json(job))
    _texts[job.id] = (job, text)
    return text


def forget(ids: list[int]) -> None:
    """Drop the cached text of purged jobs, so the cache holds only the jobs that are kept."""
    for job_id in ids:
        _texts.pop(job_id, None)

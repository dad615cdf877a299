"""The JSON shape of jobs and attempts: what the API sends, the clients render and events carry.

One function per object, so the server, the event stream and the CLI never disagree on a field.
Times are Unix seconds (floats); durations are seconds; ``None`` is JSON null.
"""

from __future__ import annotations

import json
from typing import Any

from .model import Attempt, Job
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
        "auto_cancel": job.auto_cancel,
        "retries": job.retry.retries, "retry_delay": job.retry.delay, "retry_backoff": job.retry.backoff,
        "retry_max_delay": job.retry.max_delay, "retry_on": sorted(job.retry.retry_on),
        "attempt": job.attempt, "retry_count": job.retry_count,
        "submitted_at": job.submitted_at, "first_started_at": job.first_started_at,
        "started_at": job.started_at, "ended_at": job.ended_at, "retry_at": job.retry_at,
        "exit_code": job.exit_code, "signal": job.signal, "redo_of": job.redo_of, "stopping": job.stopping,
        "array_of": job.array_of, "output": job.output, "error": job.error,
    }


def attempt_to_json(a: Attempt) -> dict[str, Any]:
    return {
        "attempt": a.attempt, "started_at": a.started_at, "ended_at": a.ended_at,
        "pid": (a.handle or {}).get("pid"),  # a local attempt's supervisor; None for other executors
        "gpus": list(a.gpus), "exit_code": a.exit_code, "signal": a.signal,
        "state": a.state.value if a.state else None, "reason": str(a.reason) if a.reason else None,
    }


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

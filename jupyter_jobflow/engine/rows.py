"""Rows of the store's tables and the plain data they hold: a ``Job`` to its ``jobs`` row and back,
an ``attempts`` row to an ``Attempt``, and the SQL fragments the job reads share."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..core.model import Attempt, Job, JobState, Reason, RetryPolicy

USED_GPUS = "(SELECT a.gpus FROM attempts a WHERE a.job_id = jobs.id ORDER BY a.attempt DESC LIMIT 1) AS used_gpus"
NOT_PENDING = "NOT EXISTS (SELECT 1 FROM pending_arrays p WHERE jobs.id BETWEEN p.first_id AND p.last_id)"

def job_to_row(job: Job) -> dict[str, Any]:
    kind, args = job.reason.to_row() if job.reason else (None, None)
    return {
        "name": job.name, "state": job.state.value, "reason": kind,
        "reason_args": json.dumps(args) if args else None,
        "command": json.dumps(list(job.command)), "script": job.script, "cwd": job.cwd, "env": json.dumps(job.env),
        "gpus": job.gpus, "gpu_ids": json.dumps(list(job.gpu_ids)) if job.gpu_ids is not None else None,
        "allocated_gpus": json.dumps(list(job.allocated_gpus)), "time_limit": job.time_limit,
        "priority": job.priority, "grp": job.group, "dependency": job.dependency, "auto_cancel": int(job.auto_cancel),
        "retries": job.retry.retries, "retry_delay": job.retry.delay, "retry_backoff": job.retry.backoff,
        "retry_max_delay": job.retry.max_delay, "retry_on": ",".join(sorted(job.retry.retry_on)),
        "attempt": job.attempt, "submitted_at": job.submitted_at, "first_started_at": job.first_started_at,
        "started_at": job.started_at, "ended_at": job.ended_at, "retry_at": job.retry_at,
        "exit_code": job.exit_code, "signal": job.signal, "user": job.user, "scope": job.scope,
        "redo_of": job.redo_of, "stopping": job.stopping, "kill_at": job.kill_at, "retry_count": job.retry_count,
        "gpu_memory": job.gpu_memory, "array_of": job.array_of, "output": job.output, "error": job.error,
        "executor": job.executor, "slurm": json.dumps(job.slurm) if job.slurm else None, "slurm_job_id": job.slurm_job_id, "run_id": job.run_id, "task": job.task,
    }


def job_from_row(r: sqlite3.Row | dict[str, Any]) -> Job:
    reason = Reason(r["reason"], json.loads(r["reason_args"]) if r["reason_args"] else {}) if r["reason"] else None
    return Job(
        id=r["id"], name=r["name"], state=JobState(r["state"]), reason=reason,
        command=tuple(json.loads(r["command"])), script=r["script"], cwd=r["cwd"], env=json.loads(r["env"]),
        gpus=r["gpus"], gpu_ids=tuple(json.loads(r["gpu_ids"])) if r["gpu_ids"] else None,
        allocated_gpus=tuple(json.loads(r["allocated_gpus"])), time_limit=r["time_limit"], priority=r["priority"],
        group=r["grp"], dependency=r["dependency"], auto_cancel=bool(r["auto_cancel"]),
        retry=RetryPolicy(retries=r["retries"], delay=r["retry_delay"], backoff=r["retry_backoff"],
                          max_delay=r["retry_max_delay"], retry_on=frozenset(r["retry_on"].split(","))),
        attempt=r["attempt"], submitted_at=r["submitted_at"], first_started_at=r["first_started_at"],
        started_at=r["started_at"], ended_at=r["ended_at"], retry_at=r["retry_at"], exit_code=r["exit_code"],
        signal=r["signal"], user=r["user"], scope=r["scope"], redo_of=r["redo_of"], stopping=r["stopping"],
        kill_at=r["kill_at"], retry_count=r["retry_count"], gpu_memory=r["gpu_memory"],
        array_of=r["array_of"], used_gpus=tuple(json.loads(r["used_gpus"] or "[]")) if "used_gpus" in r.keys() else (),
        output=r["output"], error=r["error"], executor=r["executor"],
        slurm=json.loads(r["slurm"]) if "slurm" in r.keys() and r["slurm"] else {},
        slurm_job_id=r["slurm_job_id"] if "slurm_job_id" in r.keys() else None, run_id=r["run_id"], task=r["task"],
    )


def attempt_from_row(r: sqlite3.Row) -> Attempt:
    reason = Reason(r["reason"], json.loads(r["reason_args"]) if r["reason_args"] else {}) if r["reason"] else None
    return Attempt(job_id=r["job_id"], attempt=r["attempt"], started_at=r["started_at"],
                   handle=json.loads(r["handle"]) if r["handle"] else None, gpus=tuple(json.loads(r["gpus"] or "[]")), ended_at=r["ended_at"],
                   exit_code=r["exit_code"], signal=r["signal"], state=JobState(r["state"]) if r["state"] else None,
                   reason=reason)

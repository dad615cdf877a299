"""What the fronts show about GPUs: the ``gpus`` route and topic, ``ginfo``, and ``explain``'s lines.

``gpu_view`` is the sampler's newest sample plus the allocation's verdict on each device (free for
a whole-GPU job or why not, memory not ours, memory a shared job could still get), so every front
shows the rule the scheduler applies, computed by the same ``GpuPool``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from ..core.gpualloc import GpuPool
from ..core.gpumodel import format_mib
from ..core.model import Job


def gpu_view(sample: dict[str, Any], pool: GpuPool, jobs: Mapping[int, Job], *,
             history: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON of the ``gpus`` route and topic (docs/api.md)."""
    gpus = []
    for g in sample["gpus"]:
        d = g["index"]
        known = d in pool.external
        available = pool.available.get(d, math.inf)
        # allocation as of now (the sample may be an interval old), plus jobs seen on the device
        held = ([pool.exclusive[d]] if d in pool.exclusive else []) + pool.shared.get(d, [])
        ids = sorted(set(held) | {p["job_id"] for p in g["processes"] if p["kind"] == "job"})
        gpus.append({
            **g,
            "jobs": ids,
            "job_names": {str(j): jobs[j].name for j in ids if j in jobs},
            "free": known and pool.why_busy(d) is None,
            "busy": pool.why_busy(d) if known else None,
            "external_memory_mib": pool.external.get(d),
            "available_mib": None if not known or available == math.inf else max(0, int(available)),
        })
    view = {**sample, "gpus": gpus, "external_memory_threshold_mib": pool.threshold_mib}
    if history is not None:
        view["history"] = history
    return view


def explain_gpus(job: Job, pool: GpuPool, sample: dict[str, Any] | None, jobs: Mapping[int, Job]) -> list[str]:
    """``explain``'s GPU lines: what the job wants, what is free, and what holds each busy GPU
    (jobs with ids, kernels with notebook paths, unmanaged processes with pid and memory)."""
    want = f"GPUs {','.join(map(str, job.gpu_ids))}" if job.gpu_ids else f"{max(job.gpus, 1 if job.gpu_memory else 0)} GPU(s)"
    devices = [d for d in pool.devices if not job.gpu_ids or d in job.gpu_ids]
    by_index = {g["index"]: g for g in (sample or {}).get("gpus", [])}
    if job.gpu_memory:
        want += f" with {format_mib(job.gpu_memory)} each (shared)"
        ok = [d for d in devices if pool.fits(d, job.gpu_memory)]
        head = f"Resources: wants {want}; fits on: {', '.join(map(str, ok)) or 'none'}"
    else:
        ok = [d for d in devices if pool.why_busy(d) is None]
        head = f"Resources: wants {want}; free: {', '.join(map(str, ok)) or 'none'}"
    busy = [d for d in devices if d not in ok]
    if busy:
        head += "; busy: " + ", ".join(f"GPU {d}: {_summary(d, pool, by_index.get(d), jobs)}" for d in busy)
    lines = [head]
    if job.gpu_ids and not set(job.gpu_ids) <= set(pool.devices):
        lines.append(f"  GPUs {','.join(str(d) for d in job.gpu_ids if d not in pool.devices)} do not exist here")
    for d in busy:
        lines.append(f"  GPU {d}: {_why(d, job, pool)}" + _detail(d, pool, by_index.get(d), jobs))
    return lines


def _why(d: int, job: Job, pool: GpuPool) -> str:
    if not job.gpu_memory:
        return pool.why_busy(d) or "free"
    if d in pool.blocked:
        return pool.blocked[d]
    if d in pool.exclusive:
        return f"held whole by job {pool.exclusive[d]}"
    return f"{format_mib(max(0, pool.available[d]))} left, {format_mib(job.gpu_memory)} needed"


def _holders(d: int, pool: GpuPool, g: dict[str, Any] | None, jobs: Mapping[int, Job]) -> list[str]:
    ours = ([pool.exclusive[d]] if d in pool.exclusive else []) + pool.shared.get(d, [])
    out = [f"job {j} ({jobs[j].name})" if j in jobs else f"job {j}" for j in ours]
    for p in (g or {}).get("processes", []):
        mem = format_mib(p["memory_mib"])
        if p["kind"] == "kernel":
            out.append(f"kernel {p['path']} (pid {p['pid']}, {mem})")
        elif p["kind"] == "unmanaged":
            who = ", ".join(x for x in (p.get("process_name"), p.get("user")) if x)
            out.append(f"unmanaged pid {p['pid']} ({who + ', ' if who else ''}{mem})")
        elif p["job_id"] not in ours:
            out.append(f"job {p['job_id']} outside its GPUs (pid {p['pid']}, {mem})")
    return out


def _summary(d: int, pool: GpuPool, g: dict[str, Any] | None, jobs: Mapping[int, Job]) -> str:
    return ", ".join(_holders(d, pool, g, jobs)) or pool.why_busy(d) or "full"


def _detail(d: int, pool: GpuPool, g: dict[str, Any] | None, jobs: Mapping[int, Job]) -> str:
    holders = _holders(d, pool, g, jobs)
    listed = sum(p["memory_mib"] or 0 for p in (g or {}).get("processes", []) if p["kind"] != "job")
    rest = pool.external.get(d, 0) - listed
    if rest >= 256 and pool.external.get(d, 0) >= pool.threshold_mib:
        holders.append(f"{format_mib(rest)} not attributed to any process here")
    return (": " + "; ".join(holders)) if holders else ""

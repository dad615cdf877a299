"""The one GPU sampler of a host: a thread, a ring buffer of history, subscribers.

``GpuMonitor.start()`` takes a first sample at once (so the scheduler never decides blind), then
samples every ``interval`` seconds (default 1) in its own daemon thread. Each sample reads the
source, attributes every GPU process (``gpuattr.py``) and is kept as a plain JSON-able dict:
``latest()`` is the newest, ``history()`` the last ``history_seconds`` (default 600) of
utilisation and memory per GPU, for sparklines. ``subscribe(fn)`` calls ``fn(sample)`` in the
sampler thread after every sample (the host publishes it on the event stream's ``gpus`` topic;
``fn`` must hop onto its own loop and return quickly). ``usage()`` is what allocation needs.

Nothing stops the sampler but ``stop()``: an NVML error (or any exception of a source) becomes the
sample's ``error`` and the devices that could not be read are not offered to new jobs until they
read again. Clients never cause NVML calls: one loop serves them all.

Sample (see docs/api.md, ``gpus``)::

    {"ts", "source", "simulated", "reason", "error", "interval",
     "gpus": [{"index", "name", "uuid", "simulated", "util", "memory_util", "memory_used_mib",
               "memory_total_mib", "memory_reserved_mib", "temperature_c", "power_w", "power_limit_w", "error",
               "jobs": [ids], "processes": [{"pid", "memory_mib", "util", "kind", ...}],
               "kernels": [...], "unmanaged": [...]}],
     "job_usage": [{"job_id", "name", "gpus", "memory_mib", "util", "pids"}]}
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, Callable, Sequence

from ..core.gpumodel import DeviceUsage, GpuInventory, GpuReading, JobOnGpu
from .attribution import Attributor, KernelLookup

log = logging.getLogger("jupyter_jobflow")

Sample = dict[str, Any]


class GpuMonitor:
    def __init__(self, source: GpuInventory, *, jobs: Callable[[], Sequence[JobOnGpu]] = tuple,
                 kernel_lookup: KernelLookup | None = None, interval: float = 1.0,
                 history_seconds: float = 600.0, clock: Callable[[], float] = time.time):
        self.source = source
        self.jobs = jobs
        self.attributor = Attributor(kernel_lookup)
        self.interval = max(0.05, float(interval))
        self.history_seconds = float(history_seconds)
        self.clock = clock
        self._ring: deque[tuple[float, tuple[tuple[int | None, int | None], ...]]] = deque(
            maxlen=max(1, round(self.history_seconds / self.interval)))
        self._latest: Sample | None = None
        self._usage: dict[int, DeviceUsage] = {}
        self._subscribers: list[Callable[[Sample], None]] = []
        self._lock = threading.Lock()
        self._sampling = threading.Lock()  # one sample at a time (the thread, or sample_now)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.samples = 0
        self.failed_samples = 0

    @property
    def kernel_lookup(self) -> KernelLookup | None:
        return self.attributor.kernel_lookup

    @kernel_lookup.setter
    def kernel_lookup(self, fn: KernelLookup | None) -> None:
        self.attributor.kernel_lookup = fn

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> "GpuMonitor":
        """Sample once now, then every ``interval`` in a daemon thread (none without devices)."""
        self.sample_now()
        if self.source.device_ids() and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="jobflow-gpu-sampler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        next_at = time.monotonic()
        while True:
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay < 0:  # fell behind (a slow NVML call): go on from now, no burst
                next_at, delay = time.monotonic(), 0.0
            if self._stop.wait(delay):
                return
            self.sample_now()

    # -- views ------------------------------------------------------------------------------
    def subscribe(self, fn: Callable[[Sample], None]) -> Callable[[], None]:
        """Call ``fn(sample)`` after each sample, in the sampler thread; returns the unsubscribe."""
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    def latest(self) -> Sample:
        """The newest sample (taken now if there is none yet: only before ``start``)."""
        with self._lock:
            latest = self._latest
        return latest if latest is not None else self.sample_now()

    def usage(self) -> dict[int, DeviceUsage]:
        """Per device, what allocation needs (from the newest sample; empty before the first)."""
        with self._lock:
            return self._usage

    def history(self, seconds: float | None = None) -> dict[str, Any]:
        """``{"interval", "ts": [..], "gpus": [{"index", "util": [..], "memory_used_mib": [..]}]}``,
        oldest first, the last ``seconds`` (default: all kept). None marks a failed reading."""
        with self._lock:
            points = list(self._ring)
        if seconds is not None and points:
            points = [p for p in points if p[0] >= points[-1][0] - seconds]
        ids = self.source.device_ids()
        series = [{"index": i, "util": [p[1][k][0] if k < len(p[1]) else None for p in points],
                   "memory_used_mib": [p[1][k][1] if k < len(p[1]) else None for p in points]}
                  for k, i in enumerate(ids)]
        return {"interval": self.interval, "ts": [p[0] for p in points], "gpus": series}

    # -- one sample ---------------------------------------------------------------------------
    def sample_now(self) -> Sample:
        """Read, attribute, keep and publish one sample. Never raises."""
        with self._sampling:
            ts = self.clock()
            try:
                sample, usage = self._sample(ts)
            except Exception as err:  # a source or attribution bug must not stop the sampler
                log.exception("GPU sample failed")
                readings = [GpuReading(i, error=f"{type(err).__name__}: {err}") for i in self.source.device_ids()]
                sample, usage = self._build(ts, readings, [], {})
            self.samples += 1
            self.failed_samples += sample["error"] is not None
            with self._lock:
                self._latest, self._usage = sample, usage
                self._ring.append((ts, tuple((g["util"], g["memory_used_mib"]) for g in sample["gpus"])))
                subscribers = list(self._subscribers)
        for fn in subscribers:
            try:
                fn(sample)
            except Exception:
                log.exception("GPU sample subscriber failed")
        return sample

    def _sample(self, ts: float) -> tuple[Sample, dict[int, DeviceUsage]]:
        jobs = list(self.jobs())
        try:
            readings = self.source.read(jobs)
        except Exception as err:  # the whole read failed (e.g. NVML raised something unexpected)
            log.warning("GPU read failed: %s", err)
            readings = [GpuReading(i, error=f"{type(err).__name__}: {err}") for i in self.source.device_ids()]
        pids = {p.pid for r in readings for p in r.processes}
        return self._build(ts, readings, jobs, self.attributor.owners(pids, jobs))

    def _build(self, ts: float, readings: list[GpuReading], jobs: list[JobOnGpu],
               owners: dict) -> tuple[Sample, dict[int, DeviceUsage]]:
        info = {d.index: d for d in self.source.devices()}
        allocated: dict[int, set[int]] = {}
        for job in jobs:
            for d in job.gpus:
                allocated.setdefault(d, set()).add(job.job_id)
        by_job: dict[int, dict[str, Any]] = {}
        gpus, usage, errors = [], {}, []
        for r in readings:
            d = info.get(r.index)
            procs, job_mib = [], {}
            for p in r.processes:
                owner = owners.get(p.pid)
                who = owner.to_json() if owner is not None else {"kind": "unmanaged"}
                procs.append({"pid": p.pid, "memory_mib": p.memory_mib, "util": p.util, **who})
                if who["kind"] == "job":
                    jid = who["job_id"]
                    job_mib[jid] = job_mib.get(jid, 0) + (p.memory_mib or 0)
                    entry = by_job.setdefault(jid, {"job_id": jid, "name": who.get("name"), "gpus": [],
                                                    "memory_mib": 0, "util": None, "pids": []})
                    if r.index not in entry["gpus"]:
                        entry["gpus"].append(r.index)
                    entry["memory_mib"] += p.memory_mib or 0
                    entry["pids"].append(p.pid)
                    if p.util is not None:
                        entry["util"] = min(100, (entry["util"] or 0) + p.util)
            total = r.memory_total_mib if r.memory_total_mib is not None else (d.memory_total_mib if d else None)
            gpus.append({
                "index": r.index, "name": d.name if d else None, "uuid": d.uuid if d else None,
                "simulated": bool(d.simulated if d else self.source.simulated),
                "util": r.util, "memory_util": r.memory_util, "memory_used_mib": r.memory_used_mib,
                "memory_total_mib": total, "memory_reserved_mib": r.memory_reserved_mib, "temperature_c": r.temperature_c, "power_w": r.power_w,
                "power_limit_w": r.power_limit_w, "error": r.error,
                "jobs": sorted(allocated.get(r.index, set()) | set(job_mib)),
                "processes": procs,
                "kernels": [{"pid": p["pid"], "path": p["path"], "memory_mib": p["memory_mib"]}
                            for p in procs if p["kind"] == "kernel"],
                "unmanaged": [{"pid": p["pid"], "process_name": p["process_name"], "user": p["user"],
                               "memory_mib": p["memory_mib"]} for p in procs if p["kind"] == "unmanaged"],
            })
            usage[r.index] = DeviceUsage(total, r.memory_used_mib or 0, r.memory_reserved_mib or 0, job_mib, r.error)
            if r.error:
                errors.append(f"GPU {r.index}: {r.error}")
        sample = {"ts": ts, "source": self.source.kind, "simulated": bool(self.source.simulated),
                  "reason": self.source.reason, "error": "; ".join(errors) or None, "interval": self.interval,
                  "gpus": gpus, "job_usage": [by_job[j] for j in sorted(by_job)]}
        return sample, usage

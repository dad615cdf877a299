"""What a notebook cell's job takes in and gives back, seen from the kernel (docs/notebooks.md).

``--in NAME`` comes from a parent job when exactly one parent saves ``NAME`` with ``--out`` (read
when the job starts, so the pipeline is submitted in one go), else from this notebook's variables
at submit; ``--in NAME:JOB`` names the parent. Decided at submit, with one-line errors, nothing
submitted. Results come back as a ``Results`` mapping: nothing is written into the namespace
unless ``%gresult`` is asked to.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from ..core.errors import HelpRequested, InvalidSpec, JobflowError

RUNNER = "jupyter_jobflow.cellrunner"


class NoResult(JobflowError):
    """A job has no values to give back (it did not finish, or saved none); says why, in one line."""

    status = 409

    def _render_traceback_(self) -> list[str]:  # IPython shows this, not a traceback through jobflow
        return [f"{type(self).__name__}: {self}"]


class Results(dict):
    """A job's ``--out`` values: ``results["score"]`` or ``results.score``."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f'no --out variable "{name}"; this job saved: {", ".join(self) or "nothing"}') from None

    def __dir__(self) -> Iterable[str]:
        return [*super().__dir__(), *self]


def job_outputs(job: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``--out`` names of a cell job (from its runner's command line); () for any other job."""
    words = list(job.get("command") or [])
    if RUNNER not in words or "--outputs" not in words[:-1]:
        return ()
    return tuple(n for n in words[words.index("--outputs") + 1].split(",") if n)


@dataclass
class InputPlan:
    """Where each ``--in`` variable comes from: this kernel now, or a parent job when it starts."""

    from_kernel: list[str] = field(default_factory=list)
    from_jobs: dict[str, int] = field(default_factory=dict)

    def runner_args(self) -> list[str]:
        if not self.from_jobs:
            return []
        return ["--from", ",".join(f"{name}={job}" for name, job in self.from_jobs.items())]


def split_ref(item: str) -> tuple[str, str | None]:
    """``X`` or ``X:JOB`` (JOB an id, ``@``, ``@~N`` or a job name of this notebook)."""
    name, colon, ref = item.partition(":")
    name, ref = name.strip(), ref.strip()
    if not name.isidentifier() or (colon and not ref):
        raise InvalidSpec(f'--in expects NAME or NAME:JOB (JOB an id, @, @~N or a job name), got "{item}"')
    return name, (ref if colon else None)


def plan_inputs(items: Iterable[str], parents: Iterable[int], namespace: Mapping[str, Any],
                job: Callable[[int], Mapping[str, Any]], find: Callable[[str], int]) -> InputPlan:
    """Decide each ``--in``: ``job(id)`` is a job's JSON, ``find(ref)`` a JOB reference's id."""
    parents = list(dict.fromkeys(parents))
    infos = {p: job(p) for p in parents}
    plan = InputPlan()
    for item in items:
        name, ref = split_ref(item)
        if ref is not None:
            jid = find(ref)
            if jid not in infos:
                raise InvalidSpec(f"--in {name}:{ref}: job {jid} is not a parent of this job, so its values may not "
                                  f"exist when it starts; add --depends-on {jid}")
            offered = job_outputs(infos[jid])
            if name not in offered:
                saves = f"saves only {', '.join(offered)}" if offered else "saves no variables"
                raise InvalidSpec(f"--in {name}:{ref}: job {jid} ({infos[jid]['name']}) {saves} (--out)")
            plan.from_jobs[name] = jid
            continue
        offering = [p for p in parents if name in job_outputs(infos[p])]
        if len(offering) > 1:
            a, b = offering[:2]
            raise InvalidSpec(f'--in {name}: both job {a} ({infos[a]["name"]}) and job {b} ({infos[b]["name"]}) save '
                              f'"{name}"; pick one with --in {name}:{a} or --in {name}:{b}')
        if offering:
            plan.from_jobs[name] = offering[0]
        elif name in namespace:
            plan.from_kernel.append(name)
        else:
            raise InvalidSpec(f'--in variable "{name}" is not defined in this notebook, and no parent job saves it '
                              f"(--out); define it, or add --depends-on for the job that saves it")
    return plan


def why_no_result(job: Mapping[str, Any]) -> str:
    """One line: why a job that is not Finished has no results."""
    jid, state = job["id"], job["state"]
    if job.get("reason_kind") == "OutputNotSaved":
        args = job.get("reason_args") or {}
        return (f"Job {jid} is Failed: its --out variable {args.get('name')} ({args.get('type')}) could not be "
                f"saved; the cell's output is in its log (%glog {jid})")
    if state in ("Queued", "Running", "Hold"):
        return f"Job {jid} is {state}: it has no result yet; job.wait() first, or try again when it ends"
    reason = f" ({job['reason']})" if job.get("reason") else ""
    return f"Job {jid} is {state}{reason}: results exist only for a Finished job; see its log (%glog {jid})"


class _MagicParser(argparse.ArgumentParser):
    """argparse that never exits in a kernel: ``-h`` raises ``HelpRequested``, mistakes ``InvalidSpec``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InvalidSpec(f"{message} (see %{self.prog} --help)")

    def print_help(self, file: Any = None) -> None:
        raise HelpRequested(self.format_help())

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise InvalidSpec(" ".join((message or "cannot parse the options").split()))


def gresult_parser() -> argparse.ArgumentParser:
    p = _MagicParser(prog="gresult", description="Load a finished job's --out variables into this notebook. "
                     "(job.result() returns them instead, without touching the notebook's variables.)")
    p.add_argument("job", metavar="JOB", help="a job id, @ (this notebook's last job), @~N, or a job name of this notebook")
    p.add_argument("names", metavar="NAMES", nargs="*", help="which variables (default: all it saved); commas or spaces")
    p.add_argument("--prefix", default="", metavar="P", help="load each NAME as P + NAME (fit_a_score, ...)")
    return p

"""From a run's snapshot to its jobs: each task's text rendered once, its request, its inputs.

Used by the flow verbs (flows.py, flowruns.py), each text rendered: a command task runs as
``bash -c TEXT`` (a long one from a script file, as a script task does, run by bash or its ``#!``
line); a cell task runs the notebook cell runner (notebook/cellrunner.py) on the flow's preamble
plus the cell, reading its ``--in`` variables from the parent tasks' saved ``--out``
(``--from NAME=JOB``: the pipeline of the notebook issue).

``{{attempt}}`` and ``{{job_id}}`` change per attempt and are not known at creation (V3): in a
command or a bash script they become ``${JOBFLOW_ATTEMPT}``/``${JOBFLOW_JOB_ID}``, which the shell
expands at each attempt; in a Python cell or a script of another interpreter they stay as written
(read ``os.environ["JOBFLOW_ATTEMPT"]`` there).
"""

from __future__ import annotations

import re
import sys
from typing import Any, Mapping

from ..core import depspec
from ..core.depspec import Condition, DepSpec
from ..core.errors import InvalidSpec
from ..core.flowdef import FlowDef, Task
from ..core.request import UNLIMITED, JobRequest
from ..core.submission import interpreter
from ..core.templates import Template
from ..core.templating import render_task

_PER_ATTEMPT = {"attempt": "${JOBFLOW_ATTEMPT}", "job_id": "${JOBFLOW_JOB_ID}"}
_SPAN = re.compile(r"\{\{\s*(attempt|job_id)\s*\}\}")
#: a command task up to this many characters runs as ``bash -c TEXT``; a longer one from a script
#: file (Linux takes one argument of at most 128 KiB)
INLINE_COMMAND = 32 << 10
#: trigger rules judged here, when their afterany dependency is met (F7; the others are compiled)
JUDGED = ("one_done", "none_failed", "none_failed_min_one_success", "none_skipped", "all_skipped")


def topo_order(flow: FlowDef) -> list[str]:
    """Tasks with every parent before them, otherwise in definition order (flowdef refused cycles)."""
    graph, done, order = flow.graph(), set(), []
    while len(order) < len(graph):
        for name, parents in graph.items():
            if name not in done and all(p in done for p in parents):
                done.add(name)
                order.append(name)
    return order


def body_kind(task: Task, template: Template | None) -> str:
    if task.cell is not None:
        return "cell"
    if template is not None:
        return "command" if template.command is not None else "script"
    return "command" if task.command is not None else "script"


def render(flow: FlowDef, templates: Mapping[str, Template], values: Mapping[str, Any],
           params: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Each task's text, rendered once (V3), and the W6 warnings."""
    texts, warnings = {}, []
    for task in flow.tasks:
        rendered = render_task(task, values, template=templates.get(task.name), flow_params=params)
        text = rendered.text
        shell = body_kind(task, templates.get(task.name)) == "command" or (
            task.script is not None and interpreter(task.script) in ("/bin/bash", "/bin/sh", "/usr/bin/env bash"))
        if shell and not task.no_template:
            text = _SPAN.sub(lambda m: _PER_ATTEMPT[m.group(1)], text)
        texts[task.name] = text
        warnings += rendered.warnings
    return texts, warnings


def inputs_from(task: Task, flow: FlowDef, job_of: Mapping[str, int]) -> dict[str, int]:
    """``--in NAME[:TASK]`` -> the job id of the parent task that saves NAME (one-line errors)."""
    parents = task.parents
    out = {}
    for item in task.inputs:
        name, _, ref = item.partition(":")
        if ref:
            if ref not in parents:
                raise InvalidSpec(f'--in {item} of task "{task.name}": "{ref}" is not a parent of it; add it to depends')
            if name not in flow.task(ref).outputs:
                raise InvalidSpec(f'--in {item} of task "{task.name}": task "{ref}" does not save "{name}" (--out)')
            source = ref
        else:
            offering = [p for p in parents if name in flow.task(p).outputs]
            if len(offering) > 1:
                raise InvalidSpec(f'--in {name} of task "{task.name}": both "{offering[0]}" and "{offering[1]}" save it; '
                                  f"pick one with --in {name}:{offering[0]}")
            if not offering:
                raise InvalidSpec(f'--in {name} of task "{task.name}": no parent task saves "{name}" (--out); add '
                                  f"the task that saves it to depends")
            source = offering[0]
        out[name] = job_of[source]
    return out


def request(flow: FlowDef, task: Task, text: str, template: Template | None, *, run_id: str, owner: str,
            cwd: str, vars_dir: str, job_of: Mapping[str, int], from_jobs: Mapping[str, int] | None = None,
            with_depends: bool = True) -> JobRequest:
    """The job request of one task: the parents by name become the run's job ids."""
    kind = body_kind(task, template)
    command: list[str] | None = None
    script = text
    interp = None
    if kind == "cell":
        inputs = from_jobs if from_jobs is not None else inputs_from(task, flow, job_of)
        command = [sys.executable, "-m", "jupyter_jobflow.cellrunner", "--name", f"flow {flow.name}, task {task.name}",
                   "--vars-dir", vars_dir]
        if inputs:
            command += ["--from", ",".join(f"{n}={j}" for n, j in inputs.items())]
        if task.outputs:
            command += ["--outputs", ",".join(task.outputs)]
        script = flow.preamble + text
    elif kind == "script":
        interp = interpreter(text)
    elif len(text) <= INLINE_COMMAND:  # no script file per task: a run's files cost more than its rows
        command, script = ["/bin/bash", "-c", text], None
    spec = None
    if task.depends and with_depends:
        parsed = depspec.parse(task.depends)
        spec = DepSpec(parsed.op, tuple(Condition(c.type, job_of[str(c.target)], c.delay) for c in parsed.conditions),
                       parsed.singleton)
    t = template
    limit = task.time_limit if task.time_limit is not None else (t.time_limit if t else None)
    retries = task.retries if task.retries is not None else (t.retries if t and t.retries is not None else 0)
    return JobRequest(
        command=command, script=script, interpreter=interp, name=f"{flow.name}/{task.name}",
        time_limit=UNLIMITED if limit == "UNLIMITED" else (float(limit) if limit is not None else None),
        gpus=task.gpus if task.gpus is not None else (t.gpus if t and t.gpus is not None else 0),
        group=task.group or (t.group if t else None), dependency=spec, retries=retries, cwd=cwd,
        env={**(t.env if t else {}), **task.env}, export="ALL", scope=f"run:{run_id}", user=owner,
        hold=task.trigger in JUDGED, run_id=run_id, task=task.name, executor=task.executor,
        slurm=dict(task.slurm) or None)


def judge(rule: str, parents: list[str]) -> str:
    """F7 on the parents' task states (Finished, Skipped, Failed, ...): ``run``, ``skip`` or ``wait``."""
    done = [s for s in parents if s not in ("Queued", "Hold", "Running")]
    ok = [s for s in done if s == "Finished"]
    skipped = [s for s in done if s == "Skipped"]
    failed = [s for s in done if s not in ("Finished", "Skipped")]
    if rule == "one_done":
        if ok or failed:
            return "run"
        return "skip" if len(done) == len(parents) else "wait"
    if len(done) < len(parents):
        return "wait"
    verdict = {"none_failed": not failed, "none_failed_min_one_success": not failed and bool(ok),
               "none_skipped": not skipped, "all_skipped": len(skipped) == len(parents)}[rule]
    return "run" if verdict else "skip"

"""``%gpipe run-task NAME TASK [--run RUN] --load``: one task of a flow run into this kernel, to
step through it instead of running it as a job (issue 11 item 6; docs/flows.md).

What the task read and ran comes from the service (``GET flows/{name}/tasks/{task}/inputs``):
its ``--in`` variables are loaded from the ``--out`` files the parent tasks' jobs saved in that
run, under their names (as ``%gresult`` does); the run's template values go into ``gpipe_vars``;
the task's code, rendered as the run rendered it (a cell after the flow's preamble, a command
under ``%%bash``), becomes the next cell. Nothing is submitted and the run never changes.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import NotFound
from .jobhandle import load_outputs

VARS = "gpipe_vars"  # the namespace name of the run's template values


def code_of(info: dict[str, Any]) -> str:
    """The task's code as a notebook cell runs it."""
    text = info["text"]
    if info["kind"] == "cell":
        return text
    if info["kind"] == "command":
        return "%%bash\n" + text
    return f"%%script {info['interpreter']}\n" + text


def load_words(client: Any, shell: Any, words: list[str]) -> str:
    """``%gpipe run-task NAME TASK [--run RUN] --load``, its words parsed by gpipe's own parser."""
    from ..cli.gpipe import parser

    args = parser().parse_args(words)
    return load_task(client, shell, args.name, args.task, args.run)


def load_task(client: Any, shell: Any, name: str, task: str, run: str | None = None) -> str:
    """Load task ``task`` of flow ``name``'s run ``run`` (default: the latest finished one);
    the line to print."""
    info = client.task_inputs(name, task, run=run)
    values = {}
    for var, job_id in info["inputs"].items():
        saved = load_outputs(client, job_id)
        if var not in saved:
            raise NotFound(f'Job {job_id} of run {info["run_id"]} saved no "{var}"; it saved: {", ".join(saved)}')
        values[var] = saved[var]
    shell.user_ns.update(values)
    shell.user_ns[VARS] = {**info["variables"], "params": info["params"]}
    shell.set_next_input(code_of(info), replace=False)
    where = f"run {info['run_id']}" if info["run_id"] else f"flow {name} as it is now (it has no finished run)"
    loaded = ", ".join(values) + (" and " if values else "") + VARS
    return f"Loaded {loaded} of task {task} from {where}; its code is in the next cell"

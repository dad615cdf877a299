"""A flow from where people already write one: a YAML file or a notebook (flowdef.py builds it).

**YAML** (``flow.yaml``): top-level ``tasks`` (a mapping of name -> keys, or a list of mappings
with ``name:``), and optionally ``preamble`` (Python run before each ``cell:`` task), ``params``
(the flow's own parameters, ``{{params.NAME}}``, set with ``gpipe run -p``) and ``description``.
A task's keys are flowdef.TASK_KEYS. Unknown keys and repeated keys are errors.

**Notebook** (``.ipynb``): every code cell that starts with ``%%gbatch`` is a task, in notebook
order. Its line is read by the one submit-option parser, plus two flow-only words: ``--task NAME``
(= ``--name``, which every task needs) and ``--no-template``. Directive lines at the top of the
cell (``#SBATCH --gpus 1``) count as for ``%%gbatch``. A Python cell becomes a ``cell`` task, a
``--shell`` or ``#!`` cell a ``script`` task. ``@``/``@~N`` are earlier tasks of the notebook.

Cells without ``%%gbatch`` (decision): the top-level *definitions* of every other code cell,
wherever it is, form the flow's shared ``preamble``, prepended to each Python task: imports,
function and class definitions, and assignments of literal constants (``LR = 0.1``). Everything
else (displays, ``df.head()``, calls, assignments that compute, cell magics ``%%time``, line
magics and ``!`` lines) is left out: it belongs to the person's session, not to every task, and
re-running it per task could be slow or have effects. Markdown and raw cells are ignored.
"""

from __future__ import annotations

import ast
import json
import shlex
from typing import Any, Mapping

from .directives import read_directives
from .errors import InvalidSpec
from .flowdef import FlowDef, build, finish
from .flowtask import check_flow_name, task_from_options
from .options import merge, parse_submit_args
from .templates import Template, check_keys, load_yaml

FLOW_KEYS = ("tasks", "preamble", "params", "description")

Versions = Mapping[str, Mapping[int, Template]]


def from_yaml(name: str, text: str, *, what: str = "flow.yaml", templates: Versions | None = None) -> FlowDef:
    """Compile a flow file; ``templates`` (name -> version -> template) checks ``template:`` tasks."""
    check_flow_name(name)
    _no_duplicate_tasks(text, name)
    data = load_yaml(text, what)
    if not isinstance(data, Mapping) or "tasks" not in data:
        raise InvalidSpec(f"{what} must be a mapping with tasks: (name: {{command: ...}} for each task)")
    check_keys(data, FLOW_KEYS, what)
    tasks = data["tasks"]
    if isinstance(tasks, Mapping):
        pairs = list(tasks.items())
    elif isinstance(tasks, list) and all(isinstance(t, Mapping) and "name" in t for t in tasks):
        pairs = [(t["name"], {k: v for k, v in t.items() if k != "name"}) for t in tasks]
    else:
        raise InvalidSpec(f"tasks of {what} must be a mapping of NAME: {{command: ...}} or a list of "
                          "{name: ..., command: ...}")
    preamble = data.get("preamble") or ""
    if not isinstance(preamble, str):
        raise InvalidSpec(f"preamble of {what} must be Python source text")
    return build(name, pairs, preamble=preamble, params=data.get("params"),
                 description=str(data.get("description") or ""), origin="yaml", templates=templates)


def _no_duplicate_tasks(text: str, flow: str) -> None:
    """PyYAML keeps the last of two equal keys: two tasks of one name must be an error (F1)."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return  # load_yaml reports it
    if not isinstance(root, yaml.MappingNode):
        return
    for key, value in root.value:
        if key.value == "tasks" and isinstance(value, yaml.MappingNode):
            seen: dict[str, int] = {}
            for i, (task, _) in enumerate(value.value, 1):
                if task.value in seen:
                    raise InvalidSpec(f'Duplicate task name "{task.value}" in flow "{flow}" (tasks {seen[task.value]} and {i})')
                seen[task.value] = i


def from_notebook(name: str, notebook: str | Mapping[str, Any], *, what: str = "the notebook",
                  templates: Versions | None = None, warnings: list[str] | None = None) -> FlowDef:
    """Compile a notebook's ``%%gbatch`` cells (``notebook``: the .ipynb text or its JSON).
    Directive warnings are appended to ``warnings``."""
    check_flow_name(name)
    if isinstance(notebook, str):
        try:
            notebook = json.loads(notebook)
        except ValueError as err:
            raise InvalidSpec(f"{what} is not a notebook (.ipynb JSON): {err}") from None
    cells = notebook.get("cells") if isinstance(notebook, Mapping) else None
    if not isinstance(cells, list):
        raise InvalidSpec(f"{what} is not a notebook: it has no cells")
    tasks, preamble = [], []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, Mapping) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if source.lstrip().startswith("%%gbatch"):
            tasks.append(_cell_task(source.lstrip(), number, name, warnings))
        else:
            preamble += definitions(source)
    if not tasks:
        raise InvalidSpec(f"{what} has no %%gbatch cells: each task of a flow is a cell that starts with "
                          "%%gbatch --name NAME")
    return finish(name, tasks, preamble="\n".join(preamble), origin="notebook", templates=templates)


def _cell_task(source: str, number: int, flow: str, warnings: list[str] | None) -> Any:
    line, _, body = source.partition("\n")
    where = f"cell {number} of the notebook"
    try:
        words = shlex.split(line[len("%%gbatch"):])
    except ValueError as err:
        raise InvalidSpec(f"%%gbatch line of {where}: {err}") from None
    words, task_name, no_template = _flow_words(words, where)
    try:
        cli = parse_submit_args(words)
        directives, found = read_directives(body)
    except InvalidSpec as err:
        raise InvalidSpec(f"{where[0].upper()}{where[1:]}: {err}") from None
    if cli.command:
        raise InvalidSpec(f"%%gbatch of {where} takes options only; the cell is the task (got {' '.join(cli.command)!r})")
    opts = merge(cli, directives)
    if warnings is not None:
        warnings.extend(f"{where}: {w}" for w in found)
    if task_name and opts.name and task_name != opts.name:
        raise InvalidSpec(f'{where[0].upper()}{where[1:]} names its task twice: --name {opts.name} and --task {task_name}')
    task_name = task_name or opts.name
    if not task_name:
        raise InvalidSpec(f"{where[0].upper()}{where[1:]} has no task name: add --name NAME to its %%gbatch line")
    first = body.lstrip().split("\n", 1)[0]
    shell = opts.shell or (first.startswith("#!") and "python" not in first)
    return task_from_options(task_name, opts, flow, body={"script" if shell else "cell": body},
                             no_template=no_template)


def _flow_words(words: list[str], where: str) -> tuple[list[str], str | None, bool]:
    """Take out the flow-only words ``--task NAME`` and ``--no-template``."""
    rest, name, no_template = [], None, False
    i = 0
    while i < len(words):
        w = words[i]
        if w == "--no-template":
            no_template = True
        elif w == "--task" or w.startswith("--task="):
            if w == "--task":
                if i + 1 >= len(words):
                    raise InvalidSpec(f"--task of {where} expects a value")
                i += 1
                name = words[i]
            else:
                name = w.split("=", 1)[1]
        else:
            rest.append(w)
        i += 1
    return rest, name, no_template


def definitions(source: str) -> list[str]:
    """The top-level imports, defs, classes and constant assignments of one code cell, as text."""
    if source.lstrip().startswith("%%"):
        return []  # a cell magic: its body is not Python of the kernel's own
    lines = source.split("\n")
    clean = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in lines)
    try:
        tree = ast.parse(clean)
    except SyntaxError:
        return []
    kept = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            pass
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _literal(node.value):
            pass
        else:
            continue
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
        kept.append("\n".join(lines[start - 1:node.end_lineno]))
    return kept


def _literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


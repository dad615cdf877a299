"""Flow definitions: named tasks and the dependencies between them (F1-F9).

A ``FlowDef`` is plain, JSON-serialisable data (``to_dict``/``from_dict``) with a content hash
(``hash``) that runs snapshot. It is compiled from a notebook or a YAML file (flowsources.py) or
built in Python::

    Flow("etl").task("prep", command="python prep.py") \\
               .task("train", template="train", params={"lr": 0.1}, depends="prep", gpus=1) \\
               .build()

A task (flowtask.py) has a command, script, cell or template body and ``depends``: the job
dependency grammar with task names as targets, where ``@``/``@~N`` are earlier tasks in
definition order. The stored form is canonical, so notebook, YAML and Python agree.

``trigger`` (Airflow's trigger rules, F7) applies to a plain list of upstream names. Rules the
grammar can say are compiled into ``depends`` and not stored: all_success (afterok, AND),
all_failed (afternotok, AND), all_done (afterany, AND), one_success (afterok, OR), one_failed
(afternotok, OR). The others are kept in ``trigger`` for the engine, with ``depends`` saying
when they may be judged: one_done (afterany, OR), none_failed, none_failed_min_one_success,
none_skipped, all_skipped (afterany, AND); ``always`` has no upstream condition, so no edges.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping

from . import depspec
from .depspec import Condition, DepSpec
from .errors import InvalidSpec
from .flowtask import TASK_KEYS, Task, check_flow_name, task_from_keys, task_from_options
from .templates import Param, Template, content_hash, did_you_mean, parse_params, resolve

__all__ = ["TASK_KEYS", "Flow", "FlowDef", "Task", "build", "check_flow_name", "finish", "task_from_keys",
           "task_from_options"]

_COMPILED = {"all_success": ("afterok", "and"), "all_failed": ("afternotok", "and"),
             "all_done": ("afterany", "and"), "one_success": ("afterok", "or"), "one_failed": ("afternotok", "or")}
_KEPT = {"one_done": "or", "none_failed": "and", "none_failed_min_one_success": "and", "none_skipped": "and",
         "all_skipped": "and", "always": None}
TRIGGERS = (*_COMPILED, *_KEPT)


@dataclass(frozen=True)
class FlowDef:
    """A checked flow. ``origin`` (notebook, yaml, python) is for display; it is not content."""

    name: str
    tasks: tuple[Task, ...]
    preamble: str = ""
    params: tuple[Param, ...] = ()
    description: str = ""
    origin: str = field(default="python", compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "tasks": [t.to_dict() for t in self.tasks], "preamble": self.preamble,
                "params": [p.to_dict() for p in self.params], "description": self.description}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "stored") -> "FlowDef":
        tasks = tuple(Task(**{**t, "inputs": tuple(t.get("inputs", ())), "outputs": tuple(t.get("outputs", ()))})
                      for t in data["tasks"])
        return cls(data["name"], tasks, data.get("preamble", ""), tuple(Param(**p) for p in data.get("params", ())),
                   data.get("description", ""), origin)

    @property
    def hash(self) -> str:
        return content_hash(self.to_dict())

    @cached_property
    def _by_name(self) -> dict[str, Task]:  # a 1,000-task run looks tasks up by name thousands of times
        return {t.name: t for t in self.tasks}

    def task(self, name: str) -> Task:
        if name in self._by_name:
            return self._by_name[name]
        raise InvalidSpec(f'Task "{name}" not in flow "{self.name}"{did_you_mean(name, self.names)}')

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    def graph(self) -> dict[str, tuple[str, ...]]:
        """Each task's upstream tasks, in definition order (what resume.py plans over)."""
        return {t.name: t.parents for t in self.tasks}

    def task_hash(self, name: str) -> str:
        """The hash of one task's definition (plus the preamble a cell runs after): R5's drift check."""
        t = self.task(name)
        return content_hash({"task": t.to_dict(), "preamble": self.preamble if t.cell is not None else ""})

    def check_templates(self, versions: Mapping[str, Mapping[int, Template]]) -> dict[str, Template]:
        """Resolve every ``template:`` against ``versions`` and check its ``params`` (definition
        time, and again at run creation). Returns task name -> the template version it uses."""
        used = {}
        for t in self.tasks:
            if t.template is not None:
                template = resolve(t.template, versions)
                template.values(t.params, t.name)
                used[t.name] = template
        return used


class Flow:
    """The Python front: ``Flow("etl").task(...).task(...).build()``. Each ``task`` takes the
    keys of a flow file's task (``in``/``out`` are spelt ``inputs``/``outputs`` here)."""

    def __init__(self, name: str, *, preamble: str = "", params: Mapping[str, Any] | None = None,
                 description: str = ""):
        self.name, self.preamble, self.params, self.description = name, preamble, params, description
        self._tasks: list[tuple[str, dict[str, Any]]] = []

    def task(self, name: str, **keys: Any) -> "Flow":
        renamed = {"inputs": "in", "outputs": "out"}
        self._tasks.append((name, {renamed.get(k, k): v for k, v in keys.items()}))
        return self

    def build(self, templates: Mapping[str, Mapping[int, Template]] | None = None) -> FlowDef:
        return build(self.name, self._tasks, preamble=self.preamble, params=self.params,
                     description=self.description, origin="python", templates=templates)


def build(name: str, tasks: Iterable[tuple[str, Mapping[str, Any]]], *, preamble: str = "",
          params: Any = None, description: str = "", origin: str = "python",
          templates: Mapping[str, Mapping[int, Template]] | None = None) -> FlowDef:
    """A flow from ``(task name, keys)`` pairs in order (the YAML file's and the builder's way)."""
    check_flow_name(name)
    made = [task_from_keys(task_name, keys, name) for task_name, keys in tasks]
    return finish(name, made, preamble=preamble, params=parse_params(params, f'flow "{name}"'),
                  description=description, origin=origin, templates=templates)


def finish(name: str, tasks: list[Task], *, preamble: str = "", params: tuple[Param, ...] = (),
           description: str = "", origin: str = "python",
           templates: Mapping[str, Mapping[int, Template]] | None = None) -> FlowDef:
    """Check the tasks together: unique names, ``@`` resolved, targets known, triggers, no cycle."""
    if not tasks:
        raise InvalidSpec(f'Flow "{name}" has no tasks')
    seen: dict[str, int] = {}
    for i, t in enumerate(tasks, 1):
        if t.name in seen:
            raise InvalidSpec(f'Duplicate task name "{t.name}" in flow "{name}" (tasks {seen[t.name]} and {i})')
        seen[t.name] = i
    done = []
    for i, t in enumerate(tasks):
        depends = _resolve(t, [x.name for x in tasks[:i]][::-1], list(seen), name)
        depends, trigger = _trigger(t, depends, name)
        done.append(dataclasses.replace(t, depends=depends, trigger=trigger))
    preamble = preamble.rstrip() + "\n" if preamble and preamble.strip() else ""
    flow = FlowDef(name, tuple(done), preamble, params, description or "", origin)
    _check_cycles(flow)
    if templates is not None:
        flow.check_templates(templates)
    return flow


def _resolve(task: Task, earlier: list[str], names: list[str], flow: str) -> str:
    """``@``/``@~N`` become the names of earlier tasks; every target must be a task of the flow."""
    if not task.depends:
        return ""
    spec = depspec.parse(task.depends)
    out = []
    for c in spec.conditions:
        target = c.target
        if isinstance(target, int):
            raise InvalidSpec(f'Task "{task.name}" of flow "{flow}" depends on job {target}: tasks of a flow depend '
                              "on other tasks by name")
        if target == "@" or target.startswith("@~"):
            n = 0 if target == "@" else int(target[2:])
            if n >= len(earlier):
                have = "no task" if not earlier else f"only {len(earlier)} task{'s' if len(earlier) > 1 else ''}"
                which = "the task just before it" if n == 0 else f"the {depspec.ordinal(n + 1)} task before it"
                raise InvalidSpec(f'"{target}" in task "{task.name}" of flow "{flow}" refers to {which}, '
                                  f"but there is {have} before it")
            target = earlier[n]
        elif target not in names:
            raise InvalidSpec(f'Task "{task.name}" depends on "{target}", which is not a task of flow "{flow}"'
                              f"{did_you_mean(target, names)}")
        out.append(Condition(c.type, target, c.delay))
    resolved = DepSpec(spec.op, tuple(out), spec.singleton)
    return str(depspec.parse(str(resolved)))  # parse again: @ and a name may now be one task twice (L6)


def _trigger(task: Task, depends: str, flow: str) -> tuple[str, str | None]:
    rule = task.trigger
    if rule is None or rule == "all_success":
        return depends, None
    if rule not in TRIGGERS:
        raise InvalidSpec(f'Unknown trigger "{rule}" of task "{task.name}" in flow "{flow}"{did_you_mean(rule, TRIGGERS)};'
                          f" expected one of: {', '.join(TRIGGERS)}")
    spec = depspec.parse(depends) if depends else DepSpec()
    if spec.op != "and" or spec.singleton or any(c.type != "afterok" or c.delay for c in spec.conditions):
        raise InvalidSpec(f'trigger: {rule} of task "{task.name}" in flow "{flow}" applies to a list of task names; '
                          f"write depends: [a, b] (not a dependency string)")
    names = [str(c.target) for c in spec.conditions]
    if rule == "always" or not names:
        return "", rule if rule == "always" else None
    ctype, op = _COMPILED.get(rule) or ("afterany", _KEPT[rule])
    text = ("?" if op == "or" else ",").join(f"{ctype}:{n}" for n in names)
    return str(depspec.parse(text)), None if rule in _COMPILED else rule


def _check_cycles(flow: FlowDef) -> None:
    """A cycle is printed as its path: ``Circular dependency: prep -> train -> prep``."""
    graph = flow.graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in graph:
        if state.get(root):
            continue
        path = [root]
        stack = [iter(graph[root])]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                raise InvalidSpec(f'Circular dependency: {" -> ".join(cycle)} (flow "{flow.name}")')
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(graph[nxt]))

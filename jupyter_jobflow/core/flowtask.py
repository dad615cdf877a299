"""One task of a flow (flowdef.py): its data, and how its keys or ``%%gbatch`` options are read.

A task has exactly one body: ``command`` (a shell command line), ``script`` (script text run by
its ``#!`` line, else bash), ``cell`` (Python source, run after the flow's ``preamble``) or
``template`` (``NAME[@VERSION]`` plus ``params``). Its options go through the one submit-option
parser (options.py), so ``gpus``, ``retries``, ``time``, ``group``, ``env``, ``in``/``out`` mean
what ``gbatch``'s flags mean, with the same messages. ``depends`` is read as ``gbatch`` reads it:
a name or list of names is ``--depends-on`` (afterok), a string with a type is ``--dependency``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import depspec
from .errors import InvalidSpec
from .limits import MAX_NAME
from .options import SubmitOptions, parse_submit_args
from .request import slurm_options
from .templates import did_you_mean, parse_ref

TASK_NAME = depspec.TASK_NAME  # a task name must read as a dependency target
TASK_KEYS = ("command", "script", "cell", "template", "params", "depends", "gpus", "retries", "time",
             "group", "trigger", "env", "in", "out", "no_template", "executor", "slurm")
BODIES = ("command", "script", "cell", "template")
# the submit options a flow task takes; the others (hold, priority, array, ...) are refused
_TASK_OPTIONS = frozenset({"name", "time_limit", "gpus", "gpu_ids", "group", "dependency", "retries", "env",
                           "inputs", "outputs", "shell", "executor", "slurm"})


@dataclass(frozen=True)
class Task:
    """One task of a flow; ``depends`` is canonical with task names (``""``: no dependency)."""

    name: str
    command: str | None = None
    script: str | None = None
    cell: str | None = None
    template: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    depends: str = ""
    trigger: str | None = None
    retries: int | None = None
    time_limit: int | str | None = None  # seconds or "UNLIMITED"; None: not given
    gpus: int | None = None
    group: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    no_template: bool = False
    executor: str | None = None  # local or slurm; None: the host's default
    slurm: dict[str, str] = field(default_factory=dict)  # Slurm's own options: {"partition": "gpu"}

    @property
    def parents(self) -> tuple[str, ...]:
        """The tasks this one depends on, in the order written."""
        if not self.depends:
            return ()
        return tuple(str(c.target) for c in depspec.parse(self.depends).conditions)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(inputs=list(self.inputs), outputs=list(self.outputs))
        # left out when not given, so the hashes of flows stored before these keys existed stay the same
        for key in ("executor", "slurm"):
            if not out[key]:
                del out[key]
        return out


def check_flow_name(name: Any) -> str:
    if not isinstance(name, str) or not TASK_NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise InvalidSpec(f'Invalid flow name "{name}": use letters, digits, "_" and "-", starting with a letter')
    return name


def task_from_keys(name: Any, keys: Mapping[str, Any], flow: str) -> Task:
    """A task from a flow file's keys: its options go through the one submit-option parser."""
    where = f'task "{name}" of flow "{flow}"'
    if not isinstance(keys, Mapping):
        raise InvalidSpec(f"{where[0].upper()}{where[1:]} must be a mapping of keys (command:, depends:, ...)")
    for key in keys:
        if key not in TASK_KEYS:
            raise InvalidSpec(f'Unknown key "{key}" in {where}{did_you_mean(key, TASK_KEYS)}; '
                              f"expected one of: {', '.join(TASK_KEYS)}")
    words: list[str] = []
    for key, flag in (("gpus", "--gpus"), ("retries", "--retries"), ("time", "--time"), ("group", "--group")):
        if keys.get(key) is not None:
            words += [flag, str(keys[key])]
    env = keys.get("env") or {}
    if not isinstance(env, Mapping):
        raise InvalidSpec(f"env of {where} must be a mapping of NAME: value")
    words += [w for k, v in env.items() for w in ("--env", f"{k}={v}")]
    for key, flag in (("in", "--in"), ("out", "--out")):
        value = keys.get(key)
        if value:
            words += [flag, value if isinstance(value, str) else ",".join(map(str, value))]
    if keys.get("executor") is not None:
        words += ["--executor", str(keys["executor"])]
    if keys.get("slurm"):
        words += _slurm_words(keys["slurm"], where)
    words += _depends_words(keys.get("depends"), where)
    opts = _parse(words, where)
    body = {k: keys[k] for k in BODIES if keys.get(k) is not None}
    for k, v in body.items():
        if k != "template" and not isinstance(v, str):
            if k == "command" and isinstance(v, list) and all(isinstance(w, str) for w in v):
                import shlex

                body[k] = shlex.join(v)
            else:
                raise InvalidSpec(f"{k} of {where} must be text")
    no_template = keys.get("no_template", False)
    if not isinstance(no_template, bool):
        raise InvalidSpec(f"no_template of {where} must be true or false")
    return task_from_options(name, opts, flow, body=body, params=keys.get("params"), trigger=keys.get("trigger"),
                             no_template=no_template)


def _depends_words(value: Any, where: str) -> list[str]:
    if value is None or value == "" or value == []:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidSpec(f"depends of {where} must be a task name, a list of names, or a dependency "
                          f'such as "afterok:prep?afternotok:train"')
    if len(items) == 1 and (":" in items[0] or items[0].strip() == "singleton"):
        return ["--dependency", items[0]]
    if all(":" not in i for i in items):  # names (comma lists too): --depends-on
        return ["--depends-on", ",".join(items)]
    return ["--dependency", ",".join(i if ":" in i else f"afterok:{i}" for i in items)]


def _slurm_words(value: Any, where: str) -> list[str]:
    """``slurm: {partition: gpu}`` as the flags gbatch takes (``--partition gpu``), names checked first."""
    try:
        return [w for k, v in slurm_options("slurm", value).items() for w in (f"--{k}", v)]
    except InvalidSpec as err:
        raise InvalidSpec(f"{where[0].upper()}{where[1:]}: {err}") from None


def _parse(words: list[str], where: str) -> SubmitOptions:
    try:
        return parse_submit_args(words)
    except InvalidSpec as err:
        raise InvalidSpec(f"{where[0].upper()}{where[1:]}: {err}") from None


def task_from_options(name: Any, opts: SubmitOptions, flow: str, *, body: Mapping[str, Any],
                      params: Any = None, trigger: Any = None, no_template: bool = False) -> Task:
    """A task from parsed submit options and its body (one of ``BODIES``)."""
    if not isinstance(name, str) or not TASK_NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise InvalidSpec(f'Invalid task name "{name}" in flow "{flow}": use letters, digits, "_" and "-", '
                          "starting with a letter (it is how other tasks depend on it)")
    if name in depspec.CONDITION_TYPES or name == "singleton":
        raise InvalidSpec(f'Invalid task name "{name}" in flow "{flow}": it is a dependency keyword; choose another')
    where = f'task "{name}" of flow "{flow}"'
    refused = sorted(opts.explicit - _TASK_OPTIONS)
    if refused:
        flag = "--no-auto-cancel" if refused[0] == "auto_cancel" else "--" + refused[0].replace("_", "-")
        raise InvalidSpec(f"{where[0].upper()}{where[1:]}: {flag} does not apply to a flow task; flow tasks take "
                          "--name, --gpus, --time, --retries, --group, --env, --in, --out, --executor, Slurm's own options "
                          "(--partition, --mem, ...) and a dependency")
    if opts.gpu_ids is not None:
        raise InvalidSpec(f"{where[0].upper()}{where[1:]}: a flow task takes a GPU count (--gpus 2), not device ids")
    given = [k for k in BODIES if body.get(k) is not None]
    if len(given) != 1:
        what = "has none" if not given else f"has {' and '.join(given)}"
        raise InvalidSpec(f"{where[0].upper()}{where[1:]} needs exactly one of command:, script:, cell: or "
                          f"template: ({what})")
    if params and "template" not in given:
        raise InvalidSpec(f"params of {where} need a template: (a command uses {{{{params.NAME}}}} from the flow's params)")
    if params is not None and not isinstance(params, Mapping):
        raise InvalidSpec(f"params of {where} must be a mapping of NAME: value")
    if "template" in given:
        parse_ref(body["template"])
    if (opts.inputs or opts.outputs) and "cell" not in given:
        raise InvalidSpec(f"{where[0].upper()}{where[1:]}: --in and --out carry Python variables; they apply to a "
                          "Python cell only")
    if not body[given[0]].strip():
        raise InvalidSpec(f"{given[0]} of {where} is empty")
    body = {k: (v.strip() if k in ("command", "template") else v.rstrip() + "\n") for k, v in body.items()}
    time_limit = ("UNLIMITED" if opts.time_limit is None else opts.time_limit) if opts.time_given else None
    return Task(name=name, **{k: body.get(k) for k in BODIES}, params=dict(params or {}),
                depends=str(opts.dependency) if opts.dependency is not None else "", trigger=trigger,
                retries=opts.retries if "retries" in opts.explicit else None, time_limit=time_limit,
                gpus=opts.gpus if "gpus" in opts.explicit else None, group=opts.group, env=dict(opts.env),
                inputs=opts.inputs, outputs=opts.outputs, no_template=no_template, executor=opts.executor,
                slurm=dict(opts.slurm))

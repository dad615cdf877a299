"""Task templates: a reusable task with a parameter schema (F1-F2).

A template is a command or a script plus a parameter schema (name, type, default, required,
help), fixed environment variables, resources, retries and a time limit::

    command: "python train.py --lr {{params.lr}} --tag {{uuid.uuid4().hex[:4]}}"
    params:
      lr: {type: float, default: 0.01, help: learning rate}

Versions are numbered by the store; here a template is a value: checked once, content-hashed
(so a run snapshots it by value), and a flow's ``template: train@3`` or ``train`` (the latest)
is resolved against a given mapping of versions. Every mistake is one ``InvalidSpec`` line.

The YAML reader and the key checks live here too because templates and flow files share them.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .depspec import TASK_NAME
from .errors import InvalidSpec
from .limits import MAX_NAME
from .timespec import parse_time_limit

PARAM_TYPES = {"str": str, "int": int, "float": float, "bool": bool, "list": list}
_PARAM_KEYS = ("type", "default", "required", "help")
TEMPLATE_KEYS = ("command", "script", "params", "env", "gpus", "retries", "time", "group", "description")
_REF = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)(?:@([0-9]+))?")
_MISSING = object()


def did_you_mean(word: str, choices: Any) -> str:
    """`` (did you mean "x"?)`` for the closest of ``choices``, else ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def check_keys(mapping: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """Unknown keys are a typo until proven otherwise (``retires:`` would silently mean 0 retries)."""
    for key in mapping:
        if key not in allowed:
            raise InvalidSpec(f'Unknown key "{key}" in {where}{did_you_mean(key, allowed)}; '
                              f"expected one of: {', '.join(allowed)}")


def load_yaml(text: str, what: str) -> Any:
    """``yaml.safe_load`` that refuses a repeated key (PyYAML keeps the last one silently)."""
    import yaml  # deferred: only flow files and templates need it

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        _no_duplicate_keys(root, what)
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InvalidSpec(f"{what} is not valid YAML{at}: {problem}") from None


def _no_duplicate_keys(node: Any, what: str) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                line = key.start_mark.line + 1
                if key.value in seen:
                    raise InvalidSpec(f'Duplicate key "{key.value}" in {what} (lines {seen[key.value]} and {line})')
                seen[key.value] = line
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        for item in node.value:
            for sub in item if isinstance(item, tuple) else (item,):
                _no_duplicate_keys(sub, what)


def content_hash(data: Any) -> str:
    """sha256 of the canonical JSON of ``data``: equal values, equal hashes, on any machine."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def type_name(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list"}.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class Param:
    """One template parameter. ``required`` is true exactly when there is no default."""

    name: str
    type: str = "str"
    default: Any = None
    required: bool = True
    help: str = ""

    def check(self, value: Any, where: str) -> Any:
        """``value`` if it is of this type (an int is a float; a str from ``-p`` is converted)."""
        if isinstance(value, str) and self.type != "str":
            value = self._from_text(value, where)
        ok = isinstance(value, PARAM_TYPES[self.type]) and not (isinstance(value, bool) and self.type in ("int", "float"))
        if self.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            raise InvalidSpec(f'Parameter "{self.name}" {where} must be {_a(self.type)}, '
                              f"got {json.dumps(value, default=str)} ({type_name(value)})")
        return list(value) if self.type == "list" else value

    def _from_text(self, text: str, where: str) -> Any:
        try:
            if self.type == "bool" and text.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
                return text.strip().lower() in ("true", "yes", "1")
            if self.type == "int":
                return int(text)
            if self.type == "float":
                return float(text)
            if self.type == "list":
                return [t.strip() for t in text.split(",")] if text.strip() else []
        except ValueError:
            pass
        raise InvalidSpec(f'Parameter "{self.name}" {where} must be {_a(self.type)}, got "{text}"')

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "default": self.default, "required": self.required,
                "help": self.help}


def _a(type_: str) -> str:
    return {"int": "an int", "str": "a str", "float": "a float", "bool": "a bool", "list": "a list"}[type_]


def parse_params(spec: Any, where: str) -> tuple[Param, ...]:
    """A ``params:`` mapping: ``lr: {type: float, default: 0.01, help: ...}``, or ``lr: 0.01``
    (a default whose type is the parameter's type)."""
    if spec is None:
        return ()
    if not isinstance(spec, Mapping):
        raise InvalidSpec(f"params of {where} must be a mapping of NAME: {{type, default, required, help}}")
    out = []
    for name, entry in spec.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidSpec(f'Parameter name "{name}" of {where} must be an identifier (it is used as {{{{params.NAME}}}})')
        here = f'parameter "{name}" of {where}'
        if not isinstance(entry, Mapping):
            entry = {"default": entry}
        check_keys(entry, _PARAM_KEYS, here)
        default = entry.get("default", _MISSING)
        type_ = entry.get("type") or (type_name(default) if default is not _MISSING and default is not None else "str")
        if type_ not in PARAM_TYPES:
            raise InvalidSpec(f'Unknown type "{type_}" of {here}{did_you_mean(type_, PARAM_TYPES)}; '
                              f"expected one of: {', '.join(PARAM_TYPES)}")
        required = entry.get("required", default is _MISSING)
        if not isinstance(required, bool):
            raise InvalidSpec(f"required of {here} must be true or false")
        if required and default is not _MISSING:
            raise InvalidSpec(f"{here[0].upper()}{here[1:]} is required and has a default; keep one of the two")
        param = Param(name, type_, None, required, str(entry.get("help") or ""))
        if default is not _MISSING and default is not None:
            param = Param(name, type_, param.check(default, f"(the default) of {where}"), required, param.help)
        out.append(param)
    return tuple(out)


def check_params(params: tuple[Param, ...], given: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """The values of every parameter: ``given`` checked against the schema, defaults filled in.
    ``where`` names the owner in messages (``of template "train" in task "train"``)."""
    given = dict(given or {})
    names = [p.name for p in params]
    for key in given:
        if key not in names:
            known = f"; it has: {', '.join(names)}" if names else "; it takes no parameters"
            raise InvalidSpec(f'Unknown parameter "{key}" {where}{did_you_mean(key, names)}{known}')
    values = {}
    for p in params:
        if p.name in given:
            values[p.name] = p.check(given[p.name], where)
        elif p.required:
            what = f" ({p.type}{': ' + p.help if p.help else ''})"
            raise InvalidSpec(f'Missing parameter "{p.name}"{what} {where}: add params: {{{p.name}: ...}}')
        else:
            values[p.name] = p.default
    return values


@dataclass(frozen=True)
class Template:
    """A checked template. ``version`` is assigned by the store and is not part of the content."""

    name: str
    command: str | None = None
    script: str | None = None
    params: tuple[Param, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    gpus: int | None = None
    retries: int | None = None
    time_limit: int | str | None = None  # seconds, or "UNLIMITED"; None: not given
    group: str | None = None
    description: str = ""
    version: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "command": self.command, "script": self.script,
                "params": [p.to_dict() for p in self.params], "env": dict(self.env), "gpus": self.gpus,
                "retries": self.retries, "time_limit": self.time_limit, "group": self.group,
                "description": self.description}

    @property
    def hash(self) -> str:
        return content_hash(self.to_dict())

    def values(self, given: Mapping[str, Any] | None, task: str | None = None) -> dict[str, Any]:
        """The parameter values a task gets (``given`` checked, defaults filled in)."""
        where = f'of template "{self.name}"' + (f' in task "{task}"' if task else "")
        return check_params(self.params, given, where)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], version: int | None = None) -> "Template":
        """Back from ``to_dict`` (a stored snapshot)."""
        params = tuple(Param(**p) for p in data.get("params", ()))
        fields_ = {k: v for k, v in data.items() if k != "params"}
        return cls(**fields_, params=params, version=version)


def parse_template(name: str, data: Any, what: str | None = None) -> Template:
    """A template from its YAML text or its mapping (``gpipe template add NAME FILE``)."""
    where = f'template "{name}"'
    if not isinstance(name, str) or not TASK_NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise InvalidSpec(f'Invalid template name "{name}": use letters, digits, "_" and "-", starting with a letter')
    if isinstance(data, str):
        data = load_yaml(data, what or f"{where}'s file")
    if not isinstance(data, Mapping):
        raise InvalidSpec(f"{where} must be a mapping with command: or script: and params:")
    check_keys(data, TEMPLATE_KEYS, where)
    if ("command" in data) == ("script" in data):
        raise InvalidSpec(f"{where} needs exactly one of command: or script:")
    body = data.get("command", data.get("script"))
    if not isinstance(body, str) or not body.strip():
        raise InvalidSpec(f"{'command' if 'command' in data else 'script'} of {where} must be non-empty text")
    env = data.get("env") or {}
    if not isinstance(env, Mapping) or not all(isinstance(k, str) and k.isidentifier() for k in env):
        raise InvalidSpec(f"env of {where} must be a mapping of NAME: value")
    return Template(
        name=name, command=data.get("command"), script=data.get("script"),
        params=parse_params(data.get("params"), where), env={k: str(v) for k, v in env.items()},
        gpus=_count(data.get("gpus"), "gpus", where), retries=_count(data.get("retries"), "retries", where),
        time_limit=time_value(data.get("time"), where), group=data.get("group"),
        description=str(data.get("description") or ""),
    )


def time_value(value: Any, where: str) -> int | str | None:
    """``time:`` in Slurm's formats (a bare number is minutes); ``UNLIMITED`` is kept as the word."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidSpec(f'time of {where} must be a time limit such as "1:00:00", 90 (minutes) or UNLIMITED')
    seconds = parse_time_limit(str(value))
    return "UNLIMITED" if seconds is None else seconds


def _count(value: Any, key: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidSpec(f"{key} of {where} must be a whole number >= 0, got {json.dumps(value, default=str)}")
    return value


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``"train@3"`` is ``("train", 3)``; ``"train"`` is ``("train", None)`` (the latest)."""
    m = _REF.fullmatch(ref.strip()) if isinstance(ref, str) else None
    if not m:
        raise InvalidSpec(f'Invalid template reference "{ref}": expected NAME or NAME@VERSION (train, train@3)')
    return m.group(1), int(m.group(2)) if m.group(2) else None


def resolve(ref: str, versions: Mapping[str, Mapping[int, Template]]) -> Template:
    """The template ``ref`` names among ``versions`` (name -> version -> template)."""
    name, version = parse_ref(ref)
    if name not in versions or not versions[name]:
        raise InvalidSpec(f'Unknown template "{name}"{did_you_mean(name, versions)}; add it with: '
                          f"gpipe template add {name} FILE")
    have = versions[name]
    if version is None:
        version = max(have)
    if version not in have:
        raise InvalidSpec(f'Template "{name}" has no version {version} (versions: {", ".join(map(str, sorted(have)))})')
    found = have[version]
    return found if found.version == version else Template.from_dict(found.to_dict(), version)

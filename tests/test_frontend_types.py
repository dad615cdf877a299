"""The front end's wire types (labextension/src/view/types.ts) agree with openapi.yaml: every field
the view declares for a job, an attempt or a dependency edge is in the document, with a TypeScript
type that accepts every value the document allows (an integer is a number; nullable needs null)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOC = yaml.safe_load((ROOT / "jupyter_jobflow/server/openapi.yaml").read_text())
TYPES = (ROOT / "labextension/src/view/types.ts").read_text()

#: types.ts interface -> openapi schema
CHECKED = {"Job": "Job", "Attempt": "Attempt", "WireEdge": "Edge", "GpuView": "GpuView"}
ALIASES = {"StateCode": {"string"}}


def interface(name: str) -> dict[str, str]:
    """``{field: "its TypeScript type"}`` of ``export interface name { ... }`` (index signatures left out)."""
    body = re.search(rf"export interface {name}(?: extends \w+)? \{{\n(.*?)\n\}}", TYPES, re.S)
    assert body, f"no interface {name} in types.ts"
    fields = {}
    for line in body.group(1).splitlines():
        m = re.fullmatch(r"\s+(\w+)\??: (.+);", line)
        if m:
            fields[m.group(1)] = m.group(2)
    return fields


def ts_kinds(ts: str) -> set[str]:
    """The JSON kinds a TypeScript type accepts."""
    kinds: set[str] = set()
    for part in (p.strip() for p in ts.split("|")):
        if part in ("unknown", "any"):
            return {"integer", "number", "string", "boolean", "array", "object", "null"}
        if part == "number":
            kinds |= {"integer", "number"}
        elif part in ("string", "boolean", "null"):
            kinds.add(part)
        elif re.fullmatch(r"'[^']*'", part):
            kinds.add("string")
        elif part.endswith("[]"):
            kinds.add("array")
        elif part in ALIASES:
            kinds |= ALIASES[part]
        else:  # Record<...> or another interface
            kinds.add("object")
    return kinds


def schema_kinds(schema: dict) -> set[str]:
    """The JSON kinds an OpenAPI schema allows."""
    if "$ref" in schema:
        return schema_kinds(resolve(schema["$ref"]))
    kinds = set().union(*(schema_kinds(s) for s in schema["oneOf"])) if "oneOf" in schema else {schema["type"]}
    return kinds | ({"null"} if schema.get("nullable") else set())


def resolve(ref: str) -> dict:
    node = DOC
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_field_the_view_reads_is_in_the_document_with_a_type_it_accepts():
    problems = []
    for ts_name, schema_name in CHECKED.items():
        props = DOC["components"]["schemas"][schema_name]["properties"]
        for field, ts in interface(ts_name).items():
            if field not in props:
                problems.append(f"{ts_name}.{field} is not in openapi.yaml's {schema_name}")
            elif not schema_kinds(props[field]) <= ts_kinds(ts):
                problems.append(f"{ts_name}.{field}: {ts} does not accept {sorted(schema_kinds(props[field]))}")
    assert not problems, "\n".join(problems)


def test_the_check_itself_reads_types_ts():
    """A parser that reads nothing would pass everything: the job's core fields are seen."""
    job = interface("Job")
    assert {"id", "code", "dependency", "edges", "started_at"} <= set(job)
    assert ts_kinds(job["started_at"]) == {"integer", "number", "null"}
    assert not schema_kinds({"type": "integer", "nullable": True}) <= ts_kinds("number")

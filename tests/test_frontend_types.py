"""The front end's wire types (labextension/src/view/types.ts) agree with openapi.yaml: every field
the view declares for a job, an attempt or a dependency edge is in the document, with a TypeScript
type that accepts every value the document allows (an integer is a number; nullable needs null).
The flow types (a flow, a run, a run's task), which the document describes as plain objects, are
checked against what the service's flow verbs (the routes' bodies) really send for a run that failed."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOC = yaml.safe_load((ROOT / "jupyter_jobflow/server/openapi.yaml").read_text())
TYPES = (ROOT / "labextension/src/view/types.ts").read_text()

#: types.ts interface -> openapi schema
CHECKED = {"Job": "Job", "Attempt": "Attempt", "WireEdge": "Edge", "GpuView": "GpuView"}
ALIASES = {"StateCode": {"string"}, "RunState": {"string"}}


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


def json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}[type(value)]


def test_the_flow_types_hold_what_the_flow_routes_send(service):
    """GET flows, GET runs (and the runs topic: the same summary), GET runs/{id} and its tasks."""
    from server_support import wait_for_job

    service.save_flow("etl", "tasks:\n  prep: {command: 'true'}\n  train: {command: 'exit 3', depends: prep}\n")
    run_id = service.create_run("etl")["run_id"]
    train = next(t for t in service.run(run_id)["tasks"] if t["name"] == "train")
    wait_for_job(service, train["job_id"], "Failed")
    shown = service.run(run_id)
    detail = {k: v for k, v in shown.items() if k != "tasks"}  # RunDetail: a RunSummary whose tasks are listed
    samples = [("FlowSummary", service.flows()), ("RunSummary", service.runs("etl")), ("RunSummary", [detail]),
               ("RunTask", shown["tasks"])]
    problems = []
    for ts_name, replies in samples:
        assert replies, f"no {ts_name} to check"
        for field, ts in interface(ts_name).items():
            for reply in replies:
                if field == "tasks" and reply is detail:
                    continue
                if field not in reply:
                    problems.append(f"{ts_name}.{field} is not in the reply {sorted(reply)}")
                elif json_kind(reply[field]) not in ts_kinds(ts):
                    problems.append(f"{ts_name}.{field}: {ts} does not accept {reply[field]!r}")
    assert not problems, "\n".join(problems)
    assert [t["state"] for t in shown["tasks"]] == ["Finished", "Failed"] and shown["state"] == "Failed"


def test_the_check_itself_reads_types_ts():
    """A parser that reads nothing would pass everything: the job's core fields are seen."""
    assert {"run_id", "state", "reason", "started_at"} <= set(interface("RunSummary"))
    assert {"name", "parents", "job_id", "attempts"} <= set(interface("RunTask"))
    job = interface("Job")
    assert {"id", "code", "dependency", "edges", "started_at"} <= set(job)
    assert ts_kinds(job["started_at"]) == {"integer", "number", "null"}
    assert not schema_kinds({"type": "integer", "nullable": True}) <= ts_kinds("number")

"""The OpenAPI document and docs/api.md describe exactly the routes and fields the handlers serve."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from jupyter_jobflow.server import parsing
from jupyter_jobflow.server.auth import TOKEN
from jupyter_jobflow.server.routes import VERBS, make_handlers

ROOT = Path(__file__).resolve().parent.parent
DOC = yaml.safe_load((ROOT / "jupyter_jobflow/server/openapi.yaml").read_text())


def served() -> dict[str, set[str]]:
    """``{"/jobs/{job_id}": {"get", "patch"}, ...}`` from the handler table (the catch-all left out)."""
    out = {}
    for pattern, cls in make_handlers("", TOKEN):
        if pattern.endswith("(.*)"):
            continue
        out[re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)] = {v for v in VERBS if v in vars(cls)}
    return out


def test_every_route_and_verb_is_in_the_openapi_document_and_nothing_else():
    documented = {path: set(ops) & set(VERBS) for path, ops in DOC["paths"].items()}
    assert documented == served()


def test_request_schemas_list_exactly_the_fields_the_server_accepts():
    schemas = DOC["components"]["schemas"]
    assert set(schemas["Submit"]["properties"]) == set(parsing.SUBMIT_FIELDS)
    patch = DOC["paths"]["/jobs/{job_id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(patch["properties"]) == set(parsing.UPDATE_FIELDS)
    redo = DOC["paths"]["/jobs/{job_id}/redo"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(redo["properties"]) == set(parsing.REDO_FIELDS)


def test_every_reference_resolves():
    text = (ROOT / "jupyter_jobflow/server/openapi.yaml").read_text()
    for ref in set(re.findall(r'\$ref: "#/([^"]+)"', text)):
        node = DOC
        for part in ref.split("/"):
            node = node[part]


def test_docs_api_md_lists_every_route():
    table = (ROOT / "docs/api.md").read_text()
    for path, verbs in served().items():
        doc_path = path.lstrip("/").replace("{job_id}", "{id}")
        for verb in verbs:
            assert re.search(rf"\| {verb.upper()}[^|]* \| `{re.escape(doc_path)}` \|", table), (verb, doc_path)


def test_a_submitted_jobs_dependency_comes_as_structured_edges_the_document_describes(daemon):
    """The front end draws `edges` and never parses the dependency grammar: AND-ed conditions get
    a group each, an OR-group shares one, a delay is seconds, `singleton` is its own field."""
    a, b = (daemon.ok("POST", "jobs", {"command": ["true"], "hold": True})["id"] for _ in range(2))
    both = daemon.ok("POST", "jobs", {"command": ["true"], "dependency": f"singleton,afterok:{a},afterany:{b}+10m"})
    either = daemon.ok("POST", "jobs", {"command": ["true"], "dependency": f"afterok:{a}?afternotok:{b}"})
    alone = daemon.ok("POST", "jobs", {"command": ["true"]})
    listed = {j["id"]: j for j in daemon.ok("GET", "jobs")["jobs"]}
    got = daemon.ok("GET", f"jobs/{both['id']}")["job"]
    assert got["dependency"] == f"singleton,afterok:{a},afterany:{b}+00:10:00"  # the text stays, for display
    assert (got["edges"], got["singleton"]) == ([
        {"parent": a, "type": "afterok", "delay": None, "group": 0},
        {"parent": b, "type": "afterany", "delay": 600, "group": 1}], True)
    assert listed[either["id"]]["edges"] == [
        {"parent": a, "type": "afterok", "delay": None, "group": 0},
        {"parent": b, "type": "afternotok", "delay": None, "group": 0}]
    assert (listed[alone["id"]]["edges"], listed[alone["id"]]["singleton"]) == ([], False)
    edge = DOC["components"]["schemas"]["Edge"]
    job_props = DOC["components"]["schemas"]["Job"]["properties"]
    assert job_props["edges"]["items"]["$ref"] == "#/components/schemas/Edge" and "singleton" in job_props
    for e in got["edges"] + listed[either["id"]]["edges"]:
        assert set(e) == set(edge["properties"]) == set(edge["required"])
        assert e["type"] in edge["properties"]["type"]["enum"]

"""The REST API reference, generated from ``jupyter_jobflow/server/openapi.yaml`` (the spec the
server's tests check the handlers against): every path and method, its parameters, request body
and responses, then the shared schemas. A small renderer of our own: sphinxcontrib-openapi pulls
in an HTTP domain and lags Sphinx releases, and our spec needs only this much."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SPEC = Path(__file__).resolve().parents[2] / "jupyter_jobflow" / "server" / "openapi.yaml"
METHODS = ("get", "put", "post", "patch", "delete")


def load() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text())


def _cell(text: Any) -> str:
    """Text for one table cell or line: one line, pipes escaped, no stray HTML (``<id>``)."""
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "\\<")


def _target(ref: str) -> str:
    """``#/components/schemas/Job`` -> ``api-schema-job``; responses -> ``api-response-...``."""
    kind = "response" if "/responses/" in ref else "schema"
    return f"api-{kind}-" + ref.rsplit("/", 1)[1].lower()


class Renderer:
    def __init__(self, spec: dict[str, Any]):
        self.spec = spec

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            found: Any = self.spec
            for part in node["$ref"].lstrip("#/").split("/"):
                found = found[part]
            node = found
        return node

    def type_of(self, schema: dict[str, Any]) -> str:
        """One line: ``integer``, ``array of Job``, ``string (one of: a, b)``, ``A or B``."""
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref.startswith("#/components/schemas/"):
                return f"{{ref}}`{ref.rsplit('/', 1)[1]} <{_target(ref)}>`"
            return self.type_of(self.resolve(schema))
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return " or ".join(self.type_of(s) for s in schema[key])
        kind = schema.get("type", "any")
        if kind == "array":
            kind = f"array of {self.type_of(schema.get('items', {}))}"
        elif kind == "object" and "additionalProperties" in schema and not schema.get("properties"):
            extra = schema["additionalProperties"]
            kind = f"object of {self.type_of(extra)}" if isinstance(extra, dict) else "object"
        if schema.get("format"):
            kind += f" ({schema['format']})"
        if "enum" in schema:
            kind += " (one of: " + ", ".join(f"`{v}`" for v in schema["enum"]) + ")"
        if schema.get("nullable"):
            kind += " or null"
        return kind

    def notes(self, schema: dict[str, Any]) -> str:
        parts = [_cell(schema["description"])] if schema.get("description") else []
        for key in ("default", "example", "minimum"):
            if key in schema:
                parts.append(f"{key}: `{schema[key]}`")
        return "; ".join(parts)

    def fields(self, schema: dict[str, Any], prefix: str = "", depth: int = 0) -> list[str]:
        """Table rows for an object's properties; inline objects (and arrays of them) are unfolded
        with dotted names (``dependents[].outcome``)."""
        rows = []
        required = set(schema.get("required", ()))
        for name, prop in (schema.get("properties") or {}).items():
            rows.append(f"| `{prefix}{name}` | {self.type_of(prop)} | {'yes' if name in required else ''} "
                        f"| {self.notes(prop)} |")
            inner, suffix = prop, ""
            if prop.get("type") == "array" and "$ref" not in prop.get("items", {}):
                inner, suffix = prop.get("items", {}), "[]"
            if depth < 3 and "$ref" not in inner and inner.get("properties"):
                rows += self.fields(inner, f"{prefix}{name}{suffix}.", depth + 1)
        return rows

    def schema_block(self, schema: dict[str, Any]) -> list[str]:
        if "$ref" not in schema and schema.get("properties"):
            return ["| Field | Type | Required | Notes |", "|---|---|---|---|", *self.fields(schema), ""]
        lines = [f"{self.type_of(schema)}" + (f": {self.notes(schema)}" if self.notes(schema) else ""), ""]
        for key in ("oneOf", "anyOf"):
            for i, alt in enumerate(schema.get(key, ()), 1):
                if "$ref" not in alt and alt.get("properties"):
                    lines += [f"Form {i}, an object:", "", *self.schema_block(alt)]
        return lines

    def operation(self, path: str, method: str, op: dict[str, Any], shared: list[dict[str, Any]]) -> list[str]:
        lines = [f"### `{method.upper()} {path}`", ""]
        if op.get("summary"):
            lines += [_cell(op["summary"]), ""]
        if op.get("description"):
            lines += ["```text", op["description"].rstrip(), "```", ""]
        params = [self.resolve(p) for p in [*shared, *op.get("parameters", ())]]
        if params:
            lines += ["| Parameter | In | Type | Required | Notes |", "|---|---|---|---|---|"]
            lines += [f"| `{p['name']}` | {p['in']} | {self.type_of(p.get('schema', {}))} | "
                      f"{'yes' if p.get('required') else ''} | "
                      f"{'; '.join(x for x in (_cell(p.get('description', '')), self.notes(p.get('schema', {}))) if x)} |"
                      for p in params]
            lines.append("")
        body = op.get("requestBody")
        if body:
            body = self.resolve(body)
            for media, content in body.get("content", {}).items():
                lines += [f"**Request body** ({media}{', required' if body.get('required') else ''}):", ""]
                lines += self.schema_block(content.get("schema", {}))
        for status, response in op.get("responses", {}).items():
            if "$ref" in response:  # a shared response: described once, under Responses
                lines += [f"**{status}**: {{ref}}`{response['$ref'].rsplit('/', 1)[1]} <{_target(response['$ref'])}>`", ""]
            else:
                lines += self.response(f"**{status}**", response)
        return lines

    def response(self, title: str, response: dict[str, Any]) -> list[str]:
        lines = [f"{title}: {_cell(response.get('description', ''))}", ""]
        for header, spec in (response.get("headers") or {}).items():
            lines += [f"Header `{header}`: {self.type_of(spec.get('schema', {}))}; {self.notes(spec)}", ""]
        for content in (response.get("content") or {}).values():
            if content.get("schema"):
                lines += self.schema_block(content["schema"])
        return lines

    def operations(self) -> list[tuple[str, str]]:
        return [(path, method) for path, item in self.spec["paths"].items() for method in METHODS if method in item]

    def markdown(self) -> str:
        info = self.spec["info"]
        lines = [f"Generated from `jupyter_jobflow/server/openapi.yaml` (OpenAPI {self.spec['openapi']}, "
                 f"{info['title']} {info['version']}). The prose (events, errors, flows) is "
                 "[the API guide](../api.md).", "", "```text", info.get("description", "").rstrip(), "```", "",
                 "## Authentication", ""]
        for name, scheme in self.spec["components"].get("securitySchemes", {}).items():
            lines.append(f"- `{name}`: {scheme['type']} in the {scheme['in']} `{scheme['name']}`"
                         + (f" ({_cell(scheme['description'])})" if scheme.get("description") else ""))
        lines += ["", "## Endpoints", ""]
        for path, item in self.spec["paths"].items():
            for method in METHODS:
                if method in item:
                    lines += self.operation(path, method, item[method], item.get("parameters", []))
        lines += ["## Responses", ""]
        for name, response in self.spec["components"].get("responses", {}).items():
            lines += [f"({_target('#/components/responses/' + name)})=", f"### `{name}`", ""]
            lines += self.response("Response", response)
        lines += ["## Schemas", ""]
        for name, schema in self.spec["components"]["schemas"].items():
            lines += [f"({_target('#/components/schemas/' + name)})=", f"### `{name}`", ""]
            lines += self.schema_block(schema)
        return "\n".join(lines) + "\n"


def markdown() -> str:
    return Renderer(load()).markdown()

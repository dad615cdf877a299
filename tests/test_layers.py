"""The package's layering (docs/architecture.md, "Modules"): a module imports from its own layer and
the layers below it, never from one above, and the modules import each other without a cycle.

Every import counts, also those inside functions (they are how a light module defers a heavy one,
not a way around the layering)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "jupyter_jobflow"
#: lower first; a layer may import any layer with a smaller rank, and two layers of the same rank
#: may not import each other
RANK = {"core": 0, "client": 1, "gpu": 1, "engine": 2, "server": 3, "cli": 4, "notebook": 5}
#: the package's entry points, which name the layers for others (lazily): not part of any layer
ENTRY = {"jupyter_jobflow", "jupyter_jobflow.cellrunner"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str | None = None) -> set[str]:
    """The package's modules that ``path`` imports (``from . import x`` names the module ``x``);
    ``name``: the module's name, when the file is not in the package."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("jupyter_jobflow"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("jupyter_jobflow"):
                target = node.module
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def test_every_module_belongs_to_a_layer():
    assert sorted(m for m in MODULES if layer(m) is None and m not in ENTRY) == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m not in ENTRY))
def test_no_module_imports_a_layer_above_its_own(module):
    own = layer(module)
    wrong = sorted(target for target in imports(MODULES[module])
                   if target not in ENTRY and layer(target) != own
                   and (layer(target) is None or RANK[layer(target)] >= RANK[own]))
    assert wrong == [], f"{module} ({own}) imports from a layer that is not below it"


def test_the_import_graph_has_no_cycle():
    graph = {m: {t for t in imports(p) if t in MODULES and t not in ENTRY and t != m}
             for m, p in MODULES.items() if m not in ENTRY}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(node):] + [node]))
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, path + [node])
        done.add(node)

    for module in sorted(graph):
        visit(module, [])


def test_the_checker_sees_a_violation(tmp_path):
    """A core module importing the engine, in a function, is seen (the rule above can fail)."""
    fake = tmp_path / "model.py"
    fake.write_text((PACKAGE / "core" / "model.py").read_text() + "\n\ndef f():\n    from ..engine import store\n")
    found = imports(fake, "jupyter_jobflow.core.model")
    assert "jupyter_jobflow.engine.store" in found and layer("jupyter_jobflow.engine.store") == "engine"

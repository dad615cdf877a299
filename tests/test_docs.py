"""docs/architecture.md stays true: every module it names exists, every module is named."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_architecture_names_every_module_and_only_real_ones():
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`(jupyter_jobflow/[\w/]+\.py)`", text))
    real = {str(p.relative_to(ROOT)) for p in (ROOT / "jupyter_jobflow").rglob("*.py")}
    assert sorted(named - real) == [], "named in docs/architecture.md but missing"
    assert sorted(real - named) == [], "modules missing from docs/architecture.md"


def test_readme_quick_start_has_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "./dev start" in readme and "./dev test" in readme
    assert "./dev test" in (ROOT / ".ci" / "run").read_text().replace("exec ./dev test", "./dev test")


# --- docs/rules.md stays true, and the docs stand on their own ----------------------------------

import importlib  # noqa: E402

RULES = ROOT / "docs" / "rules.md"
PACKAGE = ROOT / "jupyter_jobflow"


def _module(name):
    """A core module wherever the package keeps it (``core/`` after the layering, flat before)."""
    for path in (f"jupyter_jobflow.core.{name}", f"jupyter_jobflow.{name}"):
        try:
            return importlib.import_module(path)
        except ModuleNotFoundError:
            continue
    raise ModuleNotFoundError(name)


def _named(text):
    """Every word written as code (`like_this`) in a markdown text."""
    return set(re.findall(r"`([^`\n]+)`", text))


def _reason_kinds():
    """Every reason kind the package can give a job: built with ``Reason("Kind"...)`` anywhere,
    or given a display in the model."""
    kinds = set(_module("model")._REASON_DISPLAY) | set(_module("model").CELL_REASONS)
    for path in PACKAGE.rglob("*.py"):
        kinds |= set(re.findall(r"\bReason\(\s*[\"'](\w+)[\"']", path.read_text()))
    return kinds


def test_rules_name_every_state_with_its_code():
    named = _named(RULES.read_text())
    for state in _module("model").JobState:
        assert state.value in named and state.code in named, f"docs/rules.md does not name {state.value} ({state.code})"


def test_rules_name_every_reason_and_only_real_ones():
    text = RULES.read_text()
    kinds = _reason_kinds()
    assert {"DependencyFailed", "Lost", "TimeLimit"} <= kinds  # the scan finds them
    assert sorted(kinds - _named(text)) == [], "reasons missing from docs/rules.md"
    table = text.split("## Reasons", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    assert sorted(listed - kinds) == [], "docs/rules.md's reason table names reasons the code never gives"


def test_rules_name_every_dependency_type_and_each_one_listed_parses():
    depspec = _module("depspec")
    text = RULES.read_text()
    named = _named(text)
    for ctype in (*depspec.CONDITION_TYPES, "singleton"):
        assert ctype in named, f"docs/rules.md does not name the dependency type {ctype}"
    table = text.split("### Types", 1)[1].split("\n### ", 1)[0]
    listed = re.findall(r"^\| `(\w+)` \|", table, re.M)
    assert listed
    for ctype in listed:
        depspec.parse("singleton" if ctype == "singleton" else f"{ctype}:1")


def test_rules_examples_of_dependencies_parse():
    depspec = _module("depspec")
    for example in ("afterok:12", "afterok:12:13", "afterok:12+10m?afternotok:13", "singleton,afterany:5",
                    "afterok:100+01:30:00", "afterok:100+90:101", "afterok:12+00:10:00,afterany:5"):
        assert example in RULES.read_text()
        depspec.parse(example)


# Anything that points outside the repository: the design notes and the research it started from.
OUTSIDE = re.compile(r"\.\./shared|/work/shared|shared/spec|semantics\.md|DESIGN\.md|seed-req|§"
                     r"|\bspec (?:[A-Z]-?[0-9]|Part [0-9])")


def _shipped_texts():
    yield ROOT / "README.md"
    yield from sorted((ROOT / "docs").glob("*.md"))
    yield from sorted((ROOT / "notebooks").glob("*.ipynb"))
    yield from sorted(PACKAGE.rglob("*.py"))
    yield from sorted((ROOT / "labextension" / "src").rglob("*.ts"))


def test_nothing_points_outside_the_repository():
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in _shipped_texts()
             for n, line in enumerate(path.read_text().splitlines(), 1) if OUTSIDE.search(line)]
    assert found == [], "references to files outside the repository (link docs/rules.md instead)"


def _slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _links(path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # links in code blocks are examples
    return re.findall(r"\[[^\]\n]*\]\(([^)\s]+)\)", text)


def test_every_relative_link_in_readme_and_docs_resolves():
    broken = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for link in _links(path):
            if re.match(r"[a-z]+:", link):
                continue  # http:, https:, mailto:
            target, _, anchor = link.partition("#")
            dest = (path.parent / target).resolve() if target else path
            if not dest.exists():
                broken.append(f"{path.relative_to(ROOT)}: {link} (no such file)")
            elif anchor and dest.suffix == ".md":
                anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", dest.read_text(), re.M)}
                if anchor not in anchors:
                    broken.append(f"{path.relative_to(ROOT)}: {link} (no such heading)")
    assert broken == []

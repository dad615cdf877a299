"""Sphinx glue for the site (docs/conf.py): before reading, write the generated pages (the command
reference, the REST API reference, the tutorials copied from notebooks/); the ``jobflow-traitlets``
directive puts the server extension's configurable traits on the configuration page.
Generated files live in gitignored folders (reference/, tutorials/) and are rewritten only when
their text changes, so an incremental build stays incremental."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
GENERATED = ("reference", "tutorials")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _tutorial(source: Path) -> str:
    """A notebook's text as the site shows it: links into docs/ are relative to notebooks/ in the
    repository (``../docs/rules.md``) and to docs/tutorials/ in the site (``../rules.md``); the
    code is highlighted as IPython."""
    nb = json.loads(source.read_text())
    # the cells are IPython (``x = %gbatch ...``): highlight them so, whatever the saved metadata says
    nb.setdefault("metadata", {}).setdefault("language_info", {"name": "python"})["pygments_lexer"] = "ipython3"
    for cell in nb.get("cells", ()):
        if cell.get("cell_type") == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = text.replace("](../docs/", "](../").replace("](../README.md)", "](../index.md)")
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


# Links from docs/*.md to repository files that the site shows as pages of its own. On GitHub the
# link opens the file (the notebooks folder, the parsers, the spec); in the site, the page made
# from it. Any other link out of docs/ is left alone and fails the build.
SITE_PAGES = {
    "../notebooks/": "tutorials/index.md",
    "../jupyter_jobflow/cli/": "reference/commands.md",
    "../jupyter_jobflow/server/openapi.yaml": "reference/rest-api.md",
    "../README.md": "index.md",
}


def _site_links(app: Any, docname: str, source: list[str]) -> None:
    if "/" in docname:
        return
    text = source[0]
    for repo_path, page in SITE_PAGES.items():
        text = text.replace(f"]({repo_path})", f"]({page})")
    source[0] = re.sub(r"\]\(\.\./notebooks/(\d\d-[\w-]+\.ipynb)", r"](tutorials/\1", text)


def tutorials() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def generate(app: Any = None) -> None:
    from jobflow_cli import markdown as cli_markdown
    from jobflow_openapi import markdown as api_markdown

    _write(DOCS / "reference" / "commands.md",
           "# Command reference\n\nGenerated from the commands' own parsers (what `--help` prints), the "
           "magics included; [the commands guide](../commands.md) says where gflow and Slurm spellings are "
           "taken or refused.\n\n" + cli_markdown())
    _write(DOCS / "reference" / "rest-api.md", "# REST API reference\n\n" + api_markdown())
    out = DOCS / "tutorials"
    names = []
    for source in tutorials():
        _write(out / source.name, _tutorial(source))
        names.append(source.stem)
    for stale in out.glob("*.ipynb"):
        if stale.stem not in names:
            stale.unlink()
    _write(out / "index.md", "# Tutorials\n\nEach tutorial is a notebook in the repository's `notebooks/` "
           "folder; run it in JupyterLab (`./dev start` opens the first) to see its jobs run. They are shown "
           "here as saved, without running them.\n\n```{toctree}\n:maxdepth: 1\n\n" + "\n".join(names) + "\n```\n")


def traitlets_markdown() -> str:
    """Every configurable trait of the server extension: name, type, default, help."""
    from jupyter_jobflow.server.app import JobflowApp

    rows = ["| Option | Type | Default | Meaning |", "|---|---|---|---|"]
    for name, trait in sorted(JobflowApp.class_traits(config=True).items()):
        if name in _INHERITED:
            continue
        try:
            default = trait.default()
        except Exception:  # a dynamic default (@default) reads the environment
            default = None
        dynamic = name in getattr(JobflowApp, "_trait_default_generators", {})
        shown = "(from the environment)" if dynamic else f"`{default!r}`"
        help_text = " ".join((trait.help or "").split()).replace("|", "\\|")
        rows.append(f"| `c.JobflowApp.{name}` | {type(trait).__name__} | {shown} | {help_text} |")
    return "\n".join(rows) + "\n"


def _inherited() -> set[str]:
    from jupyter_server.extension.application import ExtensionApp

    return set(ExtensionApp.class_traits(config=True))


_INHERITED: set[str] = set()


class TraitletsDirective(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        box = nodes.container()
        self.state.nested_parse(StringList(traitlets_markdown().splitlines(), source="jupyter_jobflow/server/app.py"),
                                self.content_offset, box)
        return box.children


def setup(app: Any) -> dict[str, Any]:
    _INHERITED.update(_inherited())
    app.connect("builder-inited", generate)
    app.connect("source-read", _site_links)
    app.add_directive("jobflow-traitlets", TraitletsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

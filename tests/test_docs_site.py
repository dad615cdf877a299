"""The documentation site builds (Sphinx, warnings are errors, so a broken link between pages or a
bad reference fails), its links stay inside the site or go to public https sites, and the
configuration page names every environment variable the code reads and every trait the server
extension takes. Nothing is fetched: CI has no internet, so external links are checked by form."""

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

PRIVATE_HOSTS = re.compile(r"^(localhost|127\.|0\.0\.0\.0|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|\[?::1\]?$)|\.local$")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)
            elif name in ("id", "name") and value:
                self.ids.add(value)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(errors="replace"))
    return parser


def bad_links(out: Path) -> list[str]:
    """Every link of every page that is not fine: an external one that is not https to a public
    host, or a local one whose file (or anchor in it) is not in the built site."""
    # _static/ holds the theme's own files (one is a template, not a page)
    pages = {p: _parse(p) for p in out.rglob("*.html") if "_static" not in p.relative_to(out).parts}
    bad = []
    for page, parsed in pages.items():
        where = page.relative_to(out)
        for link in parsed.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https", "ftp", "file") or link.startswith("//"):
                host = (parts.hostname or "").lower()
                if parts.scheme != "https" or not host or PRIVATE_HOSTS.search(host):
                    bad.append(f"{where}: {link} (only https links to public sites)")
                continue
            if parts.scheme in ("mailto", "data", "javascript"):
                if parts.scheme == "javascript":
                    bad.append(f"{where}: {link}")
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.is_relative_to(out.resolve()):
                bad.append(f"{where}: {link} (leaves the site)")
            elif not target.exists():
                bad.append(f"{where}: {link} (no such file in the site)")
            elif parts.fragment and target.suffix == ".html":
                ids = (pages.get(target) or _parse(target)).ids
                if unquote(parts.fragment) not in ids:
                    bad.append(f"{where}: {link} (no such anchor)")
    return bad


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-n", "-q",
                            "-d", str(out / ".doctrees"), str(DOCS), str(out / "html")],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, f"the docs build failed:\n{build.stderr[-6000:]}"
    return out / "html"


def test_the_site_builds_with_every_page(site: Path):
    for page in ("index", "getting-started", "rules", "commands", "notebooks", "flows", "schedules", "slurm",
                 "api", "configuration", "operations", "security", "architecture",
                 "reference/commands", "reference/rest-api", "tutorials/index"):
        assert (site / f"{page}.html").exists(), f"{page} missing from the site"
    tutorials = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert tutorials and all((site / "tutorials" / f"{t}.html").exists() for t in tutorials)
    index = (site / "tutorials" / "index.html").read_text()
    assert all(f'href="{t}.html"' in index for t in tutorials)


def test_every_link_in_the_site_resolves_or_goes_to_a_public_https_site(site: Path):
    assert bad_links(site) == []


def test_the_link_check_finds_what_it_must(tmp_path: Path):
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a href="b.html#nowhere">b</a><a href="#top">up</a>'
                                     '<a href="http://localhost:8888/lab">lab</a><a href="file:///etc/passwd">f</a>'
                                     '<a href="../shared/spec/x.md">x</a><a href="https://jupyter.org">ok</a>'
                                     '<a href="https://127.0.0.1/x">ip</a><a href="missing.html">m</a>')
    (tmp_path / "b.html").write_text('<p id="here">B</p><a href="a.html#top">a</a>')
    assert [line.split(": ", 1)[1] for line in bad_links(tmp_path)] == [
        "b.html#nowhere (no such anchor)",
        "http://localhost:8888/lab (only https links to public sites)",
        "file:///etc/passwd (only https links to public sites)",
        "../shared/spec/x.md (leaves the site)",
        "https://127.0.0.1/x (only https links to public sites)",
        "missing.html (no such file in the site)",
    ]


def test_the_generated_references_are_in_the_site(site: Path):
    commands = (site / "reference" / "commands.html").read_text()
    for text in ("--depends-on-any", "--max-active-runs", "--older-than", "%gresult", "--prefix"):
        assert text in commands
    api = re.sub(r"<[^>]+>", "", (site / "reference" / "rest-api.html").read_text())
    assert "GET /jobs" in api and "POST /runs/{run_id}/mark-success" in api and 'id="api-schema-job"' in (site / "reference" / "rest-api.html").read_text()
    config = (site / "configuration.html").read_text()
    assert "c.JobflowApp.retention" in config and "c.JobflowApp.default_executor" in config


# --- configuration: every environment variable and every trait ---------------------------------

PACKAGE = ROOT / "jupyter_jobflow"


def env_vars_read() -> set[str]:
    """Every JOBFLOW_* name the package's Python source mentions (reads, sets for jobs, or tells
    the user about)."""
    return {name for path in PACKAGE.rglob("*.py") for name in re.findall(r"\bJOBFLOW_[A-Z_]*[A-Z]", path.read_text())}


def undocumented_env(names: set[str], page: str) -> list[str]:
    return sorted(n for n in names if not re.search(rf"`{n}`", page))


def test_the_configuration_page_names_every_environment_variable():
    names = env_vars_read()
    assert {"JOBFLOW_HOME", "JOBFLOW_SIMULATED_GPUS", "JOBFLOW_EXECUTOR", "JOBFLOW_RETENTION"} <= names
    page = (DOCS / "configuration.md").read_text()
    assert undocumented_env(names, page) == [], "add them to docs/configuration.md"
    assert undocumented_env(names | {"JOBFLOW_NEW_KNOB"}, page) == ["JOBFLOW_NEW_KNOB"]
    for other in ("SLURM_CONF", "CUDA_VISIBLE_DEVICES", "JUPYTER_DATA_DIR"):
        assert f"`{other}`" in page or f"(`${other}`" in page


def traits_without_help(cls: type) -> list[str]:
    return sorted(name for name, trait in cls.class_own_traits(config=True).items() if not (trait.help or "").strip())


def test_every_trait_of_the_server_extension_has_help_and_is_on_the_page():
    import jobflow_docs
    import traitlets

    from jupyter_jobflow.server.app import JobflowApp

    assert traits_without_help(JobflowApp) == []
    table = jobflow_docs.traitlets_markdown()
    own = set(JobflowApp.class_own_traits(config=True))
    assert {"state_dir", "retention", "default_executor"} <= own
    assert all(f"`c.JobflowApp.{name}`" in table for name in own)

    class Later(JobflowApp):  # a trait added without help fails the check
        new_knob = traitlets.Int(3).tag(config=True)

    assert traits_without_help(Later) == ["new_knob"]


def test_the_configuration_page_names_every_jupyterlab_setting():
    page = (DOCS / "configuration.md").read_text()
    schemas = sorted((ROOT / "labextension" / "schema").glob("*.json"))
    settings = {name: spec for path in schemas for name, spec in json.loads(path.read_text())["properties"].items()}
    assert "notifications" in settings
    for name, spec in settings.items():
        row = next((line for line in page.splitlines() if line.startswith(f"| `{name}`")), None)
        assert row is not None, f"add the JupyterLab setting {name} to docs/configuration.md"
        assert f"`{spec['default']}`" in row and all(f"`{choice}`" in row for choice in spec.get("enum", ()))

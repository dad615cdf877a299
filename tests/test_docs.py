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

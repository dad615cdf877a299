"""Small modules: a Python or TypeScript module over ~350 lines says at its top why it is long
("Long because: ..."), so that growing past the size is a decision, not an accident."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MOST = 360  # "~350": a few lines of slack, not a second threshold
SOURCES = sorted([*ROOT.joinpath("jupyter_jobflow").rglob("*.py"), *ROOT.joinpath("labextension/src").rglob("*.ts")])


def head(path: Path) -> str:
    """The module's docstring or first comment block: where a reader looks first."""
    text = path.read_text()
    end = text.find('"""', 3) if path.suffix == ".py" else text.find("*/")
    return text[:end] if end > 0 else ""


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_long_module_says_why_at_its_top(path):
    lines = len(path.read_text().splitlines())
    if lines > MOST:
        assert "Long because:" in head(path), f"{lines} lines: split it, or say at its top why it is long"


def test_the_check_reads_the_top_of_a_module(tmp_path):
    long = tmp_path / "long.py"
    long.write_text('"""A module.\n\nLong because: a reason.\n"""\n' + "x = 1\n" * 400)
    short = tmp_path / "short.py"
    short.write_text('"""A module."""\n' + "x = 1\n" * 400 + '"""Long because: too late."""\n')
    assert "Long because:" in head(long) and "Long because:" not in head(short)

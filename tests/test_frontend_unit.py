"""The TypeScript unit tests (labextension/test/, `jlpm test`: esbuild bundles them for node, then
`node --test`) run with the Python suite, so CI fails when the view's layout, store or edges break."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parent.parent / "labextension"


def test_the_typescript_unit_tests_pass():
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the TypeScript unit tests need it")
    # jlpm comes with jupyterlab (a test dependency), next to this Python
    jlpm = shutil.which("jlpm", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert jlpm, "jlpm not found: install the test extras (pip install -e '.[test]')"
    assert (LAB / "node_modules/.bin/esbuild").exists(), "labextension/node_modules is missing: run `jlpm install` in labextension/"
    run = subprocess.run([jlpm, "test"], cwd=LAB, capture_output=True, text=True, timeout=240)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-6000:]
    assert "# fail 0" in report and "# pass " in report, report[-2000:]

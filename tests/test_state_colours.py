"""State colours have one definition (jupyter_jobflow/core/states.json): the notebook's queue table, the
widget's saved snapshot and the panel's CSS all take theirs from it, and every state has one."""

from __future__ import annotations

import json
import re
from pathlib import Path

from jupyter_jobflow.cli import render
from jupyter_jobflow.core.model import Job, JobState
from jupyter_jobflow.core.wire import job_to_json
from jupyter_jobflow.notebook import snapshot

ROOT = Path(__file__).resolve().parent.parent
STYLES = json.loads((ROOT / "jupyter_jobflow/core/states.json").read_text())


def test_every_state_has_a_colour_and_a_tint_light_and_dark_and_nothing_else_is_listed():
    assert set(STYLES) == {state.code for state in JobState}
    for code, style in STYLES.items():
        assert re.fullmatch(r"#[0-9a-f]{6}", style["colour"]), code
        assert re.fullmatch(r"rgba\(\d+, \d+, \d+, 0\.\d+\)", style["tint"]), code
        assert re.fullmatch(r"#[0-9a-f]{6}", style["dark"]["colour"]) and style["dark"]["tint"].startswith("rgba("), code


def test_the_queue_table_and_the_saved_snapshot_show_each_state_in_its_colour():
    for n, state in enumerate(JobState, 1):
        job = job_to_json(Job(id=n, name=f"j{n}", command=("true",), state=state, submitted_at=1.0))
        colour = STYLES[state.code]["colour"]
        assert f"border-left:4px solid {colour}" in render.queue([job], fmt="html")
        assert f"border:1px solid {colour}" in snapshot.snapshot_html([job])


def test_the_panels_css_builds_its_state_rules_from_the_same_file():
    css = (ROOT / "labextension/src/view/css.ts").read_text()
    assert "from '../../../jupyter_jobflow/core/states.json'" in css
    assert not re.search(r"\.s-[A-Z]+\s*\{\s*--jf-c:\s*#", css), "a state colour written in css.ts again"
    assert not re.search(r"#[0-9a-f]{6}", (ROOT / "jupyter_jobflow/cli/render.py").read_text())

"""The state machine (docs/rules.md, What moves a job): every pair of states is either allowed by the
table in ``core/transitions.py`` or refused with ``IllegalTransition``; nothing outside that module
builds a job's next state; the docs' table is the code's; and the bug error reaches a client as
one line with HTTP 409, never a traceback."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from jupyter_jobflow.core.errors import Conflict, IllegalTransition
from jupyter_jobflow.core.model import Job, JobState
from jupyter_jobflow.core.transitions import TRANSITIONS, initial, transition

pytest_plugins = ["pytest_jupyter.jupyter_server"]

ROOT = Path(__file__).resolve().parent.parent
Q, H, R = JobState.QUEUED, JobState.HOLD, JobState.RUNNING
F, X, C, T = JobState.FINISHED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT

#: The documented rule, written out here on its own so that the code's table is checked against it:
#: from each state (None: a job not yet stored), the states it may move to.
EXPECTED = {
    None: {Q, H, C, F},  # F: a flow task copied as memoized (gpipe resume --as-new-run)
    Q: {R, H, C, X},
    H: {Q, C, X},
    R: {F, Q, X, T, C},
    F: {Q},
    X: {Q},
    C: {Q},
    T: {Q},
}


def _job(state: JobState) -> Job:
    return Job(id=3, name="train", command=("true",), state=state)


@pytest.mark.parametrize("to", list(JobState), ids=str)
@pytest.mark.parametrize("start", list(JobState), ids=str)
def test_every_pair_of_states_is_allowed_or_refused_as_documented(start, to):
    job = _job(start)
    if to in EXPECTED[start]:
        moved = transition(job, to, priority=7)
        assert (moved.state, moved.priority, moved.id) == (to, 7, 3)
        assert job.state is start  # the job itself is frozen: a new one comes back
        return
    with pytest.raises(IllegalTransition) as err:
        transition(job, to, priority=7)
    message = str(err.value)
    allowed = ", ".join(s.value for s in JobState if s in EXPECTED[start])
    assert message == (f"Job 3 cannot go from {start.value} to {to.value}; from {start.value} it may go to "
                       f"{allowed} (a jobflow bug: please report it)")
    assert "\n" not in message and isinstance(err.value, Conflict) and err.value.status == 409


@pytest.mark.parametrize("state", list(JobState), ids=str)
def test_a_new_job_enters_only_as_queued_held_or_cancelled(state):
    template = Job(id=0, name="new", command=("true",), state=F)  # a redo's template: its state is not the start
    if state in EXPECTED[None]:
        assert initial(template, state).state is state
    else:
        with pytest.raises(IllegalTransition, match=rf"^Job \(new\) cannot go from a new job to {state.value}; "
                                                    r"from a new job it may go to Queued, Hold, Finished, Cancelled "):
            initial(template, state)


def test_the_code_table_is_the_expected_one_and_every_edge_has_a_cause():
    code: dict = {}
    for (start, to), causes in TRANSITIONS.items():
        assert causes and all(re.fullmatch(r"[a-z]+(-[a-z]+)*", c) for c in causes), (start, to, causes)
        code.setdefault(start, set()).add(to)
    assert code == EXPECTED


def test_a_named_cause_must_be_one_of_that_edges():
    assert transition(_job(Q), C, cause="cascade").state is C
    with pytest.raises(IllegalTransition, match=r"^Job 3 cannot go from Finished to Queued by revive; Finished to "
                                                r"Queued happens only by redo-in-place "):
        transition(_job(F), Q, cause="revive")
    with pytest.raises(IllegalTransition, match="by hold; Running to Queued happens only by retry, unlaunch"):
        transition(_job(R), Q, cause="hold")


# -- nothing else builds a next state ----------------------------------------------------------
#: calls that could give a job a new state: dataclass copies and the constructor
_BUILDERS = {"evolve", "replace", "_replace", "Job"}
#: where a state keyword is not a change: the store reads a job back from its row
_READERS = {("jupyter_jobflow/engine/store.py", "Job")}


def _state_builders(source: str, rel: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name in _BUILDERS and any(k.arg == "state" for k in node.keywords) and (rel, name) not in _READERS:
            found.append(f"{rel}:{node.lineno} {name}(state=...)")
    return found


def test_no_module_outside_transitions_builds_a_new_state():
    found = [hit for path in sorted((ROOT / "jupyter_jobflow").rglob("*.py"))
             if path != ROOT / "jupyter_jobflow" / "core" / "transitions.py"
             for hit in _state_builders(path.read_text(), path.relative_to(ROOT).as_posix())]
    assert found == [], "state changes must go through core/transitions.py (transition / initial)"


def test_the_scan_finds_a_state_built_by_hand():
    """The scan above is not vacuous: the ways a state used to be built are all caught."""
    sample = ("a = job.evolve(state=JobState.QUEUED)\nb = dataclasses.replace(job, state=s)\n"
              "c = Job(id=0, name='x', command=(), state=s)\nd = job.evolve(reason=None)\n")
    assert _state_builders(sample, "jupyter_jobflow/engine/control.py") == [
        "jupyter_jobflow/engine/control.py:1 evolve(state=...)", "jupyter_jobflow/engine/control.py:2 replace(state=...)",
        "jupyter_jobflow/engine/control.py:3 Job(state=...)"]


# -- the docs' table is the code's -------------------------------------------------------------
def _docs_table() -> dict:
    text = (ROOT / "docs" / "rules.md").read_text()
    section = text.split("## What moves a job", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| From")]
    table: dict = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        starts = [None] if cells[0] == "(new job)" else [JobState(s.strip("`")) for s in cells[0].split("/")]
        to = JobState(cells[1].strip("`"))
        causes = set(re.findall(r"`([a-z-]+)`", cells[2]))
        for start in starts:
            table.setdefault((start, to), set()).update(causes)
    return table


def test_rules_table_lists_exactly_the_codes_transitions_and_causes():
    assert _docs_table() == {edge: set(causes) for edge, causes in TRANSITIONS.items()}


# -- a bug reaches a client as one line ----------------------------------------------------------
@pytest.fixture
def jp_server_config(jobflow_server_config):
    return jobflow_server_config


async def test_an_illegal_transition_is_a_one_line_409_not_a_traceback(jp_fetch, jp_serverapp, monkeypatch):
    service = jp_serverapp.web_app.settings["jobflow"].service

    async def call(method, *path, body="{}"):
        r = await jp_fetch("jobflow", "api", *path, method=method, body=body, raise_error=False)
        return r.code, json.loads(r.body)

    code, reply = await call("POST", "jobs", body=json.dumps({"command": ["true"], "hold": True}))
    assert code in (200, 201), reply
    job_id = reply["id"]
    # a bug stood in for: a verb that skips its own check and asks for a change the table refuses
    monkeypatch.setattr(service, "release", lambda jid: transition(service.get(jid), JobState.FINISHED))
    code, reply = await call("POST", "jobs", str(job_id), "release")
    assert code == 409
    assert reply == {"reason": "IllegalTransition",
                     "message": f"Job {job_id} cannot go from Hold to Finished; from Hold it may go to Queued, "
                                f"Failed, Cancelled (a jobflow bug: please report it)"}
    assert service.get(job_id).state is JobState.HOLD  # nothing was stored


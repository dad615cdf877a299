"""Flows end to end on a real service: runs isolated by run key, templates snapshotted, trigger
rules, resume from the failure point (marker files prove what ran), run-task, §1.17 17-19 and 26."""

from __future__ import annotations

import json
import time

import pytest

from jupyter_jobflow.core.errors import Conflict, InvalidSpec, NotFound
from jupyter_jobflow.core.flowdef import Flow
from jupyter_jobflow.engine.service import JobService

from helpers import stop_everything

TEMPLATE = """command: "python3 -c 'print(1)' && echo train lr={{params.lr}} tag={{uuid.uuid4().hex[:4]}}"
params:
  lr: {type: float, default: 0.01, help: learning rate}
"""


def wait_run(svc, run_id, states=("Finished", "Failed", "Cancelled"), timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = svc.run(run_id)
        if shown["state"] in states:
            return shown
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} is still {svc.run(run_id)['state']}")


@pytest.fixture
def svc(tmp_path):
    s = JobService(tmp_path / "state", simulated_gpus=2, kill_grace=1.0).start()
    yield s
    stop_everything(s)


def test_two_concurrent_runs_of_one_flow_sharing_a_template_list_exactly_their_own_jobs(svc, tmp_path):
    """§1.17 item 17 (Volcano #4089): aggregation selects by run id, never by template."""
    svc.add_template("train", TEMPLATE)
    svc.save_flow("etl", "tasks:\n  prep: {command: 'true'}\n  train: {template: train, depends: prep}\n")
    a, b = svc.create_run("etl", {}), svc.create_run("etl", {})
    assert a["run_id"] != b["run_id"] and a["run_id"].startswith("etl__manual__")
    ra, rb = wait_run(svc, a["run_id"]), wait_run(svc, b["run_id"])
    ids_a, ids_b = {t["job_id"] for t in ra["tasks"]}, {t["job_id"] for t in rb["tasks"]}
    assert not ids_a & ids_b and len(ids_a) == len(ids_b) == 2
    for run, ids in ((ra, ids_a), (rb, ids_b)):
        assert {j.id for j in svc.list() if j.run_id == run["run_id"]} == ids
        assert run["state"] == "Finished"
    # one run's failure does not leak into the other's state
    svc.save_flow("etl", "tasks:\n  prep: {command: 'exit 3'}\n  train: {template: train, depends: prep}\n")
    bad, good = svc.create_run("etl", {}), None
    svc.save_flow("etl", "tasks:\n  prep: {command: 'true'}\n  train: {template: train, depends: prep}\n")
    good = svc.create_run("etl", {})
    assert wait_run(svc, bad["run_id"])["state"] == "Failed"
    assert wait_run(svc, good["run_id"])["state"] == "Finished"


def test_two_flows_and_two_owners_flows_of_one_name_stay_apart(svc):
    yaml = "tasks:\n  a: {command: 'true'}\n"
    svc.save_flow("etl", yaml)
    svc.save_flow("etl", yaml + "  b: {command: 'true'}\n", owner="bob")
    svc.save_flow("other", yaml)
    runs = [svc.create_run("etl"), svc.create_run("etl", owner="bob"), svc.create_run("other")]
    done = [wait_run(svc, r["run_id"]) for r in runs]
    assert [len(r["tasks"]) for r in done] == [1, 2, 1]
    assert [r["owner"] for r in done] == [svc._owner(None), "bob", svc._owner(None)]
    assert [r["run_id"] for r in svc.runs("etl")] == [runs[0]["run_id"]]
    assert [r["run_id"] for r in svc.runs("etl", owner="bob")] == [runs[1]["run_id"]]
    with pytest.raises(NotFound, match='No flow "other" of user bob'):
        svc.create_run("other", owner="bob")


def test_same_content_same_version_and_the_flow_is_versioned(svc):
    yaml = "tasks:\n  a: {command: 'true'}\n"
    assert svc.save_flow("etl", yaml)["version"] == 1
    assert svc.save_flow("etl", yaml) == {"name": "etl", "owner": svc._owner(None), "version": 1, "created": False}
    assert svc.save_flow("etl", yaml + "  b: {command: 'true'}\n")["version"] == 2
    assert [f["version"] for f in svc.flows()] == [2]


def _notebook(cells):
    return json.dumps({"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [],
                                  "execution_count": None} for c in cells], "metadata": {}, "nbformat": 4,
                       "nbformat_minor": 5})


def test_a_flow_from_a_notebook_from_yaml_and_from_python_behaves_the_same(svc):
    nb = _notebook(["import os\nN = 3\n", "%%gbatch --name make --out x\nx = N * 2\n",
                    "%%gbatch --name use --in x --depends-on make\nassert x == 6, x\nprint('got', x)\n"])
    yaml = ("preamble: |\n  import os\n  N = 3\ntasks:\n  make: {cell: 'x = N * 2\n', out: x}\n"
            "  use: {cell: \"assert x == 6, x\\nprint('got', x)\\n\", in: x, depends: make}\n")
    py = (Flow("p", preamble="import os\nN = 3\n").task("make", cell="x = N * 2\n", outputs=["x"])
          .task("use", cell="assert x == 6, x\nprint('got', x)\n", inputs=["x"], depends="make").build())
    svc.save_flow("n", nb, "ipynb")
    svc.save_flow("y", yaml, "yaml")
    svc.save_flow("p", json.dumps(py.to_dict()), "json")
    hashes = {svc.flow(n)["definition"]["tasks"][1]["cell"] for n in "nyp"}
    assert len(hashes) == 1
    for name in "nyp":
        run = wait_run(svc, svc.create_run(name)["run_id"])
        assert run["state"] == "Finished", run
        assert "[use 1] got 6" in svc.run_log(run["run_id"])["text"]


def test_editing_a_template_during_a_run_changes_nothing_in_it(svc, tmp_path):
    gate = tmp_path / "gate"
    svc.add_template("t", f"command: 'while [ ! -e {gate} ]; do sleep 0.05; done; echo v1 {{{{params.x}}}}'\n"
                          "params: {x: {type: int, default: 1}}\n")
    svc.save_flow("f", "tasks:\n  a: {template: t}\n")
    run = svc.create_run("f")
    assert svc.add_template("t", "command: 'echo v2'\n")["version"] == 2
    gate.touch()
    done = wait_run(svc, run["run_id"])
    assert done["state"] == "Finished"
    assert svc.run_log(run["run_id"])["text"] == "[a 1] v1 1\n"
    new = wait_run(svc, svc.create_run("f")["run_id"])  # a new run takes the latest version
    assert svc.run_log(new["run_id"])["text"] == "[a 1] v2\n"


def test_five_task_run_failing_at_task_three_resumes_without_rerunning_tasks_one_and_two(svc, tmp_path):
    marks, fix = tmp_path / "marks", tmp_path / "fixed"
    marks.mkdir()
    cells = [f"open(r'{marks}/t1-' + __import__('uuid').uuid4().hex, 'w').close()\na = 1\n",
             f"open(r'{marks}/t2-' + __import__('uuid').uuid4().hex, 'w').close()\nb = a + 1\n",
             f"import os\nassert os.path.exists(r'{fix}'), 'not fixed'\nc = b * 10\n",
             "d = c + 1\n", "assert d == 21, d\nprint('done', d)\n"]
    flow = Flow("five")
    for i, cell in enumerate(cells, 1):
        keys = {"cell": cell, "outputs": ["abcd"[i - 1]] if i < 5 else []}
        if i > 1:
            keys.update(depends=f"t{i - 1}", inputs=["abcd"[i - 2]])
        flow.task(f"t{i}", **keys)
    svc.save_flow("five", json.dumps(flow.build().to_dict()), "json")
    run = wait_run(svc, svc.create_run("five")["run_id"])
    assert run["state"] == "Failed" and run["reason"] == "TaskFailed:t3"
    assert [t["state"] for t in run["tasks"]] == ["Finished", "Finished", "Failed", "Cancelled", "Cancelled"]
    assert len(list(marks.iterdir())) == 2
    fix.touch()
    resumed = svc.resume_run(run["run_id"])
    assert resumed["run_id"] == run["run_id"]
    done = wait_run(svc, run["run_id"])
    assert done["state"] == "Finished", done
    assert [t["attempts"] for t in done["tasks"]] == [1, 1, 2, 1, 1]
    assert len(list(marks.iterdir())) == 2  # tasks 1 and 2 never started again
    assert "[t5 1] done 21" in svc.run_log(run["run_id"])["text"]  # t3 read t2's saved b
    with pytest.raises(Conflict, match=f"Nothing to resume: run {run['run_id']} finished successfully"):
        svc.resume_run(run["run_id"])
    # --as-new-run: a new run; finished tasks memoized (no process), their outputs kept
    again = svc.resume_run(run["run_id"], from_task="t4", as_new_run=True)
    assert again["run_id"] != run["run_id"]
    new = wait_run(svc, again["run_id"])
    assert new["state"] == "Finished" and len(list(marks.iterdir())) == 2
    assert [t["reason"] for t in new["tasks"]][:3] == [f"Memoized:{run['run_id']}"] * 3


def test_resume_from_and_only_and_the_drift_warning(svc, tmp_path):
    """§1.17 item 26: a finished task whose source changed gets W7 and is not rerun; --from reruns it."""
    yaml = "tasks:\n  a: {command: 'echo a1'}\n  b: {command: 'exit 1', depends: a}\n  c: {command: 'true', depends: b}\n"
    svc.save_flow("d", yaml)
    run = wait_run(svc, svc.create_run("d")["run_id"])
    assert run["state"] == "Failed"
    svc.save_flow("d", yaml.replace("echo a1", "echo a2"))
    reply = svc.resume_run(run["run_id"])
    assert reply["warnings"] == [next(w for w in reply["warnings"] if w.startswith('Task "a" changed since it succeeded'))]
    wait_run(svc, run["run_id"])
    assert [t["attempts"] for t in svc.run(run["run_id"])["tasks"]] == [1, 2, 0]
    svc.resume_run(run["run_id"], from_task="a")
    wait_run(svc, run["run_id"])
    assert [t["attempts"] for t in svc.run(run["run_id"])["tasks"]] == [2, 3, 0]
    svc.resume_run(run["run_id"], only="c")
    assert [t["attempts"] for t in wait_run(svc, run["run_id"])["tasks"]][2] == 0  # c waits on b: cancelled again
    with pytest.raises(InvalidSpec, match='Task "bb" not in flow "d" \\(did you mean "b"\\?\\)'):
        svc.resume_run(run["run_id"], from_task="bb")


def test_a_failed_task_moves_the_run_to_a_terminal_state_and_cancel_cancels_it(svc, tmp_path):
    """§1.17 item 18 (Volcano #4134/#4442)."""
    svc.save_flow("t", "tasks:\n  a: {command: 'sleep 30'}\n  b: {command: 'true', depends: a}\n"
                       "  x: {command: 'exit 2', time: '0:30'}\n")
    run = svc.create_run("t")
    deadline = time.monotonic() + 15
    while svc.run(run["run_id"])["tasks"][2]["state"] != "Failed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert svc.run(run["run_id"])["state"] == "Running"
    cancelled = svc.cancel_run(run["run_id"])
    done = wait_run(svc, run["run_id"])
    assert done["state"] == cancelled["state"] == "Cancelled" and done["reason"] == "CancelledByUser"


def test_duplicate_task_names_are_rejected(svc):
    """§1.17 item 19 (Volcano #5868): nothing is stored."""
    with pytest.raises(InvalidSpec, match='Duplicate task name "a" in flow "dup" \\(tasks 1 and 2\\)'):
        svc.save_flow("dup", "tasks:\n  a: {command: 'true'}\n  a: {command: 'false'}\n")
    assert svc.flows() == []


def test_trigger_rules_run_or_skip_on_the_parents_states(svc):
    svc.save_flow("tr", "tasks:\n  ok: {command: 'true'}\n  bad: {command: 'exit 1'}\n"
                        "  nf: {command: 'true', depends: [ok, bad], trigger: none_failed}\n"
                        "  od: {command: 'true', depends: [ok, bad], trigger: one_done}\n"
                        "  fin: {command: 'true', depends: [nf], trigger: all_skipped}\n")
    run = wait_run(svc, svc.create_run("tr")["run_id"])
    states = {t["name"]: t["state"] for t in run["tasks"]}
    assert states == {"ok": "Finished", "bad": "Failed", "nf": "Skipped", "od": "Finished", "fin": "Finished"}
    assert run["state"] == "Failed" and run["reason"] == "TaskFailed:bad"


def test_run_task_uses_the_inputs_of_the_referenced_run_and_never_changes_it(svc):
    svc.save_flow("dbg", json.dumps(Flow("dbg").task("make", cell="x = 41\n", outputs=["x"])
                                    .task("use", cell="print('x+1 =', x + 1)\n", inputs=["x"], depends="make")
                                    .build().to_dict()), "json")
    with pytest.raises(Conflict, match="has no finished run"):
        svc.run_task("dbg", "use")
    ref = wait_run(svc, svc.create_run("dbg")["run_id"])
    before = svc.run(ref["run_id"])
    debug = svc.run_task("dbg", "use")
    assert debug["run_type"] == "debug" and debug["source_run"] == ref["run_id"] and len(debug["tasks"]) == 1
    assert wait_run(svc, debug["run_id"])["state"] == "Finished"
    assert svc.run_log(debug["run_id"])["text"] == "[use 1] x+1 = 42\n"
    assert svc.run(ref["run_id"]) == before


def test_template_variables_render_once_and_unknown_ones_survive(svc):
    svc.add_template("train", 'command: "echo lr={{params.lr}} tag={{uuid.uuid4().hex[:4]}} '
                              'day={{datetime.datetime.now().strftime(\'%Y%m%d\')}} try={{attempt}}"\n'
                              "params:\n  lr: {type: float, default: 0.01, help: learning rate}\n")
    svc.save_flow("v", "tasks:\n  t: {template: train, params: {lr: 0.1}, retries: 1}\n"
                       "  u: {command: 'echo {{foo}} {{run_id}}'}\n")
    reply = svc.create_run("v")
    assert any('"{{foo}}" left as-is in task "u" line 1' in w for w in reply["warnings"])
    run = wait_run(svc, reply["run_id"])
    log = svc.run_log(run["run_id"])["text"]
    assert f"[u 1] {{{{foo}}}} {run['run_id']}\n" in log
    line = next(ln for ln in log.splitlines() if ln.startswith("[t 1]"))
    assert line.startswith("[t 1] lr=0.1 tag=") and line.endswith(f"day={time.strftime('%Y%m%d')} try=1")
    plan = svc.create_run("v", dry_run=True)["plan"]
    assert [(p["task"], p["starts_at_once"]) for p in plan] == [("t", True), ("u", True)]


def test_a_run_is_created_whole_or_not_at_all(svc):
    """A task that cannot be submitted (more GPUs than exist) leaves no run and no job behind."""
    svc.save_flow("big", "tasks:\n  a: {command: 'true'}\n  b: {command: 'true', gpus: 8, depends: a}\n")
    with pytest.raises(InvalidSpec, match="--gpus 8"):
        svc.create_run("big")
    assert svc.runs("big") == [] and [j for j in svc.list() if j.run_id] == []


def test_job_labels_survive_a_restart(tmp_path):
    svc = JobService(tmp_path / "s", kill_grace=1.0).start()
    svc.save_flow("l", "tasks:\n  a: {command: 'true'}\n")
    run = wait_run(svc, svc.create_run("l")["run_id"])
    stop_everything(svc)
    again = JobService(tmp_path / "s", kill_grace=1.0).start()
    try:
        job = again.get(run["tasks"][0]["job_id"])
        assert (job.run_id, job.task, job.flow) == (run["run_id"], "a", "l")
        assert again.run(run["run_id"])["state"] == "Finished"
    finally:
        stop_everything(again)


def test_removing_a_template_an_active_run_uses_is_refused_unless_forced_and_the_run_keeps_its_copy(svc, tmp_path):
    """§1.11 F2: the refusal names the version and the runs; --force changes no run."""
    svc.add_template("train", TEMPLATE)
    assert svc.add_template("train", TEMPLATE.replace("print(1)", "print(2)"))["version"] == 2
    svc.save_flow("etl", "tasks:\n  wait: {command: 'while [ ! -f go ]; do sleep 0.02; done'}\n"
                         "  train: {template: train, depends: wait}\n")
    run = svc.create_run("etl", cwd=str(tmp_path))["run_id"]
    with pytest.raises(Conflict) as refused:
        svc.remove_template("train")
    assert str(refused.value) == f'Template "train" (v2) is used by active runs {run}; cancel them or use --force'
    assert [t["name"] for t in svc.templates()] == ["train"]
    assert svc.remove_template("train", force=True) == {"name": "train", "versions": 2, "active_runs": [run]}
    assert svc.templates() == []
    (tmp_path / "go").write_text("")
    assert wait_run(svc, run)["state"] == "Finished"  # it ran its own copy of train v2
    assert "train lr=0.01" in svc.run_log(run, task="train")["text"]
    with pytest.raises(NotFound, match='No template "train"; list them with: gpipe template ls'):
        svc.remove_template("train")
    with pytest.raises(InvalidSpec, match='Unknown template "train"'):
        svc.create_run("etl")  # a new run needs the template
    with pytest.raises(InvalidSpec, match='Invalid template name ""'):
        svc.add_template("", TEMPLATE)


def test_a_command_task_runs_as_bash_c_and_a_very_long_one_from_a_script_file(svc):
    """A 1,000-task run writes no 1,000 script files (bench/bench_flows.py): short commands go inline."""
    long = "echo long" + "; true" * 6000  # over 32 KiB
    svc.save_flow("sh", f"tasks:\n  short: {{command: 'echo short $((1 + 1))'}}\n  long: {{command: '{long}'}}\n")
    run = wait_run(svc, svc.create_run("sh")["run_id"])
    assert run["state"] == "Finished" and "[short 1] short 2\n" in svc.run_log(run["run_id"])["text"]
    short, big = (svc.get(t["job_id"]) for t in run["tasks"])
    assert short.command == ("/bin/bash", "-c", "echo short $((1 + 1))") and short.script is None
    assert big.command[0] == "/bin/bash" and big.script == long
    assert (svc.state_dir / "scripts" / str(big.id)).read_text() == long
    assert not (svc.state_dir / "scripts" / str(short.id)).exists()


def test_the_log_of_a_run_whose_attempt_has_no_log_file_yet_is_what_there_is(svc):
    """An attempt starts before its log file exists: gpipe log -f and the panel read the run's log
    in that moment, and get the other tasks' lines, not an error."""
    svc.save_flow("two", "tasks:\n  a: {command: 'echo from a'}\n  b: {command: 'echo from b', depends: a}\n")
    run_id = svc.create_run("two")["run_id"]
    shown = wait_run(svc, run_id)
    svc.executor.log_path(shown["tasks"][1]["job_id"], 1).unlink()  # b's attempt, as just started
    assert svc.run_log(run_id) == {"text": "[a 1] from a\n", "next_offset": 13}

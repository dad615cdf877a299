"""A notebook pipeline submitted in one go: --out feeds --in when the job starts, results come back
without touching the namespace, cells are named by the prompt the person sees. Against a real
daemon, through an IPython shell and through real kernels (jupyter_client + ipykernel)."""

from __future__ import annotations

import os
import textwrap

import pytest

pytest.importorskip("IPython")

from magics_support import cell, daemon, ip  # noqa: E402,F401  (fixtures)

from jupyter_jobflow.client.http import Client  # noqa: E402
from jupyter_jobflow.notebook.cellio import NoResult  # noqa: E402


def total_jobs() -> int:
    return Client.discover().jobs()["total"]


def test_an_input_a_parent_saves_is_its_value_when_the_job_starts_not_the_kernels(ip):
    ip.user_ns["x"] = "the kernel's x"
    parent = cell(ip, "%%gbatch --name make-x --hold --out x\nx = 42\n")
    child = cell(ip, "%%gbatch --depends-on @ --in x\nprint('x is', x)\n")
    assert parent.state == "Hold"  # the child was submitted before x existed anywhere but the kernel
    parent.client.release(parent.id)
    assert child.wait(30) == "Finished", child.log()
    assert child.log() == "x is 42\n"


def test_two_parents_saving_one_name_is_a_one_line_error_naming_both(ip, capsys):
    a = cell(ip, "%%gbatch --name a --out score\nscore = 1\n")
    b = cell(ip, "%%gbatch --name b --out score\nscore = 2\n")
    capsys.readouterr()
    before = total_jobs()
    assert cell(ip, "%%gbatch --depends-on-all @,@~1 --in score\nprint(score)\n") is None
    assert capsys.readouterr().err == (
        f'gbatch: error: --in score: both job {b.id} (b) and job {a.id} (a) save "score"; '
        f"pick one with --in score:{b.id} or --in score:{a.id}\n")
    assert total_jobs() == before
    pick = cell(ip, "%%gbatch --depends-on-all @,@~1 --in score:a\nprint(score)\n")  # by name
    assert pick.wait(30) == "Finished" and pick.log() == "1\n"


def test_an_input_nobody_has_or_a_parent_that_is_not_one_is_a_one_line_error(ip, capsys):
    before = total_jobs()
    assert cell(ip, "%%gbatch --in nowhere\nprint(nowhere)\n") is None
    assert capsys.readouterr().err == ('gbatch: error: --in variable "nowhere" is not defined in this notebook, and '
                                       "no parent job saves it (--out); define it, or add --depends-on for the job "
                                       "that saves it\n")
    saver = cell(ip, "%%gbatch --name saver --out y\ny = 1\n")
    capsys.readouterr()
    assert cell(ip, "%%gbatch --in y:saver\nprint(y)\n") is None
    assert capsys.readouterr().err == (f"gbatch: error: --in y:saver: job {saver.id} is not a parent of this job, so "
                                       f"its values may not exist when it starts; add --depends-on {saver.id}\n")
    assert cell(ip, "%%gbatch --depends-on @ --in z:@\nprint(z)\n") is None
    assert capsys.readouterr().err == f"gbatch: error: --in z:@: job {saver.id} (saver) saves only y (--out)\n"
    assert total_jobs() == before + 1


def test_an_output_that_cannot_be_saved_says_so_in_result_and_gresult(ip, capsys):
    job = cell(ip, """\
        %%gbatch --out batches
        print("made the batches")
        batches = (i for i in range(3))
        """)
    assert job.wait(30) == "Failed"
    assert job.info()["reason"] == "OutputNotSaved:batches (generator)"
    assert job.log().startswith("made the batches\n")
    with pytest.raises(NoResult) as err:
        job.result()
    why = (f"Job {job.id} is Failed: its --out variable batches (generator) could not be saved; the cell's output "
           f"is in its log (%glog {job.id})")
    assert str(err.value) == why
    capsys.readouterr()
    ip.run_cell("%gresult @")
    assert capsys.readouterr().err == f"gresult: error: {why}\n"


def test_gresult_loads_what_is_asked_under_a_prefix_and_its_errors_are_its_own(ip, capsys):
    job = cell(ip, "%%gbatch --name fit --out score,model\nscore = 0.9\nmodel = 'svc'\n")
    assert job.wait(30) == "Finished"
    capsys.readouterr()
    ip.run_cell("%gresult fit score --prefix svc_")
    assert capsys.readouterr().out == f"Loaded svc_score from job {job.id}\n"
    assert ip.user_ns["svc_score"] == 0.9 and "model" not in ip.user_ns and "svc_model" not in ip.user_ns
    for line, err in [
        ("%gresult load", 'gresult: error: No job named "load" in this notebook: give its id, @, @~N or the name '
                          "of one of its jobs"),
        ("%gresult @ accuracy", f'gresult: error: Job {job.id} saved no "accuracy"; it saved: model, score'),
        ("%gresult", "gresult: error: which job? %gresult JOB [NAMES] [--prefix P] (JOB: an id, @, @~N or a job "
                     "name of this notebook)"),
        ("%gresult 1 --bad", "gresult: error: unrecognized arguments: --bad (see %gresult --help)"),
    ]:
        assert ip.run_cell(line).success
        assert capsys.readouterr().err == err + "\n"


@pytest.mark.parametrize("line", ["%%gbatch --help\nx = 1\n", "%gbatch --help", "%gqueue --help", "%gcancel --help",
                                  "%gjob --help", "%glog --help", "%ginfo --help", "%gresult --help"])
def test_help_on_any_magic_is_printed_never_an_exception(ip, capsys, line):
    result = ip.run_cell(line)
    out = capsys.readouterr()
    assert result.success and result.error_in_exec is None
    assert out.out.startswith("usage: ") and out.err == ""


def test_a_cell_job_is_named_by_the_prompt_the_person_sees(ip):
    prompt = ip.execution_count  # what the next cell is numbered
    job = cell(ip, "%%gbatch\nx = 1\nraise ValueError(x)\n")
    assert job.name == f"cell[{prompt}]"
    assert job.wait(30) == "Failed"
    assert f'  File "cell [{prompt}]", line 3, in <module>\n' in job.log()


# -- real kernels -----------------------------------------------------------------------------------
class Kernel:
    """A real ipykernel, sent cells as JupyterLab sends them (with the cell id in the metadata)."""

    def __init__(self, notebook: str):
        from jupyter_client.manager import start_new_kernel

        self.km, self.kc = start_new_kernel(kernel_name="python3", env={**os.environ, "JPY_SESSION_NAME": notebook})

    def run(self, code: str, cell_id: str | None = None) -> tuple[int, str]:
        """Run one cell: its prompt number, and what it printed (a traceback fails the test)."""
        kc = self.kc
        msg = kc.session.msg("execute_request", {"code": textwrap.dedent(code), "silent": False,
                                                 "store_history": True, "user_expressions": {},
                                                 "allow_stdin": False, "stop_on_error": True})
        if cell_id:
            msg["metadata"]["cellId"] = cell_id
        kc.shell_channel.send(msg)
        out, prompt = [], None
        while True:
            m = kc.get_iopub_msg(timeout=120)
            if m["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                continue
            kind = m["msg_type"]
            if kind == "execute_input":
                prompt = m["content"]["execution_count"]
            elif kind == "stream":
                out.append(m["content"]["text"])
            elif kind == "error":
                raise AssertionError("\n".join(m["content"]["traceback"]))
            elif kind == "status" and m["content"]["execution_state"] == "idle":
                break
        kc.get_shell_msg(timeout=60)
        return prompt, "".join(out)

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture
def kernel(daemon):
    k = Kernel("digits.ipynb")
    k.run("%load_ext jupyter_jobflow")
    yield k
    k.close()


FIT = """\
%%gbatch --depends-on {parent} --in X_train,y_train,X_test,y_test --out {model}_score,predictions
import numpy as np
{body}
predictions = predict(X_test)
{model}_score = float((predictions == y_test).mean())
print("{model}", {model}_score)
"""
MODELS = {
    "centroid": "centers = np.stack([X_train[y_train == k].mean(0) for k in range(3)])\n"
                "predict = lambda X: ((X[:, None, :] - centers) ** 2).sum(-1).argmin(1)",
    "lstsq": "W = np.linalg.lstsq(np.c_[X_train, np.ones(len(X_train))], np.eye(3)[y_train], rcond=None)[0]\n"
             "predict = lambda X: (np.c_[X, np.ones(len(X))] @ W).argmax(1)",
    "knn": "predict = lambda X: y_train[((X[:, None, :] - X_train) ** 2).sum(-1).argmin(1)]",
}


def test_digits_style_pipeline_submitted_in_one_go_in_a_real_kernel(kernel):
    """load -> three fits in parallel -> compare, every cell submitted without a wait(); the fits'
    outputs feed the compare job, and each result() is its own (no namespace collision)."""
    pytest.importorskip("numpy")
    kernel.run("X_train = 'a stale kernel variable'")
    load_prompt, printed = kernel.run("""\
        %%gbatch --name load --out X_train,y_train,X_test,y_test
        import numpy as np
        rng = np.random.default_rng(0)
        centers = rng.normal(size=(3, 64)) * 3  # three 8x8 "digits"
        y = rng.integers(0, 3, 300)
        X = centers[y] + rng.normal(size=(300, 64))
        X_train, X_test, y_train, y_test = X[:200], X[200:], y[:200], y[200:]
        """, cell_id="cell-load")
    fits = []
    for i, (model, body) in enumerate(MODELS.items()):  # the load job is @, then @~1, @~2
        prompt, _ = kernel.run(FIT.format(parent="@" if i == 0 else f"@~{i}", model=model, body=body),
                               cell_id=f"cell-{model}")
        kernel.run(f"fit_{model} = _")
        fits.append((model, prompt))
    kernel.run("""\
        %%gbatch --name compare --depends-on-all @,@~1,@~2 --in centroid_score,lstsq_score,knn_score --out ranking
        scores = {"centroid": centroid_score, "lstsq": lstsq_score, "knn": knn_score}
        ranking = sorted(scores, key=scores.get, reverse=True)
        print("ranking", ranking)
        """)
    _, printed = kernel.run("""\
        compare = _
        ranking = compare.result(120).ranking
        runs = {m: globals()[f"fit_{m}"] for m in ("centroid", "lstsq", "knn")}
        scores = {m: job.result()[f"{m}_score"] for m, job in runs.items()}
        preds = [job.result().predictions for job in runs.values()]
        print(ranking == sorted(scores, key=scores.get, reverse=True), min(scores.values()) > 0.9)
        print(all(len(p) == 100 for p in preds), "predictions" in globals(), X_train)
        print([runs[m].name for m in ("centroid", "lstsq", "knn")])
        print(compare.client.job(compare.id)["job"]["dependency"], [j.id for j in runs.values()])
        """)
    lines = printed.splitlines()
    assert lines[0] == "True True"
    assert lines[1] == "True False a stale kernel variable"  # nothing written into the namespace
    assert lines[2] == str([f"digits[{prompt}]" for _, prompt in fits])  # the prompts the person saw
    deps, ids = lines[3].split(" ", 1)
    assert deps == "afterok:" + ":".join(str(i) for i in sorted(eval(ids), reverse=True))


def test_cell_numbers_and_ids_from_a_real_kernels_prompt(kernel):
    kernel.run("x = 1")  # prompts move on; the job must say the cell's own
    prompt, printed = kernel.run("""\
        %%gbatch
        value = 1

        raise ValueError("bad cell")
        """, cell_id="a1b2c3d4-e5f6-7890-abcd-ef0123456789")
    assert printed.startswith("Submitted batch job ") and f"(digits[{prompt}])" in printed
    _, log = kernel.run("job = _\njob.wait(60)\nprint(job.log())")
    assert f'  File "digits.ipynb, cell [{prompt}] (id a1b2c3d4)", line 4, in <module>\n' in log
    assert '    raise ValueError("bad cell")\n' in log
    _, command = kernel.run("print(job.info()['command'])")
    assert "'--cell-id', 'a1b2c3d4-e5f6-7890-abcd-ef0123456789'" in command  # the full id, in the details

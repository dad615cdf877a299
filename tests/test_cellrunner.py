"""A cell run as a job by the real engine: tracebacks point at the cell, variables travel."""

import stat
import sys

import cloudpickle
from helpers import wait_terminal

from jupyter_jobflow.core.model import JobState
from jupyter_jobflow.engine import cellvars

CELL = "import math\n\nvalue = math.sqrt(x)\nresult = {'double': value * 2}\nprint('ok', result)\n"


def runner(name: str, vars_dir, *extra: str) -> list[str]:
    return [sys.executable, "-m", "jupyter_jobflow.cellrunner", "--name", name, "--vars-dir", str(vars_dir), *extra]


def test_cell_job_gets_inputs_and_saves_outputs(service, tmp_path):
    inputs = tmp_path / "in.pkl"
    inputs.write_bytes(cloudpickle.dumps({"x": 16.0}))
    sub = service.submit(runner("nb.ipynb, cell [3]", tmp_path, "--inputs", str(inputs), "--outputs", "result,value"),
                         script=CELL)
    job = wait_terminal(service, sub.id, timeout=30)
    assert job.state is JobState.FINISHED, service.read_log(sub.id)[0]
    assert service.read_log(sub.id)[0] == "ok {'double': 8.0}\n"
    files = cellvars.output_files(tmp_path, sub.id, 1)
    saved = {name: cloudpickle.loads(path.read_bytes()) for name, path in files.items()}
    assert saved == {"result": {"double": 8.0}, "value": 4.0}
    assert cellvars.current_attempt(tmp_path, sub.id) == 1
    for path in [cellvars.job_dir(tmp_path, sub.id), *files.values()]:  # values may be secrets
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600)


def test_a_redone_attempt_saves_its_own_outputs_and_a_child_reads_them_when_it_starts(service, tmp_path):
    parent = service.submit(runner("nb.ipynb, cell [1]", tmp_path, "--outputs", "n"),
                            script="import os\nn = int(os.environ['JOBFLOW_ATTEMPT']) * 10\n")
    assert wait_terminal(service, parent.id, timeout=30).state is JobState.FINISHED
    service.redo(parent.id, in_place=True)
    assert wait_terminal(service, parent.id, timeout=30).attempt == 2
    child = service.submit(runner("nb.ipynb, cell [2]", tmp_path, "--from", f"n={parent.id}"),
                           script="print('got', n)\n", dependency=f"afterok:{parent.id}")
    assert wait_terminal(service, child.id, timeout=30).state is JobState.FINISHED, service.read_log(child.id)[0]
    assert service.read_log(child.id)[0] == "got 20\n"  # the current attempt's value, not the first
    first = cloudpickle.loads(cellvars.output_files(tmp_path, parent.id, 1)["n"].read_bytes())
    assert first == 10  # attempt 1 keeps its own


def test_an_output_that_cannot_be_saved_fails_the_job_with_a_one_line_reason(service):
    vars_dir = service.state_dir / "vars"  # where the host looks for a cell's reason
    cell = "print('trained')\nscore = 0.9\nbatches = (i for i in range(3))\n"
    sub = service.submit(runner("nb.ipynb, cell [4]", vars_dir, "--outputs", "score,batches"), script=cell)
    job = wait_terminal(service, sub.id, timeout=30)
    assert (job.state, str(job.reason)) == (JobState.FAILED, "OutputNotSaved:batches (generator)")
    log = service.read_log(sub.id)[0]
    assert log.startswith("trained\n")  # the cell's own output is kept
    assert log.count("\n") == 2 and "Traceback" not in log
    assert 'jobflow: --out variable "batches" (generator) cannot be saved' in log
    assert cellvars.current_attempt(vars_dir, sub.id) is None  # nothing half saved


def test_a_missing_parent_value_is_one_line(service, tmp_path):
    sub = service.submit(runner("nb.ipynb, cell [2]", tmp_path, "--from", "x=999"), script="print(x)\n")
    job = wait_terminal(service, sub.id, timeout=30)
    assert (job.state, str(job.reason)) == (JobState.FAILED, "ExitCode:1")
    assert service.read_log(sub.id)[0] == ('jobflow: --in variable "x": job 999 has no saved "x" (it did not finish, '
                                           "or ran again); see %gjob show 999\n")


def test_first_line_numbers_the_cell_as_jupyterlab_does(service, tmp_path):
    sub = service.submit(runner("nb.ipynb, cell [5]", tmp_path, "--first-line", "2"), script="x = 1\nraise ValueError(x)\n")
    wait_terminal(service, sub.id, timeout=30)
    log = service.read_log(sub.id)[0]
    assert '  File "nb.ipynb, cell [5]", line 3, in <module>\n    raise ValueError(x)\n' in log


def test_failing_cell_traceback_names_the_notebook_cell_and_its_lines(service, tmp_path):
    cell = "a = 1\n\ndef f(n):\n    return n / 0\n\nf(a)\n"
    sub = service.submit(runner("analysis.ipynb, cell [7]", tmp_path), script=cell)
    job = wait_terminal(service, sub.id, timeout=30)
    log = service.read_log(sub.id)[0]
    assert (job.state, job.exit_code) == (JobState.FAILED, 1)
    lines = [line for line in log.splitlines() if set(line.strip()) - set("~^")]  # carets vary by Python
    assert lines == [
        "Traceback (most recent call last):",
        '  File "analysis.ipynb, cell [7]", line 6, in <module>',
        "    f(a)",
        '  File "analysis.ipynb, cell [7]", line 4, in f',
        "    return n / 0",
        "ZeroDivisionError: division by zero",
    ]
    assert "cellrunner" not in log


def test_output_the_cell_never_defined_fails_the_job(service, tmp_path):
    sub = service.submit(runner("nb.ipynb, cell [1]", tmp_path, "--outputs", "missing"), script="x = 1\n")
    job = wait_terminal(service, sub.id, timeout=30)
    assert job.state is JobState.FAILED
    assert service.read_log(sub.id)[0] == 'jobflow: --out variable "missing" was not defined by the cell\n'


def test_cell_sys_exit_code_is_the_job_exit_code(service, tmp_path):
    sub = service.submit(runner("nb.ipynb, cell [1]", tmp_path), script="import sys\nsys.exit(3)\n")
    assert wait_terminal(service, sub.id, timeout=30).exit_code == 3

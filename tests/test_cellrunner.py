"""A cell run as a job by the real engine: tracebacks point at the cell, variables travel."""

import sys

import cloudpickle

from helpers import wait_terminal
from jupyter_jobflow.cellrunner import outputs_path
from jupyter_jobflow.model import JobState

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
    saved = cloudpickle.loads(outputs_path(tmp_path, sub.id).read_bytes())
    assert saved == {"result": {"double": 8.0}, "value": 4.0}


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

"""--output/--error file name patterns (sbatch's letters)."""

from __future__ import annotations

import pytest

from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.model import Job
from jupyter_jobflow.core.options import parse_submit_args, to_submit_body
from jupyter_jobflow.core.outfiles import check, expand

PLAIN = Job(id=42, name="train", command=("true",), user="ann")
TASK = Job(id=12, name="sweep[7]", command=("true",), user="ann", array_of=10,
           env={"JOBFLOW_ARRAY_TASK_ID": "7"})


@pytest.mark.parametrize("pattern, plain, task", [
    ("job-%j.out", "job-42.out", "job-12.out"),
    ("%x.log", "train.log", "sweep.log"),  # an array task's %x is the array's name
    ("%A_%a", "42_0", "10_7"),
    ("%3a-%5j", "000-00042", "007-00012"),  # zero-padded, as sbatch
    ("100%%-%u-%q", "100%-ann-%q", "100%-ann-%q"),  # %% is %, an unknown letter stays
    ("/abs/%j", "/abs/42", "/abs/12"),
])
def test_patterns(pattern, plain, task):
    assert (expand(pattern, PLAIN), expand(pattern, TASK)) == (plain, task)


def test_options_send_output_and_error_and_reject_an_empty_name():
    opts = parse_submit_args(["-o", "job-%j.out", "--error=e-%j", "true"])
    body = to_submit_body(opts)
    assert (body["output"], body["error"]) == ("job-%j.out", "e-%j")
    with pytest.raises(InvalidSpec, match="^--output expects a file name"):
        parse_submit_args(["--output", " ", "true"])
    with pytest.raises(InvalidSpec, match="^--error expects a file name"):
        check("--error", "a\nb")

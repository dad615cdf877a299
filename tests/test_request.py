"""One job request: its fields are what the parser, the API, openapi.yaml, the wire and redo agree on."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import yaml
from helpers import stop_everything, wait_terminal

from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.model import Job, JobState, RetryPolicy
from jupyter_jobflow.core.options import (
    FRONT_ONLY,
    SPELLINGS,
    SubmitOptions,
    build_parser,
    parse_submit_args,
    to_submit_body,
)
from jupyter_jobflow.core.request import (
    API_FIELDS,
    DEFAULTS,
    NOT_FROM_JOB,
    REQUEST_FIELDS,
    JobRequest,
    format_gpus,
    parse_gpus,
    request_from_job,
)
from jupyter_jobflow.core.wire import request_to_json
from jupyter_jobflow.engine.service import JobService
from jupyter_jobflow.server import parsing

OPENAPI = yaml.safe_load((Path(__file__).resolve().parent.parent / "jupyter_jobflow/server/openapi.yaml").read_text())


def test_the_api_accepts_exactly_the_request_fields_openapi_lists():
    """A field added to JobRequest with an ``api`` kind is a body field; openapi.yaml must say so too."""
    assert list(parsing.SUBMIT_FIELDS) == list(API_FIELDS)
    assert set(OPENAPI["components"]["schemas"]["Submit"]["properties"]) == set(API_FIELDS)
    assert set(API_FIELDS) <= set(REQUEST_FIELDS)


def test_every_gbatch_option_sets_a_request_field_or_is_the_fronts_own():
    dests = {a.dest for a in build_parser()._actions if a.dest != "help"}
    from_request = {d for f in dataclasses.fields(JobRequest) for d in f.metadata["options"]}
    assert from_request <= dests, f"request fields name options the parser lacks: {from_request - dests}"
    assert dests - from_request <= FRONT_ONLY, f"options that set no request field: {dests - from_request - FRONT_ONLY}"
    # SubmitOptions says the same fields by the same names, but for its own spellings and front-only options
    for f in dataclasses.fields(SubmitOptions):
        assert f.name in REQUEST_FIELDS or SPELLINGS.get(f.name) in REQUEST_FIELDS or f.name in FRONT_ONLY, f.name


def _every_field_set(tmp: str) -> JobRequest:
    return JobRequest(command=["python", "t.py"], script="echo", interpreter="/bin/sh", name="n", time_limit=60,
                      gpus="0,1", gpu_memory="8G", priority=3, group="g", dependency="afterok:1", depends_on="@",
                      depends_on_all=[1, 2], depends_on_any="@~1", auto_cancel=False, hold=True, retries=2,
                      retry_delay=5.0, retry_backoff=2.0, retry_max_delay=60.0, retry_on=["timeout"], cwd=tmp,
                      env={"A": "1"}, scope="s", scope_name="that notebook", array="0-3", export="ALL",
                      output="o", error="e", user="u", redo_of=1, run_id="f__manual__1__a", task="t",
                      executor="slurm", slurm={"partition": "debug", "mem": "4G"})


def test_a_requests_json_is_an_api_body_with_every_api_field(tmp_path):
    request = _every_field_set(str(tmp_path))
    assert [f for f in REQUEST_FIELDS if getattr(request, f) == DEFAULTS[f]] == []  # the helper sets every field
    body = request_to_json(request)
    assert set(body) == set(API_FIELDS)
    assert parsing.submit_request(body) == dataclasses.replace(request, user=None, redo_of=None, run_id=None, task=None)
    assert request_to_json(JobRequest(["true"])) == {"command": ["true"]}  # defaults are the server's to apply


def test_a_stored_job_gives_back_every_field_of_its_request():
    job = Job(id=5, name="n", command=("sh", "/state/scripts/5"), script="echo", cwd="/w", env={"A": "1"}, gpus=2,
              gpu_ids=(0, 1), time_limit=60.0, priority=3, group="g", dependency="afterok:1", auto_cancel=False,
              retry=RetryPolicy(2, 5.0, 2.0, 60.0, frozenset({"timeout"})), user="u", scope="s", gpu_memory=8192,
              output="o", error="e", executor="slurm", slurm={"mem": "4G"})
    request = request_from_job(job)
    assert {f for f in REQUEST_FIELDS if getattr(request, f) == DEFAULTS[f]} == NOT_FROM_JOB
    assert (request.command, request.gpus, request.redo_of) == (["sh"], "0,1", 5)
    assert request_from_job(job.evolve(time_limit=None)).time_limit == "UNLIMITED"  # not the default limit


@pytest.mark.parametrize("given, parsed", [
    ("2", (2, None)), (2, (2, None)), (" 0 ", (0, None)), ("0,2", (2, (0, 2))), ("2, 0", (2, (0, 2))),
    ("3,", (1, (3,))), ("[0,1]", (2, (0, 1))), ((1, 0), (2, (0, 1))),
])
def test_gpus_is_a_count_or_device_ids(given, parsed):
    assert parse_gpus(given) == parsed
    assert parse_gpus(format_gpus(*parsed)) == parsed  # the request's value reads back the same


@pytest.mark.parametrize("given, message", [
    ("two", '--gpus expects a count (2) or GPU ids (0,2), got "two"'), ("1,1", '--gpus lists a GPU twice: "1,1"'),
    (-1, "--gpus must be 0 or more, got -1"), ("", '--gpus expects a count (2) or GPU ids (0,2), got ""'),
    (True, '--gpus expects a count (2) or GPU ids (0,2), got "True"'),
])
def test_bad_gpus_is_one_line_naming_the_option(given, message):
    with pytest.raises(InvalidSpec) as e:
        parse_gpus(given)
    assert str(e.value) == message


def test_one_gpu_id_stays_an_id_from_gbatch_to_the_job(gpu_service):
    """``--gpus 1,`` is device 1, not one GPU: the body keeps the comma."""
    body = to_submit_body(parse_submit_args(["--gpus", "1,", "--hold", "true"]))
    assert body["gpus"] == "1,"
    job = gpu_service.get(gpu_service.submit_request(parsing.submit_request(body)).id)
    assert (job.gpus, job.gpu_ids) == (1, (1,))
    with pytest.raises(InvalidSpec, match=r"^--gpus 2,: GPU 2 does not exist here \(2 GPUs \(simulated\)\)$"):
        gpu_service.submit(["true"], gpus="2,")


def _asked(job: Job) -> dict:
    """What the job was asked to be, but for whose redo it is and what it waits for."""
    return {k: v for k, v in vars(request_from_job(job)).items() if k not in ("redo_of", "dependency")}


def test_redo_cascade_resubmits_a_dependent_with_every_field_of_the_original(tmp_path):
    svc = JobService(tmp_path / "state", simulated_gpus=2, default_time_limit=600, kill_grace=1.0).start()
    try:
        parent = svc.submit(["sh", "-c", "exit 3"], hold=True, name="parent", priority=-2, output="p-%j.out",
                            cwd=str(tmp_path))
        child = svc.get(svc.submit(
            ["/bin/sh"], script="echo hi\n", name="train", time_limit="UNLIMITED", gpus="1,", gpu_memory="1G",
            priority=7, group="g1", dependency=f"afterok:{parent.id}", retries=2, retry_delay=5, retry_backoff=2,
            retry_max_delay=60, retry_on=["timeout"], cwd=str(tmp_path), env={"SEED": "1", "PATH": os.environ["PATH"]},
            export="SEED", scope="nb:1", output="out-%j.txt", error="err-%j.txt").id)
        unset = {k for k, v in _asked(child).items() if v == DEFAULTS[k]}
        # every field the test can set is set (a cancelled child auto-cancels; Slurm's options: tests/test_slurm_executor.py)
        assert unset <= NOT_FROM_JOB | {"auto_cancel", "slurm"}
        svc.release(parent.id)
        assert wait_terminal(svc, child.id).state is JobState.CANCELLED

        new_parent = svc.redo(parent.id, cascade=True)
        new_child = next(j for j in svc.list() if j.redo_of == child.id)

        assert _asked(new_parent) == _asked(svc.get(parent.id)) and new_parent.redo_of == parent.id
        assert _asked(new_child) == _asked(child)
        assert new_child.dependency == f"afterok:{new_parent.id}"
        assert (new_child.gpu_ids, new_child.gpu_memory, new_child.priority, new_child.group) == ((1,), 1024, 7, "g1")
        assert new_child.time_limit is None  # still unlimited, not the service's default of 600 s
        assert new_child.retry == RetryPolicy(2, 5.0, 2.0, 60.0, frozenset({"timeout"}))
        assert (new_child.env["SEED"], new_child.output, new_child.error) == ("1", "out-%j.txt", "err-%j.txt")
        assert new_child.command[-1] != child.command[-1]  # a script file of its own: purging the original keeps it
        assert Path(new_child.command[-1]).read_text() == "echo hi\n"
    finally:
        stop_everything(svc)

"""Text views (render.py) of job JSON built the way the server builds it (wire.job_to_json)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from jupyter_jobflow.cli import render
from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.model import Attempt, Job, JobState, Reason
from jupyter_jobflow.core.wire import attempt_to_json, job_to_json

NOW = 1_750_000_000.0


def job(id: int, name: str, state: JobState = JobState.QUEUED, **kw) -> dict:
    kw.setdefault("reason", {JobState.QUEUED: Reason("Dependency"), JobState.HOLD: Reason("JobHeldUser")}.get(state))
    return job_to_json(Job(id=id, name=name, command=("python", f"{name}.py"), state=state,
                           submitted_at=NOW - 100, **kw))


def chain() -> list[dict]:
    """1 prep (Finished) <- 2 train (Running on GPU 0,1) <- 4 eval; 1 <- 3 other; 5 alone."""
    return [
        job(1, "prep", JobState.FINISHED, reason=None, started_at=NOW - 90, ended_at=NOW - 60, exit_code=0),
        job(2, "train", JobState.RUNNING, reason=None, dependency="afterok:1", started_at=NOW - 3725,
            allocated_gpus=(0, 1), time_limit=7200),
        job(3, "other", dependency="afterany:1"),
        job(4, "eval", dependency="afterok:2,afterok:3"),
        job(5, "alone", JobState.HOLD),
    ]


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_queue_has_gflows_columns_and_cells():
    out = lines(render.queue(chain(), now=NOW))
    assert out[0].split() == ["JOBID", "NAME", "ST", "TIME", "TIMELIMIT", "NODELIST(REASON)"]
    assert out[1].split() == ["1", "prep", "CD", "00:00:30", "UNLIMITED", "-"]
    assert out[2].split() == ["2", "train", "R", "01:02:05", "02:00:00", "0,1"]
    assert out[3].split() == ["3", "other", "PD", "-", "UNLIMITED", "(Dependency)"]
    assert out[5].split() == ["5", "alone", "H", "-", "UNLIMITED", "(JobHeldUser)"]
    # columns line up: every row's NAME starts where the header's does
    col = out[0].index("NAME")
    assert all(row[col - 2: col] == "  " and row[col] != " " for row in out[1:])
    assert all(row == row.rstrip() for row in out)


def test_queue_elapsed_uses_days_and_reasons_of_ended_jobs():
    long = job(7, "long", JobState.RUNNING, reason=None, started_at=NOW - (86400 + 3600 + 61))
    cancelled = job(8, "child", JobState.CANCELLED, reason=Reason("DependencyFailed", {"job": 7}), ended_at=NOW)
    failed = job(9, "bad", JobState.FAILED, reason=Reason("ExitCode", {"code": 2}), started_at=NOW - 5, ended_at=NOW)
    out = lines(render.queue([long, cancelled, failed], now=NOW))
    assert out[1].split()[3] == "1-01:01:01"
    assert out[1].split()[5] == "-"  # running without GPUs
    assert out[2].split()[3:] == ["-", "UNLIMITED", "(DependencyFailed:7)"]
    assert out[3].split()[3:] == ["00:00:05", "UNLIMITED", "(ExitCode:2)"]


def test_queue_fields_select_and_reject():
    out = lines(render.queue(chain(), render.parse_fields("jobid,st,nodelist,priority"), now=NOW))
    assert out[0].split() == ["JOBID", "ST", "NODELIST(REASON)", "PRIORITY"]
    assert out[2].split() == ["2", "R", "0,1", "0"]
    with pytest.raises(InvalidSpec, match='Unknown field "BOGUS"'):
        render.parse_fields("JOBID,bogus")


def test_queue_empty_says_so():
    assert render.queue([], now=NOW) == "No jobs found."


def test_queue_json_is_the_api_shape_and_csv_the_cells():
    jobs = chain()
    data = json.loads(render.queue(jobs, fmt="json"))
    assert data == {"jobs": jobs, "total": 5}
    rows = list(csv.reader(io.StringIO(render.queue(jobs, render.parse_fields("JOBID,NAME,NODELIST"), fmt="csv"))))
    assert rows[0] == ["JOBID", "NAME", "NODELIST(REASON)"]
    assert rows[2] == ["2", "train", "0,1"] and rows[3] == ["3", "other", "(Dependency)"]
    with pytest.raises(InvalidSpec):
        render.queue(jobs, fmt="yaml")


def test_tree_puts_children_under_their_first_parent_with_gflows_glyphs():
    out = lines(render.queue(chain(), render.parse_fields("JOBID,NAME,ST"), now=NOW, tree=True))
    assert out == [
        "JOBID             NAME   ST",
        "1                 prep   CD",
        "├─ 2              train  R",
        "│  └─ 4           eval   PD",  # 4 depends on 2 and 3: drawn once, under 2, its first parent
        "└─ 3              other  PD",
        "   ╰─→ see job 4",  # and named under 3 (gflow's mark)
        "5                 alone  H",
    ]


def test_tree_marks_every_other_parent_of_a_multi_parent_job():
    jobs = [job(1, "a"), job(2, "b"), job(3, "c", dependency="afterok:1"),
            job(4, "d", dependency="afterok:2:1"), job(5, "e", dependency="afterany:1?afterany:2")]
    out = lines(render.queue(jobs, render.parse_fields("JOBID,NAME"), now=NOW, tree=True))
    assert out == [
        "JOBID          NAME",
        "1              a",
        "├─ 3           c",
        "├─ 5           e",
        "╰─→ see job 4",  # 4 is drawn under 2, its first parent; the marks come after the real children
        "2              b",
        "├─ 4           d",
        "╰─→ see job 5",
    ]
    assert render.tree_order(jobs) == ([1, 3, 5, 2, 4], {1: "", 3: "├─ ", 5: "├─ ", 2: "", 4: "├─ "})


def test_tree_deeper_levels_and_missing_parents():
    jobs = [job(10, "a"), job(11, "b", dependency="afterok:10"), job(12, "c", dependency="afterok:11"),
            job(13, "d", dependency="afterok:11"), job(14, "e", dependency="afterok:99")]
    order, prefixes = render.tree_order(jobs)
    assert order == [10, 11, 12, 13, 14]
    assert [prefixes[i] for i in order] == ["", "└─ ", "   ├─ ", "   └─ ", ""]


def test_tree_delay_is_not_mistaken_for_a_parent():
    jobs = [job(1, "a"), job(2, "b", dependency="afterok:1+01:00:00")]
    assert render.parents_of(jobs[1]) == [1]
    assert render.tree_order(jobs)[1] == {1: "", 2: "└─ "}


def test_show_has_every_field_the_crane_dependency_line_and_attempts():
    j = Job(id=4, name="eval", command=("python", "eval.py"), state=JobState.QUEUED, reason=Reason("Dependency"),
            dependency="afterok:2,afterok:3", time_limit=5400, gpus=1, priority=5, group="g", user="ann",
            scope="tty:/dev/pts/3", cwd="/work", submitted_at=NOW, attempt=1, started_at=NOW, ended_at=NOW + 3,
            exit_code=1)
    a = Attempt(job_id=4, attempt=1, started_at=NOW, ended_at=NOW + 3, exit_code=1, gpus=(0,),
                state=JobState.FAILED, reason=Reason("ExitCode", {"code": 1}))
    reply = {"job": job_to_json(j), "attempts": [attempt_to_json(a)],
             "dependency": "Dependency=PendingDependencies=afterok:2,afterok:3 Status=WaitForAll", "dependents": [7]}
    text = render.show(reply, now=NOW)
    out = [line.strip() for line in lines(text)]
    assert out[0] == "JobId=4 JobName=eval"
    assert "Dependency=PendingDependencies=afterok:2,afterok:3 Status=WaitForAll" in out
    for piece in ("State=Queued (PD)", "Reason=Dependency", "UserId=ann", "Scope=tty:/dev/pts/3", "Group=g",
                  "Priority=5", "Command=python eval.py", "WorkDir=/work", "GPUs=1", "TimeLimit=01:30:00",
                  "Attempt=1", "ExitCode=1:0", "DependencyExpr=afterok:2,afterok:3", "Dependents=7"):
        assert piece in text, piece
    assert out[-2].split() == ["ATTEMPT", "STATE", "START", "END", "RUNTIME", "GPUS", "EXIT", "REASON"]
    assert out[-1].split()[:2] == ["1", "Failed"] and out[-1].split()[-4:] == ["00:00:03", "0", "1:0", "ExitCode:1"]


def test_show_without_dependency_or_attempts():
    text = render.show({"job": job(1, "solo", JobState.HOLD), "attempts": [], "dependency": None, "dependents": []})
    assert "   Dependency=(null)" in lines(text)
    assert "Attempts:" not in text


def test_ginfo_table_and_the_no_gpu_line():
    reply = {"gpus": [{"index": 0, "simulated": True, "jobs": [2]}, {"index": 1, "simulated": True, "jobs": []}],
             "reason": None}
    out = lines(render.gpus(reply, [job(2, "train", JobState.RUNNING, reason=None, allocated_gpus=(0,))]))
    assert out[0].split() == ["PARTITION", "GPUS", "NODES", "STATE", "JOB(REASON)"]
    assert out[1].split() == ["gpu", "1", "0", "allocated", "2", "(train)"]
    assert out[2].split() == ["gpu", "1", "1", "idle"]
    assert out[3] == "Note: GPU 0,1 are simulated (no real device)."
    sampled = {"gpus": [{"index": 0, "jobs": [3], "job_names": {"3": "fit"}, "util": 87, "memory_used_mib": 1024,
                         "memory_total_mib": 81920},
                        {"index": 1, "jobs": [], "busy": "2.0 GiB used by processes that are not jobs", "util": 0,
                         "memory_used_mib": 2048, "memory_total_mib": 81920}], "reason": None}
    out = lines(render.gpus(sampled))
    assert out[0].split() == ["PARTITION", "GPUS", "NODES", "STATE", "JOB(REASON)", "UTIL", "MEMORY"]
    assert out[1].split() == ["gpu", "1", "0", "allocated", "3", "(fit)", "87%", "1024/81920", "MiB"]
    assert out[2].split()[3:6] == ["allocated", "(2.0", "GiB"] and out[2].split()[-3:] == ["0%", "2048/81920", "MiB"]
    none = render.gpus({"gpus": [], "reason": "NVML is not available (libnvidia-ml.so.1 not found)"})
    assert len(lines(none)) == 1
    assert none.startswith("No GPUs available: NVML is not available (libnvidia-ml.so.1 not found).")


def test_cancel_report_splits_off_the_warnings():
    reply = {"text": "Cancelled job 3\nWarning: Job 1 is already in terminal state (Finished), skipped",
             "warnings": ["Warning: Job 1 is already in terminal state (Finished), skipped"]}
    assert render.cancel_report(reply) == ("Cancelled job 3", reply["warnings"])


def test_the_default_table_names_where_jobs_run_once_one_runs_on_slurm():
    here = chain()
    assert render.default_fields(here) == render.DEFAULT_FIELDS  # gflow's six columns, as gflow prints them
    jobs = here + [job(6, "fit", JobState.RUNNING, reason=None, started_at=NOW - 5, executor="slurm",
                       slurm_job_id=5012), job(7, "next", executor="slurm")]
    out = lines(render.queue(jobs, render.default_fields(jobs), now=NOW))
    assert out[0].split() == ["JOBID", "NAME", "ST", "TIME", "TIMELIMIT", "NODELIST(REASON)", "EXECUTOR"]
    assert [row.split()[-1] for row in out[1:]] == ["local"] * 5 + ["slurm:5012", "slurm"]
    assert render.parse_fields("id,executor") == ("JOBID", "EXECUTOR")

"""%%gbatch and friends in an IPython shell, and through real kernels, against a real daemon."""

from __future__ import annotations

import os
import queue

import pytest

pytest.importorskip("IPython")

from magics_support import cell, daemon, ip  # noqa: E402,F401  (fixtures)

from jupyter_jobflow.client.http import Client  # noqa: E402
from jupyter_jobflow.notebook.jobhandle import JobHandle  # noqa: E402


def test_cell_becomes_a_job_and_prints_submission(ip, capsys):
    job = cell(ip, """\
        %%gbatch --name hello
        print("hello from a job")
        """)
    assert isinstance(job, JobHandle) and job.name == "hello"
    assert capsys.readouterr().out.splitlines()[0] == f"Submitted batch job {job.id} (hello)"
    assert job.wait(30) == "Finished"
    assert job.log() == "hello from a job\n"
    assert job.status_line() == f"Submitted batch job {job.id} (hello): Finished"


def test_pipeline_with_at_cascades_on_failure(ip):
    prep = cell(ip, "%%gbatch --name prep\nprint('prep')\n")
    train = cell(ip, "%%gbatch --name train --depends-on @\nraise ValueError('bad data')\n")
    report = cell(ip, "%%gbatch --name report --depends-on @\nprint('report')\n")
    client = prep.client
    assert client.job(train.id)["job"]["dependency"] == f"afterok:{prep.id}"
    assert client.job(report.id)["job"]["dependency"] == f"afterok:{train.id}"
    assert [prep.wait(30), train.wait(30), report.wait(30)] == ["Finished", "Failed", "Cancelled"]
    assert client.job(report.id)["job"]["reason"] == f"DependencyFailed:{train.id}"
    assert "ValueError: bad data" in train.log()


def test_variables_travel_in_and_out(ip):
    ip.user_ns["config"] = {"lr": 0.1, "layers": [64, 32]}
    job = cell(ip, """\
        %%gbatch --in config --out summary,total
        summary = {"lr": config["lr"] * 10, "n": len(config["layers"])}
        total = sum(config["layers"])
        """)
    assert job.wait(30) == "Finished", job.log()
    result = job.result()
    assert result == {"summary": {"lr": 1.0, "n": 2}, "total": 96} and result.total == 96
    assert "total" not in ip.user_ns and "summary" not in ip.user_ns  # result() leaves the notebook alone
    ip.run_cell(f"%gresult {job.id}")
    assert ip.user_ns["total"] == 96 and ip.user_ns["summary"] == {"lr": 1.0, "n": 2}


def test_numpy_array_round_trip(ip):
    np = pytest.importorskip("numpy")
    ip.user_ns["matrix"] = np.arange(6).reshape(2, 3)
    job = cell(ip, "%%gbatch --in matrix --out doubled\ndoubled = matrix * 2\n")
    assert job.wait(60) == "Finished", job.log()
    assert (job.result()["doubled"] == np.arange(6).reshape(2, 3) * 2).all()


def test_unpicklable_variable_is_refused_and_nothing_submitted(ip, capsys, daemon):
    import threading

    ip.user_ns["lock"] = threading.Lock()
    before = Client.discover().jobs()["total"]
    assert cell(ip, "%%gbatch --in lock\nprint(lock)\n") is None
    err = capsys.readouterr().err
    assert err == ('gbatch: error: Cannot send variable "lock" (_thread.lock) to job: not picklable. '
                   "Recreate it inside the cell, or leave it out of --in\n")
    assert Client.discover().jobs()["total"] == before


def test_bad_dependency_is_one_line_and_nothing_submitted(ip, capsys):
    before = Client.discover().jobs()["total"]
    assert cell(ip, "%%gbatch --dependency afterOK:1\nprint(1)\n") is None
    assert capsys.readouterr().err == ('gbatch: error: Unknown dependency type "afterOK" in "afterOK:1" '
                                       '(did you mean "afterok"?)\n')
    assert Client.discover().jobs()["total"] == before


def test_traceback_points_at_the_cell_lines(ip):
    job = cell(ip, """\
        %%gbatch
        x = 1

        def broken():
            return undefined_name

        broken()
        """)
    assert job.wait(30) == "Failed"
    log = job.log()
    assert ', line 7, in <module>' in log and ', line 5, in broken' in log  # the %%gbatch line is line 1
    assert "NameError: name 'undefined_name' is not defined" in log


def test_directives_in_the_cell_count_and_shell_cells_run_in_bash(ip):
    job = cell(ip, """\
        %%gbatch
        #!/bin/bash
        #GBATCH --name from-directive
        #SBATCH --time=5
        echo "shell $((6 * 7))"
        """)
    assert job.name == "from-directive"
    info = job.client.job(job.id)["job"]
    assert info["time_limit"] == 300
    assert job.wait(30) == "Finished" and job.log() == "shell 42\n"


def test_a_gflow_bare_dependency_in_a_cell_says_how_it_is_read(ip, capsys):
    parent = ip.run_line_magic("gbatch", "true")
    assert parent.wait(30) == "Finished"
    job = cell(ip, f"""\
        %%gbatch -d {parent.id}
        print("after")
        """)
    assert f"-d {parent.id} is read as afterok:{parent.id}" in capsys.readouterr().err
    assert job.client.job(job.id)["job"]["dependency"] == f"afterok:{parent.id}"


def test_line_magic_runs_a_command(ip):
    job = ip.run_line_magic("gbatch", "--name echo sh -c 'echo line magic'")
    assert job.wait(30) == "Finished" and job.log() == "line magic\n"


def test_glog_shows_markup_in_a_log_as_text_never_as_html(ip, capsys, monkeypatch):
    shown = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    job = ip.run_line_magic("gbatch", "--name xss sh -c 'echo \"<script>alert(1)</script>\"'")
    assert job.wait(30) == "Finished"
    capsys.readouterr()
    ip.run_line_magic("glog", str(job.id))
    assert capsys.readouterr().out == "<script>alert(1)</script>\n" and shown == []  # printed, not rendered


def _kernel_outputs(kc, code: str) -> str:
    out: list[str] = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    kc.execute_interactive(code, output_hook=hook, timeout=60)
    return "".join(out)


def test_two_kernels_submitting_concurrently_link_only_their_own_jobs(daemon):
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ}
    kernels = [start_new_kernel(kernel_name="python3", env=env) for _ in range(2)]
    try:
        for _km, kc in kernels:
            _kernel_outputs(kc, "%load_ext jupyter_jobflow")
        # interleave: A1, B1, A2 (@), B2 (@), sent without waiting for each other
        code = "j = _jobs.append(get_ipython().run_cell_magic('gbatch', '{opts}', 'print(1)\\n')) or None"
        for _km, kc in kernels:
            _kernel_outputs(kc, "_jobs = []")
        pending = queue.Queue()
        for step in ("--name first", "--depends-on @ --name second"):
            for _km, kc in kernels:
                pending.put(kc.execute(code.format(opts=step)))
        for _km, kc in kernels:
            kc.get_shell_msg(timeout=60)
            kc.get_shell_msg(timeout=60)
        pairs = [_kernel_outputs(kc, "print(_jobs[0].id, _jobs[1].id)").split() for _km, kc in kernels]
        client = Client.discover()
        for first, second in pairs:
            assert client.job(int(second))["job"]["dependency"] == f"afterok:{first}"
    finally:
        for km, kc in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

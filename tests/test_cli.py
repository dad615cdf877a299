"""End to end: a real ``jobflow daemon`` subprocess, every command run as a real subprocess, and
their outputs compared with the spec (§1.5 messages, §1.6 dependency line, §1.7 K1-K5)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from jupyter_jobflow.client.discovery import read_endpoint, write_endpoint
from jupyter_jobflow.client.http import Client
from jupyter_jobflow.core.model import TERMINAL

ROOT = Path(__file__).resolve().parent.parent
HAVE_DAEMON = (ROOT / "jupyter_jobflow" / "server" / "daemon.py").exists()
pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(not HAVE_DAEMON, reason="jupyter_jobflow/server/daemon.py is not there yet")]


@dataclass
class Service:
    state_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen

    def client(self) -> Client:
        return Client.discover(self.state_dir)


def command_env(state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JOBFLOW_URL", "JOBFLOW_TOKEN")}
    env.update(JOBFLOW_HOME=str(state_dir), JOBFLOW_SIMULATED_GPUS="2")
    return env


def run_cli(env: dict[str, str], name: str, *args: str, stdin: str | None = None, cwd: Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    """One command, the way a terminal runs it: its console script (gbatch's is the fast path), in its own
    process, no tty."""
    script = Path(sys.executable).parent / name
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "jupyter_jobflow.cli", name]
    return subprocess.run([*argv, *args], env=env, cwd=cwd,
                          input=stdin if stdin is not None else "", capture_output=True, text=True, timeout=timeout)


def wait_for_endpoint(state_dir: Path, proc: subprocess.Popen | None = None, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_endpoint(state_dir)
        if info:
            return info
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"jobflow daemon exited with {proc.returncode}: {(state_dir / 'test-daemon.log').read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"no endpoint.json in {state_dir} after {timeout}s")


@pytest.fixture(scope="module")
def svc(tmp_path_factory) -> Service:
    state = tmp_path_factory.mktemp("jobflow")
    env = command_env(state)
    with open(state / "test-daemon.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "jupyter_jobflow.cli", "jobflow", "daemon"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_endpoint(state, proc)
        yield Service(state, env, proc)
    finally:
        try:
            client = Client.discover(state)
            active = [j["id"] for j in client.jobs(all=False)["jobs"]]
            if active:
                client.cancel(active)
        except Exception:
            pass
        stop = run_cli(env, "jobflow", "stop", "--timeout", "20")
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        assert stop.returncode == 0, stop.stderr
        assert "Stopped jobflow daemon" in stop.stdout
        assert not (state / "endpoint.json").exists()


def cli(svc: Service, name: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return run_cli(svc.env, name, *args, **kw)


def ok(svc: Service, name: str, *args: str, **kw) -> str:
    r = cli(svc, name, *args, **kw)
    assert r.returncode == 0, f"{name} {args}: rc {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr
    return r.stdout


def error(svc: Service, name: str, *args: str, **kw) -> str:
    """The one stderr line of a failing command."""
    r = cli(svc, name, *args, **kw)
    assert r.returncode == 1, f"{name} {args}: rc {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert len(r.stderr.splitlines()) == 1, r.stderr
    return r.stderr.rstrip("\n")


def submit(svc: Service, *args: str, **kw) -> int:
    return int(ok(svc, "gbatch", "--parsable", *args, **kw))


def wait_state(svc: Service, job_id: int, *states: str, timeout: float = 30) -> dict:
    client, deadline = svc.client(), time.monotonic() + timeout
    while True:
        job = client.job(job_id)["job"]
        if job["state"] in (states or TERMINAL):
            return job
        assert time.monotonic() < deadline, f"job {job_id} is {job['state']}, expected {states or TERMINAL}"
        time.sleep(0.05)


# --- gbatch ---------------------------------------------------------------------------------------


def test_gbatch_prints_the_submission_line_and_the_job_runs(svc):
    r = cli(svc, "gbatch", "--name", "hello", "echo", "hi there")
    assert r.returncode == 0 and r.stderr == ""
    first = r.stdout.splitlines()
    assert len(first) == 1 and first[0].startswith("Submitted batch job ") and first[0].endswith(" (hello)")
    job_id = int(first[0].split()[3])
    assert wait_state(svc, job_id)["state"] == "Finished"
    assert ok(svc, "gjob", "log", str(job_id)) == "hi there\n"


def test_gbatch_parsable_prints_the_id_alone(svc):
    out = ok(svc, "gbatch", "--parsable", "true")
    assert out.strip().isdigit() and out == out.strip() + "\n"


def test_gbatch_default_name_and_cwd_are_the_callers(svc, tmp_path):
    out = ok(svc, "gbatch", "python3", "-c", "import os; print(os.getcwd())", cwd=tmp_path)
    job_id = int(out.split()[3])
    assert out.strip().endswith("(python3)")
    wait_state(svc, job_id)
    assert ok(svc, "gjob", "log", str(job_id)).strip() == str(tmp_path)


@pytest.mark.parametrize("args, message", [
    (["-d", "after100", "true"],
     'Invalid dependency "after100" (col 1): expected <type>:<job_id>[+<delay>][:<job_id>[+<delay>]]... where '
     '<type> is after, afterok, afternotok, afterany, aftercorr; or "singleton"'),
    (["-d", "afterany:1,123", "true"],
     'Invalid dependency "123": missing dependency type. Write "afterok:123" (run only if 123 succeeds; gflow '
     '--depends-on) or "afterany:123" (run after 123 ends either way; Slurm\'s default)'),
    (["-d", "afterOK:5", "true"], 'Unknown dependency type "afterOK" in "afterOK:5" (did you mean "afterok"?)'),
    (["-d", "afterok:1,afterok:2?afterok:3", "true"],
     'Invalid dependency "afterok:1,afterok:2?afterok:3": cannot mix \',\' (AND) and \'?\' (OR) in one dependency; '
     "use one separator (AND and OR cannot be nested)"),
    (["--depends-on", "999999", "true"], "Dependency job 999999 not found"),
    (["--time", "1:2:3:4", "true"],
     'Invalid --time "1:2:3:4": expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS'),
    (["--bogus", "true"], 'unrecognized option "--bogus"'),
    ([], "Nothing to run: give a command, a script file, or - to read a script from stdin"),
    (["--in", "x", "true"], "--in only works in a notebook (%%gbatch); gbatch runs commands and scripts"),
])
def test_gbatch_errors_are_the_spec_lines(svc, args, message):
    assert error(svc, "gbatch", *args) == f"gbatch: error: {message}"


def test_gbatch_script_reads_directives_and_cli_wins(svc, tmp_path):
    script = tmp_path / "train.sh"
    script.write_text("#!/bin/bash\n#SBATCH --time=1:00:00\n# GFLOW --priority 7\n#SBATCH --partition gpu\n"
                      "echo from-script\n")
    r = cli(svc, "gbatch", str(script))
    assert r.returncode == 0
    assert r.stdout.strip().endswith("(train.sh)")
    assert r.stderr == 'gbatch: warning: Line 4: #SBATCH option "--partition" is not used by jobflow and is ignored\n'
    job_id = int(r.stdout.split()[3])
    show = ok(svc, "gjob", "show", str(job_id))
    assert "TimeLimit=01:00:00" in show and "Priority=7" in show
    wait_state(svc, job_id)
    assert ok(svc, "gjob", "log", str(job_id)) == "from-script\n"
    over = submit(svc, "--time", "5", "--name", "short", str(script))
    show = ok(svc, "gjob", "show", str(over))
    assert "JobName=short" in show and "TimeLimit=00:05:00" in show and "Priority=7" in show


def test_gbatch_script_with_a_shebang_and_from_stdin(svc, tmp_path):
    py = tmp_path / "calc.py"
    py.write_text("#!/usr/bin/env python3\n# GFLOW --name calc\nprint(6 * 7)\n")
    job_id = submit(svc, str(py))
    assert wait_state(svc, job_id)["state"] == "Finished"
    assert ok(svc, "gjob", "log", str(job_id)) == "42\n"
    out = ok(svc, "gbatch", "-", stdin="#GBATCH --name piped\necho from-stdin\n")
    job_id = int(out.split()[3])
    assert out.strip().endswith("(piped)")
    wait_state(svc, job_id)
    assert ok(svc, "gjob", "log", str(job_id)) == "from-stdin\n"


def test_gbatch_conflicting_directives_are_one_error_line(svc, tmp_path):
    script = tmp_path / "mixed.sh"
    script.write_text("#!/bin/bash\n#CBATCH --time 2:00:00\n#SBATCH --time=1:00:00\ntrue\n")
    assert error(svc, "gbatch", str(script)) == \
        "gbatch: error: Line 3 (#SBATCH --time=1:00:00) conflicts with line 2 (#CBATCH --time 2:00:00)"


# --- a chain: tree, show, dry run, release ------------------------------------------------------


def test_chain_with_at_tree_show_dry_run_and_release(svc):
    prep = submit(svc, "--hold", "--name", "prep", "true")
    train = submit(svc, "--depends-on", "@", "--name", "train", "true")
    evaluate = submit(svc, "--depends-on", "@", "--name", "eval", "true")
    ids = f"{prep},{train},{evaluate}"

    tree = ok(svc, "gqueue", "-t", "-j", ids, "-f", "JOBID,NAME,ST,NODELIST(REASON)").splitlines()
    assert tree[0].split() == ["JOBID", "NAME", "ST", "NODELIST(REASON)"]
    assert tree[1].split() == [str(prep), "prep", "H", "(JobHeldUser)"]
    assert tree[2].startswith(f"└─ {train} ") and tree[2].split()[2:] == ["train", "PD", "(Dependency)"]
    assert tree[3].startswith(f"   └─ {evaluate} ") and tree[3].split()[2:] == ["eval", "PD", "(Dependency)"]
    assert len(tree) == 4

    show = ok(svc, "gjob", "show", str(evaluate)).splitlines()
    assert f"   Dependency=PendingDependencies=afterok:{train} Status=WaitForAll" in show

    w = max(len(f"job {train} (train)"), len(f"job {evaluate} (eval)"))
    c = max(len(f"afterok:{prep}"), len(f"afterok:{train}"))
    assert ok(svc, "gcancel", "--dry-run", str(prep)) == "\n".join([
        f"Would cancel job {prep} (prep) [Hold]",
        "Dependents:",
        f"  {f'job {train} (train)':<{w}}   {f'afterok:{prep}':<{c}} -> will be cancelled (DependencyFailed:{prep})",
        f"  {f'job {evaluate} (eval)':<{w}}   {f'afterok:{train}':<{c}} -> will be cancelled "
        f"(DependencyFailed:{train})",
        f"To proceed: gcancel {prep}        To also cancel dependents that would otherwise stay queued: "
        f"gcancel --cascade {prep}",
    ]) + "\n"
    assert wait_state(svc, prep, "Hold")  # a dry run changes nothing

    assert ok(svc, "gjob", "release", str(prep)) == f"Job {prep} released.\n"
    assert wait_state(svc, evaluate)["state"] == "Finished"
    done = ok(svc, "gqueue", "-t", "-a", "-j", ids, "-f", "JOBID,ST").splitlines()
    assert [line.split()[-1] for line in done[1:]] == ["CD", "CD", "CD"]
    assert done[3].startswith("   └─ ")


def test_cascade_cancel_takes_the_dependents(svc):
    root = submit(svc, "--hold", "--name", "root", "true")
    child = submit(svc, "--depends-on", str(root), "--name", "child", "true")
    out = ok(svc, "gcancel", "--cascade", str(root))
    assert out.splitlines()[:3] == [f"Cancelled job {root}", f"Cancelled job {child}", "Dependents:"]
    assert wait_state(svc, child)["state"] == "Cancelled"


# --- gcancel errors (K5) --------------------------------------------------------------------------


def test_gcancel_errors_are_gflows_lines(svc):
    assert error(svc, "gcancel", "999999") == "gcancel: error: Job 999999 not found"
    assert error(svc, "gcancel", "abc") == "gcancel: error: Invalid job ID: abc"
    assert error(svc, "gcancel", "3-1") == "gcancel: error: Invalid job ID: 3-1"
    assert error(svc, "gcancel") == "gcancel: error: No job IDs specified"
    done = submit(svc, "true")
    wait_state(svc, done)
    assert error(svc, "gcancel", str(done)) == f"gcancel: error: Job {done} is already in terminal state (Finished)"


def test_gcancel_range_with_an_ended_job_cancels_the_rest_warns_and_exits_1(svc):
    done = submit(svc, "true")
    wait_state(svc, done)
    held = [submit(svc, "--hold", "sleep", "60") for _ in range(2)]
    r = cli(svc, "gcancel", f"{done},{held[0]}-{held[1]}")
    assert r.returncode == 1
    assert r.stdout == f"Cancelled job {held[0]}\nCancelled job {held[1]}\n"
    assert r.stderr == f"Warning: Job {done} is already in terminal state (Finished), skipped\n"
    assert all(wait_state(svc, j)["state"] == "Cancelled" for j in held)


# --- gqueue ---------------------------------------------------------------------------------------


def test_gqueue_default_shows_active_jobs_with_gflows_columns(svc):
    held = submit(svc, "--hold", "--name", "waiting", "--time", "90", "true")
    done = submit(svc, "true")
    wait_state(svc, done)
    lines = ok(svc, "gqueue").splitlines()
    assert lines[0].split() == ["JOBID", "NAME", "ST", "TIME", "TIMELIMIT", "NODELIST(REASON)"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[str(held)] == [str(held), "waiting", "H", "-", "01:30:00", "(JobHeldUser)"]
    assert str(done) not in rows
    assert str(done) in {line.split()[0] for line in ok(svc, "gqueue", "-a").splitlines()[1:]}
    ok(svc, "gcancel", str(held))


def test_gqueue_filters_and_machine_formats(svc):
    a = submit(svc, "--hold", "--name", "filter-me-a", "true")
    b = submit(svc, "--hold", "--name", "filter-me-b", "true")
    data = json.loads(ok(svc, "gqueue", "-N", "filter-me", "-o", "json"))
    assert [j["id"] for j in data["jobs"]] == [a, b] and data["total"] == 2
    assert data["jobs"][0]["state"] == "Hold"
    csv_out = ok(svc, "gqueue", "-j", f"{a},{b}", "-f", "JOBID,ST", "-o", "csv")
    assert csv_out == f"JOBID,ST\n{a},H\n{b},H\n"
    assert ok(svc, "gqueue", "-s", "H", "-j", str(a), "-f", "JOBID").split() == ["JOBID", str(a)]
    assert ok(svc, "gqueue", "-s", "Running", "--name", "filter-me") == "No jobs found.\n"
    assert error(svc, "gqueue", "-f", "JOBID,NOPE").startswith('gqueue: error: Unknown field "NOPE"')
    assert error(svc, "gqueue", "-s", "Sleeping").startswith('gqueue: error: Unknown job state "Sleeping"')
    ok(svc, "gcancel", f"{a},{b}")


def test_gqueue_watch_redraws_until_interrupted(svc, tmp_path):
    out_file = tmp_path / "watch.out"
    with open(out_file, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "jupyter_jobflow.cli", "gqueue", "--watch", "0.2"],
                                env=svc.env, stdout=out, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while out_file.read_text().count("\x1b[H\x1b[2J") < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and err == ""
    assert "Every 0.2s: gqueue --watch 0.2" in out_file.read_text()


# --- gjob -----------------------------------------------------------------------------------------


def test_gjob_hold_release_update_explain(svc):
    parent = submit(svc, "--hold", "--name", "parent", "true")
    job = submit(svc, "--depends-on", str(parent), "--name", "kid", "true")
    assert ok(svc, "gjob", "hold", str(job)) == f"Job {job} put on hold.\n"
    assert "Held by the user" in ok(svc, "gjob", "explain", str(job))
    assert ok(svc, "gjob", "update", str(job), "--time", "2:00:00", "--priority", "3") == f"Job {job} (kid) updated [Hold]\n"
    show = ok(svc, "gjob", "show", str(job))
    assert "TimeLimit=02:00:00" in show and "Priority=3" in show
    assert ok(svc, "gjob", "release", str(job)) == f"Job {job} released.\n"
    assert error(svc, "gjob", "release", str(job)) == f"gjob: error: Job {job} is Queued; only held jobs can be released"
    assert error(svc, "gjob", "update", str(job)).startswith("gjob: error: Nothing to update")
    assert error(svc, "gjob", "show", "999999") == "gjob: error: Job 999999 not found"
    assert error(svc, "gjob", "log", "1,2") == "gjob: error: gjob log takes one job ID, got 1,2"
    ok(svc, "gcancel", f"{parent},{job}")


def test_gjob_redo_new_and_in_place(svc):
    job = submit(svc, "--name", "again", "sh", "-c", "echo run")
    wait_state(svc, job)
    out = ok(svc, "gjob", "redo", str(job))
    assert out.startswith("Submitted batch job ") and out.strip().endswith(f"(again), a redo of job {job}")
    new = int(out.split()[3])
    assert new > job and wait_state(svc, new)["state"] == "Finished"
    assert f"RedoOf={job}" in ok(svc, "gjob", "show", str(new))
    assert ok(svc, "gjob", "redo", "--in-place", str(job)).startswith(f"Job {job} (again) requeued in place")
    assert wait_state(svc, job)["attempt"] == 2
    assert ok(svc, "gjob", "log", str(job), "--attempt", "1") == "run\n"
    show = ok(svc, "gjob", "show", str(job)).splitlines()
    assert show[-3].split()[:2] == ["ATTEMPT", "STATE"]
    assert [line.split()[:2] for line in show[-2:]] == [["1", "Finished"], ["2", "Finished"]]


def test_gjob_log_follow_prints_until_the_job_ends(svc):
    job = submit(svc, "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.3; done")
    r = cli(svc, "gjob", "log", "-f", str(job), timeout=30)
    assert r.returncode == 0 and r.stdout == "line1\nline2\nline3\n"
    assert svc.client().job(job)["job"]["state"] == "Finished"


def test_gjob_log_of_a_job_that_never_ran(svc):
    job = submit(svc, "--hold", "--name", "idle", "true")
    r = cli(svc, "gjob", "log", str(job))
    assert r.returncode == 0 and r.stdout == ""
    assert r.stderr == f"Job {job} (idle) has no log yet: it is Hold (JobHeldUser)\n"
    ok(svc, "gcancel", str(job))


# --- ginfo, jobflow ---------------------------------------------------------------------------------


def test_ginfo_shows_the_simulated_gpus_and_who_holds_them(svc):
    job = submit(svc, "--gpus", "1", "--name", "gpu-user", "sleep", "30")
    held = wait_state(svc, job, "Running")["allocated_gpus"]
    lines = ok(svc, "ginfo").splitlines()
    assert lines[0].split() == ["PARTITION", "GPUS", "NODES", "STATE", "JOB(REASON)", "UTIL", "MEMORY"]
    rows = {line.split()[2]: line.split()[3:] for line in lines[1:3]}
    assert rows[str(held[0])][:3] == ["allocated", str(job), "(gpu-user)"]  # UTIL, MEMORY may follow
    assert rows[str(1 - held[0])][0] == "idle"
    assert lines[3] == "Note: GPU 0,1 are simulated (no real device)."
    running = ok(svc, "gqueue", "-j", str(job), "-f", "JOBID,NODELIST").splitlines()[1].split()
    assert running == [str(job), str(held[0])]
    ok(svc, "gcancel", str(job))
    wait_state(svc, job)


def test_jobflow_status_names_the_host_and_directory(svc):
    out = ok(svc, "jobflow", "status").splitlines()
    assert out[0].startswith("jobflow daemon (pid ") and f"serves {svc.state_dir} at http://127.0.0.1:" in out[0]
    assert out[1].startswith("Jobs: ")


def test_jobflow_daemon_detach_status_and_stop(tmp_path):
    env = command_env(tmp_path)
    r = run_cli(env, "jobflow", "daemon", "--detach")
    try:
        assert r.returncode == 0, r.stderr
        info = read_endpoint(tmp_path)
        assert info and r.stdout == f"jobflow daemon (pid {info['pid']}) serves {tmp_path} at {info['url']}\n"
        again = run_cli(env, "jobflow", "daemon", "--detach")  # already running: the same one
        assert again.stdout == r.stdout
        assert run_cli(env, "jobflow", "status").stdout.startswith(f"jobflow daemon (pid {info['pid']}, version ")
        stop = run_cli(env, "jobflow", "stop")
        assert stop.returncode == 0 and stop.stdout.startswith(f"Stopped jobflow daemon (pid {info['pid']})")
        assert read_endpoint(tmp_path) is None
        assert run_cli(env, "jobflow", "stop").stdout == f"No jobflow daemon is running for {tmp_path}\n"
    finally:  # never leave a detached daemon behind
        left = read_endpoint(tmp_path)
        if left:
            os.kill(left["pid"], signal.SIGTERM)


# --- no service, wrong token, no traceback ------------------------------------------------------------


def test_without_a_service_every_command_says_so_in_one_line(tmp_path):
    env = command_env(tmp_path)
    for name, args in [("gqueue", []), ("gbatch", ["true"]), ("gcancel", ["1"]), ("gjob", ["show", "1"]),
                       ("ginfo", []), ("jobflow", ["status"])]:
        r = run_cli(env, name, *args)
        assert r.returncode == 1 and r.stdout == ""
        assert r.stderr == (f"{name}: error: no jobflow service is running for {tmp_path}: start one with "
                            f"`jobflow daemon --detach`, or open JupyterLab\n")


def test_connection_refused_and_a_wrong_token_are_one_line(svc, tmp_path):
    write_endpoint(tmp_path, {"url": "http://127.0.0.1:9/", "token": "x", "pid": os.getpid(), "host": "daemon"})
    r = run_cli(command_env(tmp_path), "gqueue")
    assert r.returncode == 1 and r.stderr == ("gqueue: error: cannot reach the jobflow service at "
                                              "http://127.0.0.1:9/jobflow/api/: connection refused (is it still running?)\n")
    real = read_endpoint(svc.state_dir)
    write_endpoint(tmp_path, {**real, "token": "wrong"})
    r = run_cli(command_env(tmp_path), "gqueue")
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("gqueue: error: the jobflow service refused the token (40")


def test_the_environment_url_is_used_when_no_state_dir_is_given(svc, tmp_path):
    real = read_endpoint(svc.state_dir)
    env = {**command_env(tmp_path), "JOBFLOW_URL": real["url"], "JOBFLOW_TOKEN": real["token"]}
    assert run_cli(env, "jobflow", "status").stdout.split("\n")[0].endswith(
        Client(real["url"]).url) and f"serves {svc.state_dir} " in run_cli(env, "jobflow", "status").stdout
    # an explicit --state-dir wins over the environment
    for name, args in [("gqueue", ["--state-dir", str(tmp_path)]), ("gbatch", ["--state-dir", str(tmp_path), "true"]),
                       ("gjob", ["show", "--state-dir", str(tmp_path), "1"])]:
        r = run_cli(env, name, *args)
        assert r.returncode == 1 and f"no jobflow service is running for {tmp_path}:" in r.stderr


def test_gbatch_array_tasks_and_a_dependent_on_the_whole_array(svc):
    r = cli(svc, "gbatch", "--array", "1-3%2", "--name", "sweep", "sh", "-c", 'echo "task $SLURM_ARRAY_TASK_ID"')
    assert r.returncode == 0 and r.stderr == ""
    line = r.stdout.strip()
    assert line.startswith("Submitted batch job ") and line.endswith(" (sweep)")
    first = int(line.split()[3])
    after = submit(svc, "--depends-on", "@", "--name", "after", "true")
    tasks = [first, first + 1, first + 2]
    job = svc.client().job(after)["job"]
    assert job["dependency"] == "afterok:" + ":".join(map(str, tasks))
    assert wait_state(svc, after)["state"] == "Finished"
    for index, jid in enumerate(tasks, 1):
        done = wait_state(svc, jid)
        assert (done["state"], done["name"], done["array_of"], done["group"]) == \
            ("Finished", f"sweep[{index}]", first, f"array-{first}")
        assert ok(svc, "gjob", "log", str(jid)) == f"task {index}\n"
    reply = svc.client().submit({"command": ["true"], "name": "api", "array": "0-4:2"})
    assert reply["array_ids"] == [reply["id"], reply["id"] + 1, reply["id"] + 2]
    assert reply["message"] == f"Submitted batch job {reply['id']} (api)"
    assert "array_ids" not in svc.client().submit({"command": ["true"]})

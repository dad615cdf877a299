"""LocalExecutor with real processes: logs, exit statuses, signals, restart, pid reuse."""

from __future__ import annotations

import dataclasses
import os
import select
import signal
import time
from pathlib import Path

import psutil
import pytest

from jupyter_jobflow.core.errors import NotFound
from jupyter_jobflow.engine.executors import Executor, ExitStatus, LaunchRequest, job_env
from jupyter_jobflow.engine.executors.local import LocalExecutor


@pytest.fixture
def ex(tmp_path):
    executor = LocalExecutor(tmp_path / "state")
    handles = []
    launch = executor.launch
    executor.launch = lambda req: handles.append(launch(req)) or handles[-1]
    yield executor
    for h in handles:  # whatever a failed test left running
        if executor.is_alive(h):
            os.killpg(h["pid"], signal.SIGKILL)
        try:
            os.waitpid(h["pid"], 0)
        except ChildProcessError:
            pass


def req(tmp_path, job_id, *argv, attempt=1, env=None):
    env = dict(os.environ) if env is None else env
    return LaunchRequest(job_id, attempt, tuple(argv), str(tmp_path), env)


def wait_end(ex, h, timeout=10.0):
    """Select on watch() until the supervisor exits, then collect."""
    fd = ex.pidfd(h)
    if fd is not None:
        try:
            assert select.select([fd], [], [], timeout)[0], "attempt did not end"
        finally:
            os.close(fd)
    return ex.collect(h)


def fifo(tmp_path, name):
    path = tmp_path / name
    os.mkfifo(path)
    return path


def read_line(path, timeout=10.0):
    """One line a job writes into a FIFO (no polling: select on the read end)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    buf, deadline = b"", time.monotonic() + timeout
    try:
        while not buf.endswith(b"\n"):
            assert select.select([fd], [], [], max(0, deadline - time.monotonic()))[0], "no line"
            buf += os.read(fd, 4096)
    finally:
        os.close(fd)
    return buf.decode()


def release(path):
    """Let a job blocked in ``read x < path`` go on. Returns the fd to close after its end."""
    fd = os.open(path, os.O_RDWR)  # never blocks, and keeps the line until the job opens it
    os.write(fd, b"go\n")
    return fd


def gone(pid, timeout=10.0):
    """The process exited (a zombie of some other parent counts as gone)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def test_protocol(ex):
    assert isinstance(ex, Executor)


def test_output_lands_in_attempt_log_merged_in_order(ex, tmp_path):
    h = ex.launch(req(tmp_path, 1, "sh", "-c", "echo out; echo err >&2; echo out2; pwd"))
    assert wait_end(ex, h) == ExitStatus(0, None, pytest.approx(time.time(), abs=5))
    assert ex.log_path(1, 1) == tmp_path / "state" / "logs" / "1" / "1.log"
    assert ex.log_path(1, 1).read_text() == f"out\nerr\nout2\n{tmp_path}\n"


@pytest.mark.parametrize("code", [0, 3])
def test_exit_code_recorded(ex, tmp_path, code):
    launched_at = time.time()
    h = ex.launch(req(tmp_path, 1, "sh", "-c", f"exit {code}"))
    st = wait_end(ex, h)
    assert (st.exit_code, st.signal) == (code, None)
    assert st.ended_at >= launched_at - 0.05  # mtime granularity is a clock tick
    with pytest.raises(ChildProcessError):  # collect() reaped the supervisor
        os.waitpid(h["pid"], os.WNOHANG)


def test_command_not_found_is_127_with_message(ex, tmp_path):
    h = ex.launch(req(tmp_path, 1, "no-such-command-jobflow", "x"))
    assert wait_end(ex, h).exit_code == 127
    assert "no-such-command-jobflow: not found" in ex.log_path(1, 1).read_text()


def test_argv_is_execd_not_interpreted_by_the_supervisor(ex, tmp_path):
    # "exit 3" as argv is the program named exit, not the shell builtin that would end the
    # supervisor before it records anything.
    h = ex.launch(req(tmp_path, 1, "exit", "3"))
    assert wait_end(ex, h).exit_code == 127
    h = ex.launch(req(tmp_path, 2, "printf", "%s|", "a b", "$HOME", "*"))
    assert wait_end(ex, h).exit_code == 0
    assert ex.log_path(2, 1).read_text() == "a b|$HOME|*|"


def test_environment_is_the_one_the_executor_builds_from_the_request(ex, tmp_path):
    env = {"PATH": os.environ["PATH"], "FOO": "a b", "code": "x"}
    request = dataclasses.replace(req(tmp_path, 1, "env", env=env), name="train", gpus=(2, 0), visible_devices=True,
                                  pci_order=True, runtime_env={"JOBFLOW_URL": "http://h/"})
    h = ex.launch(request)
    assert wait_end(ex, h).exit_code == 0
    lines = set(ex.log_path(1, 1).read_text().splitlines())
    base = {k: os.environ[k] for k in ("HOME", "USER", "LOGNAME", "SHELL") if k in os.environ}
    want = {**base, **env, "JOBFLOW_URL": "http://h/", "JOBFLOW_JOB_ID": "1", "JOBFLOW_ATTEMPT": "1",
            "JOBFLOW_JOB_NAME": "train", "CUDA_VISIBLE_DEVICES": "2,0", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    assert lines == {f"{k}={v}" for k, v in want.items()} | {f"PWD={tmp_path}"}
    assert job_env(request) == want  # the rule is one function, for every executor


def test_job_gets_default_signal_handling_and_no_stdin(ex, tmp_path):
    # Python ignores SIGPIPE; a job inheriting that would see "yes: Broken pipe" here.
    h = ex.launch(req(tmp_path, 1, "sh", "-c", "yes | head -n1; cat; echo done"))
    assert wait_end(ex, h).exit_code == 0
    assert ex.log_path(1, 1).read_text() == "y\ndone\n"


def test_second_attempt_has_its_own_log(ex, tmp_path):
    h1 = ex.launch(req(tmp_path, 7, "echo", "first", attempt=1))
    assert wait_end(ex, h1).exit_code == 0
    h2 = ex.launch(req(tmp_path, 7, "sh", "-c", "echo second; exit 1", attempt=2))
    assert wait_end(ex, h2).exit_code == 1
    assert ex.log_path(7, 1).read_text() == "first\n"
    assert ex.log_path(7, 2).read_text() == "second\n"
    assert wait_end(ex, h1).exit_code == 0  # attempt 1's status is its own too
    # Never overwritten: launching the same attempt again appends.
    assert wait_end(ex, ex.launch(req(tmp_path, 7, "echo", "again", attempt=1))).exit_code == 0
    assert ex.log_path(7, 1).read_text() == "first\nagain\n"


def test_read_log(ex, tmp_path):
    h = ex.launch(req(tmp_path, 1, "printf", "abcdef"))
    wait_end(ex, h)
    assert ex.read_log(1, 1) == (b"abcdef", 6)
    assert ex.read_log(1, 1, offset=2, limit=3) == (b"cde", 5)
    assert ex.read_log(1, 1, offset=6) == (b"", 6)
    with pytest.raises(NotFound, match="job 1 attempt 2"):
        ex.read_log(1, 2)


def test_launch_failure_raises_one_line(ex, tmp_path):
    with pytest.raises(OSError, match="working directory .* does not exist"):
        ex.launch(LaunchRequest(1, 1, ("true",), str(tmp_path / "missing"), dict(os.environ)))


def test_sigterm_kills_job_and_setsid_grandchild_status_recorded(ex, tmp_path):
    ready = fifo(tmp_path, "ready")
    h = ex.launch(req(tmp_path, 1, "sh", "-c",
                      "setsid sh -c 'echo $$ $PPID > ready; exec sleep 100' & wait"))
    grandchild, job = map(int, read_line(ready).split())
    assert os.getsid(grandchild) == grandchild != os.getsid(job) == h["pid"]  # it escaped
    ex.signal(h, signal.SIGTERM)
    st = wait_end(ex, h)
    # The supervisor survived the killpg and wrote the status.
    assert (st.exit_code, st.signal) == (None, signal.SIGTERM)
    assert gone(job) and gone(grandchild)
    assert "Terminated" in ex.log_path(1, 1).read_text()


def test_sigkill_escalation_spares_the_supervisor(ex, tmp_path):
    ready = fifo(tmp_path, "ready")
    h = ex.launch(req(tmp_path, 1, "sh", "-c",
                      "trap '' TERM; echo $$ > ready; while :; do sleep 1; done"))
    job = int(read_line(ready))
    ex.signal(h, signal.SIGTERM)
    fd = ex.pidfd(h)
    try:
        assert not select.select([fd], [], [], 0.3)[0]  # TERM is ignored: still running
        assert ex.is_alive(h) and psutil.pid_exists(job)
        ex.signal(h, signal.SIGKILL)
        assert select.select([fd], [], [], 10)[0]
    finally:
        os.close(fd)
    st = ex.collect(h)
    assert (st.exit_code, st.signal) == (None, signal.SIGKILL)
    assert gone(job)


def test_signal_right_after_launch_is_neither_lost_nor_swallowed(ex, tmp_path):
    # Before dash has set its traps, a SIGTERM would kill the supervisor (lost); between its fork
    # and the exec of the job, dash would swallow it (the job runs on until SIGKILL).
    for attempt in range(1, 21):
        h = ex.launch(req(tmp_path, 1, "sleep", "100", attempt=attempt))
        ex.signal(h, signal.SIGTERM)
        assert wait_end(ex, h).signal == signal.SIGTERM


def test_presignal_reaches_job_not_supervisor(ex, tmp_path):
    # T3's --signal=USR1@secs: USR1 kills by default, so the supervisor must trap it.
    ready = fifo(tmp_path, "ready")
    h = ex.launch(req(tmp_path, 1, "sh", "-c",
                      "trap 'exit 42' USR1; echo $$ > ready; while :; do sleep 0.05; done"))
    read_line(ready)
    ex.signal(h, signal.SIGUSR1)
    assert wait_end(ex, h) == ExitStatus(42, None, pytest.approx(time.time(), abs=5))


def test_exit_128_plus_n_without_our_signal_stays_an_exit_code(ex, tmp_path):
    h = ex.launch(req(tmp_path, 1, "sh", "-c", "exit 143"))
    assert wait_end(ex, h) == ExitStatus(143, None, pytest.approx(time.time(), abs=5))
    h = ex.launch(req(tmp_path, 2, "sh", "-c", "kill -KILL $$"))  # e.g. the OOM killer
    assert wait_end(ex, h).exit_code == 137


def test_watch_fd_readable_within_ms_of_the_end(ex, tmp_path):
    go = fifo(tmp_path, "go")
    h = ex.launch(req(tmp_path, 1, "sh", "-c", "read x < go; exit 5"))
    fd = ex.pidfd(h)
    try:
        assert not select.select([fd], [], [], 0)[0]
        t0 = time.perf_counter()
        keep = release(go)
        assert select.select([fd], [], [], 10)[0]
        assert time.perf_counter() - t0 < 0.05
        os.close(keep)
    finally:
        os.close(fd)
    assert ex.collect(h).exit_code == 5


def test_host_restart_readopts_running_and_ended_attempts(tmp_path):
    state = tmp_path / "state"
    go = fifo(tmp_path, "go")
    old = LocalExecutor(state)
    ended = old.launch(req(tmp_path, 1, "sh", "-c", "echo bye; exit 4"))
    later = old.launch(req(tmp_path, 2, "sh", "-c", "read x < go; echo late; exit 7"))
    assert gone(ended["pid"])  # attempt 1 ends while the "host" is down
    del old

    new = LocalExecutor(state)  # the restarted host: only the stored handles are known
    assert not new.is_alive(ended)
    assert new.pidfd(ended) is None
    assert new.reconcile(ended) == ExitStatus(4, None, pytest.approx(time.time(), abs=5))
    assert new.read_log(1, 1) == (b"bye\n", 4)

    assert new.is_alive(later) and new.reconcile(later) == "running"
    fd = new.pidfd(later)
    try:
        keep = release(go)
        assert select.select([fd], [], [], 10)[0]
        os.close(keep)
    finally:
        os.close(fd)
    assert not new.is_alive(later)
    assert new.collect(later).exit_code == 7
    assert new.reconcile(later).exit_code == 7
    assert new.read_log(2, 1)[0] == b"late\n"


def test_supervisor_killed_is_lost(ex, tmp_path):
    ready = fifo(tmp_path, "ready")
    h = ex.launch(req(tmp_path, 1, "sh", "-c", "echo $$ > ready; exec sleep 100"))
    job = int(read_line(ready))
    os.kill(h["pid"], signal.SIGKILL)  # e.g. the OOM killer took the supervisor
    assert gone(h["pid"])
    assert ex.collect(h) is None
    assert ex.reconcile(h) == "lost"
    os.kill(job, signal.SIGKILL)


def test_pid_reuse_is_not_alive(ex, tmp_path):
    go = fifo(tmp_path, "go")
    h = ex.launch(req(tmp_path, 1, "sh", "-c", "read x < go"))
    impostor = {**h, "start": h["start"] - 3600}
    assert ex.is_alive(h)
    assert not ex.is_alive(impostor)
    assert ex.pidfd(impostor) is None
    ex.signal(impostor, signal.SIGKILL)  # must not touch the process now holding that pid
    assert ex.is_alive(h)
    assert ex.reconcile(impostor) == "lost"
    keep = release(go)
    assert wait_end(ex, h).exit_code == 0
    os.close(keep)
    assert not ex.is_alive(h)
    assert ex.signal(h, signal.SIGTERM) is None  # ended: nothing to signal, no error


def test_status_file_cut_short_reads_as_no_status(ex, tmp_path):
    h = ex.launch(req(tmp_path, 1, "true"))
    wait_end(ex, h)
    Path(ex.status_path(1, 1)).write_text("")  # the supervisor killed between open and write
    assert ex.collect(h) is None and ex.reconcile(h) == "lost"


# -- exactly once: an attempt whose pid was never recorded is found, or known never to have begun --
def test_a_new_executor_finds_a_running_attempt_by_job_and_attempt_alone(ex, tmp_path):
    assert not ex.started(5, 2) and ex.find(5, 2) is None  # nothing launched: safe to start
    os.mkfifo(tmp_path / "go2")
    h = ex.launch(req(tmp_path, 5, "sh", "-c", "read x < go2; exit 3", attempt=2))
    other = ex.launch(req(tmp_path, 5, "sh", "-c", "read x < go2", attempt=1))  # another attempt: not it
    fresh = LocalExecutor(tmp_path / "state")  # as after a restart, with only (job, attempt) stored
    found = fresh.find(5, 2)
    assert (found["pid"], found["start"]) == (h["pid"], pytest.approx(h["start"], abs=0.05))
    assert fresh.started(5, 2) and fresh.reconcile(found) == "running"
    assert fresh.find(5, 3) is None and fresh.find(6, 2) is None
    assert LocalExecutor(tmp_path / "elsewhere").find(5, 2) is None  # another state directory's
    with open(tmp_path / "go2", "w") as f:
        f.write("a\nb\n")
    assert wait_end(ex, h).exit_code == 3 and wait_end(ex, other).exit_code == 0
    assert fresh.find(5, 2) is None and fresh.read_status(5, 2).exit_code == 3


def test_status_file_is_private_and_the_job_keeps_the_users_umask(ex, tmp_path):
    old = os.umask(0o022)
    try:
        h = LocalExecutor(tmp_path / "state2").launch(req(tmp_path, 1, "sh", "-c", "echo > made"))
        os.waitpid(h["pid"], 0)
    finally:
        os.umask(old)
    status = tmp_path / "state2" / "status" / "1.1"
    assert status.read_text() == "0\n"
    assert status.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "made").stat().st_mode & 0o777 == 0o644


def test_kill_ends_the_attempt_whole_and_it_reads_as_lost(ex, tmp_path):
    h = ex.launch(req(tmp_path, 1, "sh", "-c", "sleep 100 & sleep 100"))
    deadline = time.monotonic() + 10
    while len(tree := [h["pid"]] + [p.pid for p in psutil.Process(h["pid"]).children(recursive=True)]) < 4:
        assert time.monotonic() < deadline  # supervisor, the job's shell, its two sleeps
        time.sleep(0.005)
    procs = [psutil.Process(p) for p in tree]
    ex.kill(h)
    _, alive = psutil.wait_procs(procs, timeout=5)  # (SIGKILL lands at once; the exit takes a moment)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    assert ex.started(1, 1) and ex.reconcile(h) == "lost"


# --- --output / --error files ----------------------------------------------------------------------


def out_req(tmp_path, job_id, *argv, output=None, error=None, attempt=1):
    return dataclasses.replace(req(tmp_path, job_id, *argv, attempt=attempt), output=output, error=error)


def test_output_file_gets_stdout_and_stderr_and_the_log_stays(ex, tmp_path):
    old = os.umask(0o022)
    try:
        h = ex.launch(out_req(tmp_path, 1, "sh", "-c", "echo out; echo err >&2; exit 3", output="job.out"))
    finally:
        os.umask(old)
    assert wait_end(ex, h).exit_code == 3  # the job's status, not tee's
    assert (tmp_path / "job.out").read_text() == "out\nerr\n"  # relative to the job's directory
    assert (tmp_path / "job.out").stat().st_mode & 0o777 == 0o644  # the user's umask, not the log's 0600
    assert ex.log_path(1, 1).read_text() == "out\nerr\n"
    assert (tmp_path / "state" / "status" / "1.1").stat().st_mode & 0o777 == 0o600


def test_error_file_gets_stderr_only_and_a_retry_appends(ex, tmp_path):
    script = 'echo "out $JOBFLOW_N"; echo "err $JOBFLOW_N" >&2'
    for attempt in (1, 2):
        r = out_req(tmp_path, 1, "sh", "-c", script, output="o.txt", error=str(tmp_path / "e.txt"), attempt=attempt)
        h = ex.launch(dataclasses.replace(r, env={**r.env, "JOBFLOW_N": str(attempt)}))
        assert wait_end(ex, h).exit_code == 0
    assert (tmp_path / "o.txt").read_text() == "out 1\nout 2\n"
    assert (tmp_path / "e.txt").read_text() == "err 1\nerr 2\n"
    assert sorted(ex.log_path(1, 2).read_text().splitlines()) == ["err 2", "out 2"]
    h = ex.launch(out_req(tmp_path, 2, "sh", "-c", "echo again >&2", error="e.txt"))  # a new job: truncated
    assert wait_end(ex, h).exit_code == 0
    assert (tmp_path / "e.txt").read_text() == "again\n" and not (tmp_path / "2").exists()
    assert ex.log_path(2, 1).read_text() == "again\n"


def test_output_file_that_cannot_be_written_fails_the_job_in_one_line(ex, tmp_path):
    h = ex.launch(out_req(tmp_path, 1, "sh", "-c", "echo ran > ran", output="no/such/dir/x.out"))
    assert wait_end(ex, h).exit_code == 1
    assert ex.log_path(1, 1).read_text() == "jobflow: cannot write no/such/dir/x.out\n"
    assert not (tmp_path / "ran").exists()


def test_with_an_output_file_a_cancel_reaches_the_job_which_may_still_print(ex, tmp_path):
    ready = fifo(tmp_path, "ready")
    h = ex.launch(out_req(tmp_path, 1, "sh", "-c",
                          "trap 'echo bye; exit 7' TERM; echo $$ > ready; while :; do sleep 0.05; done",
                          output="o.txt"))
    read_line(ready)
    ex.signal(h, signal.SIGTERM)
    assert wait_end(ex, h).exit_code == 7  # the job's own status, after its goodbye
    said = (tmp_path / "o.txt").read_text()  # (the job's shell may first report its sleep "Terminated")
    assert said.endswith("bye\n") and ex.log_path(1, 1).read_text() == said
    for attempt in range(1, 11):  # and a job that does not trap it dies of it, as without a file
        h = ex.launch(out_req(tmp_path, 2, "sleep", "100", output="s.txt", attempt=attempt))
        ex.signal(h, signal.SIGTERM)
        assert wait_end(ex, h).signal == signal.SIGTERM


def test_an_attempt_with_an_output_file_is_found_again_by_job_and_attempt(ex, tmp_path):
    os.mkfifo(tmp_path / "go")
    h = ex.launch(out_req(tmp_path, 7, "sh", "-c", "read x < go; echo done", output="o.txt", attempt=3))
    found = LocalExecutor(tmp_path / "state").find(7, 3)
    assert found is not None and found["pid"] == h["pid"]
    with open(tmp_path / "go", "w") as f:
        f.write("x\n")
    assert wait_end(ex, h).exit_code == 0 and (tmp_path / "o.txt").read_text() == "done\n"

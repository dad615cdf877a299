"""The compatibility rules of docs/commands.md, end to end: a real ``jobflow daemon``, every command a
real subprocess (gbatch by its fast path), real jobs. ``@`` per login session on a reused pty,
aftercorr per task, gflow's spellings taken or refused, ``gqueue -t``'s other parents, ``--output``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import HAVE_DAEMON, cli, error, ok, run_cli, submit, svc, wait_state  # noqa: F401 (svc: fixture)

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(not HAVE_DAEMON, reason="jupyter_jobflow/server/daemon.py is not there yet")]

GBATCH = str(Path(sys.executable).parent / "gbatch")


# --- @ in a terminal: the login session, not the pty ------------------------------------------------


def in_session(svc, pty_slave: int, script: str) -> subprocess.CompletedProcess:
    """``script`` (sh) as a new login session (setsid) whose terminal is ``pty_slave``: what a new
    terminal window gets, on a pty that an earlier, closed one had."""
    return subprocess.run(["sh", "-c", script], env={**svc.env, "GBATCH": GBATCH}, stdin=pty_slave,
                          capture_output=True, text=True, timeout=60, start_new_session=True)


def test_two_terminals_on_the_same_pty_have_their_own_at(svc):
    master, slave = os.openpty()
    try:
        tty = os.ttyname(slave)
        first = in_session(svc, slave, '"$GBATCH" --parsable --name one true && "$GBATCH" --parsable -d @ true')
        assert first.returncode == 0, first.stderr
        one, two = map(int, first.stdout.split())
        assert svc.client().job(two)["job"]["dependency"] == f"afterok:{one}"  # @ within one session
        assert wait_state(svc, one)["state"] == "Finished"
        scope = svc.client().job(one)["job"]["scope"]
        assert scope.startswith("tty:") and tty not in scope  # keyed by the session, not /dev/pts/N
        # the first terminal is closed; a new one gets the same pty: its @ is not the old session's job
        second = in_session(svc, slave, '"$GBATCH" --depends-on @ true')
        assert second.returncode == 1 and second.stdout == ""
        assert second.stderr == ('gbatch: error: "@" refers to the most recent submission, but this terminal '
                                 'has submitted no jobs\n')
        third = in_session(svc, slave, '"$GBATCH" --parsable --name mine true && "$GBATCH" --parsable -d @ true')
        mine, after = map(int, third.stdout.split())
        assert svc.client().job(after)["job"]["dependency"] == f"afterok:{mine}"
        assert svc.client().job(mine)["job"]["scope"] != scope
    finally:
        os.close(slave)
        os.close(master)


# --- gflow's spellings ----------------------------------------------------------------------------


def test_gbatch_dash_d_at_and_a_bare_id_are_gflows_afterok_with_a_note(svc):
    first = submit(svc, "--hold", "true")
    r = cli(svc, "gbatch", "--parsable", "-d", "@", "--hold", "true")  # no tty: @ is the user's history
    assert r.returncode == 0
    assert r.stderr == ("gbatch: warning: -d @ is read as afterok:@ (as gflow does: run only if it succeeds); "
                        "write afterany:@ to run after it ends either way (Slurm's meaning of a bare id)\n")
    assert svc.client().job(int(r.stdout))["job"]["dependency"] == f"afterok:{first}"
    r = cli(svc, "gbatch", "--parsable", "--dependency", str(first), "--hold", "true")
    assert r.returncode == 0 and r.stderr.startswith(f"gbatch: warning: --dependency {first} is read as afterok:")
    assert svc.client().job(int(r.stdout))["job"]["dependency"] == f"afterok:{first}"
    svc.client().cancel([first])


def test_gqueue_n_is_refused_with_the_two_meanings_and_limit_is_gflows(svc):
    assert error(svc, "gqueue", "-n", "5") == (
        'gqueue: error: -n is refused: in gflow "-n 5" limits the number of jobs shown, here it once filtered '
        'names. Write --limit 5 for the limit, or -N 5 (--name) for jobs whose name contains "5"')
    ids = [submit(svc, "--hold", "--name", f"lim-{n}", "true") for n in range(3)]
    def shown(*args):
        return [int(line.split()[0]) for line in ok(svc, "gqueue", "-N", "lim-", *args).splitlines()[1:]]
    assert shown() == ids
    assert shown("--limit", "2") == ids[:2] and shown("--limit", "-1") == ids[-1:] and shown("--limit", "0") == ids
    assert error(svc, "gqueue", "--limit", "x") == ('gqueue: error: --limit expects a whole number (5: the first 5 '
                                                    'jobs, -5: the last 5, 0: all), got "x"')
    svc.client().cancel(ids)


def test_gqueue_tree_names_a_job_under_its_other_parents(svc):
    a = submit(svc, "--hold", "--name", "ta", "true")
    b = submit(svc, "--hold", "--name", "tb", "true")
    c = submit(svc, "--hold", "--name", "tc", "-d", f"afterok:{a}:{b}", "true")
    out = ok(svc, "gqueue", "-t", "-j", f"{a},{b},{c}", "-f", "JOBID,NAME").splitlines()
    assert [line.split() for line in out] == [
        ["JOBID", "NAME"], [str(a), "ta"], ["└─", str(c), "tc"],  # drawn under its first parent
        [str(b), "tb"], ["╰─→", "see", "job", str(c)],  # and named under the other one, as gflow does
    ]
    svc.client().cancel([a, b, c])


# --- aftercorr per task, with real jobs -------------------------------------------------------------


def test_aftercorr_task_i_waits_for_task_i_only(svc):
    parent = int(ok(svc, "gbatch", "--array", "1-3", "--hold", "--parsable", "sh", "-c",
                    '[ "$SLURM_ARRAY_TASK_ID" != 2 ]').strip())
    child = submit(svc, "--array", "1-3", "-d", f"aftercorr:{parent}", "sh", "-c", 'echo "child $SLURM_ARRAY_TASK_ID"')
    parents, children = [parent, parent + 1, parent + 2], [child, child + 1, child + 2]
    assert [svc.client().job(c)["job"]["dependency"] for c in children] == [f"aftercorr:{p}" for p in parents]
    ok(svc, "gjob", "release", *map(str, parents))
    states = [wait_state(svc, c)["state"] for c in children]
    assert states == ["Finished", "Cancelled", "Finished"]  # only the child of the failed task 2
    assert wait_state(svc, children[1])["reason"] == f"DependencyFailed:{parents[1]}"
    assert ok(svc, "gjob", "log", str(children[2])) == "child 3\n"


# --- --output / --error -----------------------------------------------------------------------------


def test_sbatch_output_pattern_in_a_script_writes_the_file_and_the_log_stays(svc, tmp_path):
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\n#SBATCH --output job-%j.out\n#SBATCH -e job-%x-%j.err\necho hello\necho oops >&2\n")
    r = cli(svc, "gbatch", "--parsable", "run.sh", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == ""  # no "ignored" warning any more
    job = int(r.stdout)
    assert wait_state(svc, job)["state"] == "Finished"
    assert (tmp_path / f"job-{job}.out").read_text() == "hello\n"
    assert (tmp_path / f"job-run.sh-{job}.err").read_text() == "oops\n"
    assert sorted(ok(svc, "gjob", "log", str(job)).splitlines()) == ["hello", "oops"]


def test_output_patterns_of_an_array_command(svc, tmp_path):
    (tmp_path / "out").mkdir()  # the directory must exist, as with sbatch
    r = cli(svc, "gbatch", "--parsable", "--array", "0-1", "--name", "sw", "-o", "out/%x_%A_%a.txt", "-D", str(tmp_path),
            "sh", "-c", 'echo "task $SLURM_ARRAY_TASK_ID"')
    first = int(r.stdout)
    for n in (0, 1):
        state = wait_state(svc, first + n)["state"]
        assert state == "Finished", ok(svc, "gjob", "log", str(first + n))
        assert (tmp_path / "out" / f"sw_{first}_{n}.txt").read_text() == f"task {n}\n"

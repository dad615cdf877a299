"""The commands without a service: lazy imports, id syntax, entry points, error plumbing."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_jobflow.cli import common as cli
from jupyter_jobflow.cli import gqueue
from jupyter_jobflow.client.http import api_root, error_from_reply
from jupyter_jobflow.core import submission
from jupyter_jobflow.core.errors import Conflict, InvalidSpec, JobflowError, NotFound, Unavailable
from jupyter_jobflow.core.options import parse_submit_args, to_submit_body

ROOT = Path(__file__).resolve().parent.parent


def test_gbatch_help_imports_neither_tornado_nor_sqlite():
    code = ("import sys\n"
            "from jupyter_jobflow.cli import common as cli, gbatch\n"
            "try:\n"
            "    cli.run('gbatch', gbatch.command, ['--help'])\n"
            "except SystemExit as e:\n"
            "    assert e.code == 0\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tornado', 'sqlite3', '_sqlite3', 'jupyter_server', 'sqlite_utils', 'psutil'))\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]"
    assert "usage: gbatch" in out


@pytest.mark.parametrize("words, ids", [
    (["42"], [42]), (["1", "2", "3"], [1, 2, 3]), (["1,2,3"], [1, 2, 3]), (["1-5"], [1, 2, 3, 4, 5]),
    (["1,3,5-7,10"], [1, 3, 5, 6, 7, 10]), (["3", "3,4"], [3, 4]),
])
def test_ids_take_gflows_syntax(words, ids):
    assert cli.parse_ids(words) == ids


@pytest.mark.parametrize("words, message", [
    (["abc"], "Invalid job ID: abc"), (["1,x"], "Invalid job ID: x"), (["5-2"], "Invalid job ID: 5-2"),
    (["0"], "Invalid job ID: 0"), (["-3"], "Invalid job ID: -3"), ([], "No job IDs specified"),
    ([","], "No job IDs specified"), (["1-1000000"], "Too many job IDs: 1-1000000 (at most 100000 at once)"),
])
def test_bad_ids_are_k5_messages(words, message):
    with pytest.raises(InvalidSpec) as err:
        cli.parse_ids(words)
    assert str(err.value) == message


def test_every_console_script_points_at_a_callable():
    section = (ROOT / "pyproject.toml").read_text().split("[project.scripts]\n", 1)[1].split("\n[", 1)[0]
    scripts = dict(re.findall(r'^(\w+) = "([\w.:]+)"$', section, re.M))  # no tomllib on Python 3.10
    assert set(scripts) == {"gbatch", "gqueue", "gcancel", "gjob", "ginfo", "gpipe", "jobflow"}
    for target in scripts.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func))


def test_error_replies_become_the_same_class():
    err = error_from_reply(404, b'{"message": "Job 9 not found", "reason": "NotFound"}')
    assert type(err) is NotFound and str(err) == "Job 9 not found"
    assert type(error_from_reply(409, {"message": "busy", "reason": "Conflict"})) is Conflict
    assert type(error_from_reply(400, b'{"message": "x", "reason": "IllegalTransition"}')).__name__ == "IllegalTransition"
    assert type(error_from_reply(503, b"<html>down</html>")) is Unavailable
    assert str(error_from_reply(503, b"<html>down</html>")) == "<html>down</html>"
    odd = error_from_reply(500, b'{"message": "boom\\nline two", "reason": "Internal Server Error"}')
    assert type(odd) is JobflowError and str(odd) == "boom line two"
    assert "refused the token (403)" in str(error_from_reply(403, b'{"message": "Forbidden", "reason": "Forbidden"}'))


def test_api_root_takes_a_server_url_or_the_api_url():
    assert api_root("http://h:1") == "http://h:1/jobflow/api/"
    assert api_root("http://h:1/lab/base/") == "http://h:1/lab/base/jobflow/api/"
    assert api_root("http://h:1/jobflow/api") == "http://h:1/jobflow/api/"


def test_submit_body_sends_only_what_was_given(tmp_path):
    assert to_submit_body(parse_submit_args(["true"])) == {"command": ["true"]}
    body = to_submit_body(parse_submit_args(["--depends-on-any", "@,@~1", "-t", "UNLIMITED", "-G", "0,2",
                                             "--no-auto-cancel", "--env", "A=1", "--retry-on", "timeout",
                                             "-D", "sub", "--parsable", "x"]),
                          scope="tty:/dev/pts/1", scope_name="this terminal", cwd=str(tmp_path))
    assert body == {"auto_cancel": False, "time_limit": "UNLIMITED", "gpus": "0,2",
                    "dependency": "afterok:@?afterok:@~1", "retry_on": ["timeout"], "env": {"A": "1"},
                    "export": "A", "cwd": str(tmp_path / "sub"), "command": ["x"], "scope": "tty:/dev/pts/1",
                    "scope_name": "this terminal"}
    assert to_submit_body(parse_submit_args(["-t", "90", "--gpus", "2", "--priority", "-1", "y"]))["time_limit"] == 5400


def test_run_turns_any_failure_into_one_line(capsys):
    def boom(argv):
        raise KeyError("x")

    assert cli.run("gqueue", boom, []) == 1
    assert capsys.readouterr().err == "gqueue: error: internal error (KeyError: 'x'); set JOBFLOW_DEBUG=1 for the traceback\n"
    assert cli.run("gqueue", gqueue.command, ["-o", "yaml"]) == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith("gqueue: error: argument -o/--output: invalid choice")


def test_script_detection_and_interpreter(tmp_path):
    script = tmp_path / "s.sh"
    script.write_text("#!/usr/bin/env -S python3 -u\nprint(1)\n")
    assert submission._script([str(script)], str(tmp_path)) == (script.read_text(), "s.sh")
    assert submission.interpreter(script.read_text()) == "/usr/bin/env -S python3 -u"
    assert submission.interpreter("echo hi\n") == "/bin/bash"
    binary = tmp_path / "a.out"
    binary.write_bytes(b"\x7fELF\0\0\0")
    assert submission._script([str(binary)], str(tmp_path)) is None
    assert submission._script([str(script), "arg"], str(tmp_path)) is None  # a script with arguments runs as a command
    assert submission._script(["no-such-file"], str(tmp_path)) is None

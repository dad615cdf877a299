"""The one submit-option parser shared by ``gbatch``, ``%%gbatch`` and directives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_jobflow.core.depspec import parse
from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.options import SubmitOptions, build_parser, merge, parse_submit_args


def error_of(argv: list[str]) -> str:
    with pytest.raises(InvalidSpec) as err:
        parse_submit_args(argv)
    return str(err.value)


# --- the command ------------------------------------------------------------------------------


def test_options_command_keeps_its_own_flags():
    opts = parse_submit_args(["--gpus", "1", "-t", "2:00:00", "python", "train.py", "--lr", "0.1", "--name", "x"])
    assert opts.command == ["python", "train.py", "--lr", "0.1", "--name", "x"]
    assert opts.name is None and opts.gpus == 1 and opts.time_limit == 7200


def test_options_double_dash_separates_the_command():
    assert parse_submit_args(["--hold", "--", "python", "-c", "pass"]).command == ["python", "-c", "pass"]


def test_options_nothing_given_is_all_defaults():
    assert parse_submit_args([]) == SubmitOptions()
    assert SubmitOptions().explicit == frozenset()


# --- spellings --------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--name", "a"], ["-J", "a"], ["--job-name", "a"], ["--name=a"], ["-Ja"]])
def test_options_name_aliases(argv):
    assert parse_submit_args(argv).name == "a"


def test_options_short_aliases():
    opts = parse_submit_args(["-t", "30", "-G", "2", "-d", "afterok:5", "-D", "/tmp"])
    assert (opts.time_limit, opts.gpus, opts.chdir) == (1800, 2, "/tmp")
    assert opts.dependency == parse("afterok:5")


def test_options_gflow_and_slurm_dependency_spellings_parse_equal():
    gflow = parse_submit_args(["--depends-on-all", "1,2", "--no-auto-cancel"])
    slurm = parse_submit_args(["--dependency=afterok:1,afterok:2", "--kill-on-invalid-dep=no"])
    assert gflow.dependency == slurm.dependency == parse("afterok:1:2")
    assert gflow.auto_cancel is slurm.auto_cancel is False
    assert gflow.explicit == slurm.explicit == {"dependency", "auto_cancel"}
    assert parse_submit_args(["--depends-on-any", "@,@~1"]).dependency == parse("afterok:@?afterok:@~1")


def test_options_gres_is_the_slurm_spelling_of_gpus():
    assert parse_submit_args(["--gres", "gpu:2"]) == parse_submit_args(["--gpus", "2"])
    assert parse_submit_args(["--gres=gpu:a100:3"]).gpus == 3
    assert parse_submit_args(["--gres=gpu"]).gpus == 1


# --- values -----------------------------------------------------------------------------------


def test_options_gpus_count_or_ids():
    assert (parse_submit_args(["--gpus", "2"]).gpus, parse_submit_args(["--gpus", "2"]).gpu_ids) == (2, None)
    opts = parse_submit_args(["--gpus", "0,2"])
    assert (opts.gpus, opts.gpu_ids) == (2, (0, 2))
    assert parse_submit_args(["--gpus", "3,"]).gpu_ids == (3,)


def test_options_time_given_tells_unlimited_from_unset():
    assert parse_submit_args(["--time", "UNLIMITED"]).time_limit is None
    assert parse_submit_args(["--time", "UNLIMITED"]).time_given
    assert not parse_submit_args([]).time_given


def test_options_time_uses_the_time_limit_grammar():
    assert parse_submit_args(["-t", "0:30"]).time_limit == 30
    assert parse_submit_args(["--time", "90s"]).time_limit == 90
    assert error_of(["--time", "1:2:3:4"]) == (
        'Invalid --time "1:2:3:4": expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS'
    )


def test_options_auto_cancel():
    assert parse_submit_args([]).auto_cancel is True
    assert parse_submit_args(["--no-auto-cancel"]).auto_cancel is False
    assert parse_submit_args(["--kill-on-invalid-dep", "yes"]).auto_cancel is True
    assert parse_submit_args(["--kill-on-invalid-dep", "NO"]).auto_cancel is False


def test_options_retry_settings():
    opts = parse_submit_args(
        ["--retries", "3", "--retry-delay", "10", "--retry-backoff", "2", "--retry-max-delay", "1m", "--retry-on", "failure,timeout"]
    )
    assert (opts.retries, opts.retry_delay, opts.retry_backoff, opts.retry_max_delay) == (3, 10.0, 2.0, 60.0)
    assert opts.retry_on == {"failure", "timeout"}
    assert parse_submit_args(["--retry-on", "always"]).retry_on == {"failure", "error", "timeout"}


@pytest.mark.parametrize("text, seconds", [("10", 10.0), ("1.5", 1.5), ("10s", 10.0), ("2m", 120.0), ("01:00:00", 3600.0)])
def test_options_retry_delay_bare_number_is_seconds(text, seconds):
    assert parse_submit_args(["--retry-delay", text]).retry_delay == seconds


def test_options_flags_and_lists():
    opts = parse_submit_args(
        ["--hold", "--parsable", "--shell", "--priority", "-5", "--group", "train", "--array", "0-9%2",
         "--env", "A=1", "--env", "B=x=y", "--in", "a,b", "--in", "c", "--out", "model"]
    )
    assert (opts.hold, opts.parsable, opts.shell, opts.priority, opts.group) == (True, True, True, -5, "train")
    assert opts.array == "0-9%2"
    assert opts.env == {"A": "1", "B": "x=y"}
    assert (opts.inputs, opts.outputs) == (("a", "b", "c"), ("model",))


def test_options_explicit_names_the_fields_given():
    opts = parse_submit_args(["--gpus", "0,1", "--time", "10", "--hold", "run.sh"])
    assert opts.explicit == {"gpus", "gpu_ids", "time_limit", "hold", "command"}


# --- errors: one line, never SystemExit -------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--nodez"], 'unrecognized option "--nodez"'),
        (["--nodez=3", "cmd"], 'unrecognized option "--nodez"'),
        (["--dep", "afterok:1"], 'unrecognized option "--dep"'),  # no abbreviations
        (["--priority", "x"], '--priority expects an integer, got "x"'),
        (["--retries", "-1"], '--retries expects an integer >= 0, got "-1"'),
        (["--time"], "--time expects a value"),
        (["-t"], "--time expects a value"),
        (["--hold=yes"], "--hold takes no value"),
        (["--gpus", "two"], '--gpus expects a count (2) or GPU ids (0,2), got "two"'),
        (["--gpus", "1,1"], '--gpus lists a GPU twice: "1,1"'),
        (["--gres", "mps:50"], '--gres expects gpu:<count> (or gpu:<type>:<count>), got "mps:50"'),
        (["--gres", "gpu:1", "--gpus", "1"], "--gres cannot be combined with --gpus"),
        (["--kill-on-invalid-dep", "maybe"], '--kill-on-invalid-dep expects yes or no, got "maybe"'),
        (["--no-auto-cancel", "--kill-on-invalid-dep=yes"], "--no-auto-cancel cannot be combined with --kill-on-invalid-dep=yes"),
        (["--retry-delay", "soon"], '--retry-delay expects a duration (10, 10s, 5m, 1h30m or HH:MM:SS; a bare number is seconds), got "soon"'),
        (["--retry-backoff", "0"], '--retry-backoff expects a number > 0, got "0"'),
        (["--retry-on", "crash"], '--retry-on expects a comma list of failure, error, timeout, always; got "crash"'),
        (["--array", "1-"], '--array expects indices like 0-9, 1,3,5, 0-15:4 or 0-9%2, got "1-"'),
        (["--env", "1A=2"], '--env expects KEY=VALUE, got "1A=2"'),
        (["--in", "a,1b"], '--in expects comma-separated variable names (NAME or NAME:JOB), got "a,1b"'),
        (["--name", ""], "--name expects a non-empty value"),
        (["--depends-on", "1", "--dependency", "afterok:2"],
         "--dependency cannot be combined with --depends-on/--depends-on-all/--depends-on-any"),
        (["-d", "afterany:5,123"], 'Invalid dependency "123": missing dependency type. Write "afterok:123" (run only '
                                   "if 123 succeeds; gflow --depends-on) or \"afterany:123\" (run after 123 ends either "
                                   "way; Slurm's default)"),
        (["-d", "1", "--depends-on", "2"],
         "--dependency cannot be combined with --depends-on/--depends-on-all/--depends-on-any"),
    ],
)
def test_options_errors_are_one_line(argv, message):
    assert error_of(argv) == message


@given(st.lists(st.one_of(st.text(max_size=10), st.sampled_from(["--time", "--gpus", "-d", "--env", "--hold", "--", "-t"]))))
def test_options_any_words_give_options_or_invalid_spec(argv):
    try:
        parse_submit_args(argv)
    except InvalidSpec:
        pass


# --- merge: CLI > directives ------------------------------------------------------------------


def test_merge_cli_wins_only_where_given():
    directives = parse_submit_args(["--time", "2:00:00", "--gpus", "0,1", "--name", "d", "--env", "A=1", "--env", "B=1"])
    cli = parse_submit_args(["--gpus", "1", "--env", "B=2", "--hold", "python", "x.py"])
    merged = merge(cli, directives)
    assert (merged.gpus, merged.gpu_ids) == (1, None)  # a count replaces explicit ids
    assert merged.time_limit == 7200 and merged.name == "d"
    assert merged.env == {"A": "1", "B": "2"}
    assert merged.hold and merged.command == ["python", "x.py"]
    assert merged.explicit == directives.explicit | cli.explicit


def test_merge_defaults_do_not_override():
    directives = parse_submit_args(["--no-auto-cancel", "--priority", "5"])
    assert merge(parse_submit_args([]), directives) == directives


# --- help and import cost ---------------------------------------------------------------------


def test_help_explains_afternotok_and_user_cancel():
    text = " ".join(build_parser().format_help().split())
    assert "afternotok is not fired by a user cancel" in text
    assert "use afterany for Slurm's behaviour" in text
    assert "A bare number is MINUTES" in text


def test_options_import_is_stdlib_only():
    code = (
        "import sys; before = set(sys.modules); import jupyter_jobflow.core.options; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "print(sorted(m for m in new if m in ('sqlite_utils', 'psutil', 'IPython', 'jupyter_server', 'sqlite3')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("argv, canonical", [
    (["-d", "@"], "afterok:@"),
    (["--dependency", "1"], "afterok:1"),
    (["--dependency=3,@~1"], "afterok:3:@~1"),
])
def test_a_bare_dependency_is_gflows_afterok_with_a_note(argv, canonical):
    opts = parse_submit_args([*argv, "true"])
    assert str(opts.dependency) == canonical
    flag, _, text = argv[0].partition("=")
    text = text or argv[1]
    targets = canonical.split(":", 1)[1]
    assert opts.notes == (f"{flag} {text} is read as {canonical} (as gflow does: run only if it succeeds); "
                          f"write afterany:{targets} to run after it ends either way (Slurm's meaning of a bare id)",)
    assert parse_submit_args(["-d", "afterany:1", "true"]).notes == ()

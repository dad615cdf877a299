"""Directives in cells and scripts (spec §1.4): E20, E21, W1-W3 and the shared parser."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_jobflow.core.depspec import parse
from jupyter_jobflow.core.directives import read_directives
from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.options import SubmitOptions, parse_submit_args


def read(source: str):
    return read_directives(textwrap.dedent(source).lstrip("\n"))


def error_of(source: str) -> str:
    with pytest.raises(InvalidSpec) as err:
        read(source)
    return str(err.value)


def test_directives_every_prefix_is_read():
    opts, warnings = read(
        """
        #!/bin/bash
        #GBATCH --name train
        #SBATCH --time=1:00:00

        # GFLOW --gpus 2
        #GFLOW --priority 3
        #CBATCH --depends-on @
        python train.py
        """
    )
    assert (opts.name, opts.time_limit, opts.gpus, opts.priority) == ("train", 3600, 2, 3)
    assert opts.dependency == parse("afterok:@")
    assert opts.command == [] and warnings == []


def test_directives_mean_what_the_same_words_mean_on_the_command_line():
    opts, _ = read("#SBATCH -t 30 --gres=gpu:1 -d afterany:4 --no-auto-cancel\n")
    assert opts == parse_submit_args(["-t", "30", "--gres=gpu:1", "-d", "afterany:4", "--no-auto-cancel"])


def test_directives_only_in_the_leading_block():
    opts, warnings = read(
        """
        # a plain comment
        #SBATCH --time 10
        import os
        #CBATCH --time 1:00:00
        """
    )
    assert opts.time_limit == 600
    assert warnings == ["Line 4: '#CBATCH --time 1:00:00' after the first command is ignored"]


def test_directives_w1_spec_example_line_number():
    source = "x = 1\n" * 11 + "#CBATCH --time 1:00:00\n"
    opts, warnings = read_directives(source)
    assert opts == SubmitOptions()
    assert warnings == ["Line 12: '#CBATCH --time 1:00:00' after the first command is ignored"]


def test_directives_disabled_slurm_lines_are_comments():
    # "# SBATCH" (with a space) is how people switch a Slurm directive off; only gflow writes "# GFLOW".
    opts, warnings = read("# SBATCH --time 10\n#sbatch --time 10\n#SBATCHX --time 10\n")
    assert opts == SubmitOptions() and warnings == []


def test_directives_equals_and_space_forms_are_the_same():
    assert read("#GBATCH --time=2:00:00\n")[0] == read("#GBATCH --time 2:00:00\n")[0]


def test_directives_trailing_comments_and_quotes():
    opts, _ = read("#GBATCH --name 'my run#1' --time 10  # ten minutes\n")
    assert (opts.name, opts.time_limit) == ("my run#1", 600)
    assert read("#GBATCH --name run#1\n")[0].name == "run#1"


def test_directives_w2_same_option_twice_last_wins():
    opts, warnings = read(
        """
        #SBATCH --time 10
        #SBATCH --gpus 1
        #SBATCH --partition gpu
        #SBATCH -t 20
        """
    )
    assert opts.time_limit == 1200
    assert warnings[-1] == "Line 4: -t given again (first on line 1); line 4 wins"


def test_directives_w2_names_the_first_line():
    _, warnings = read("#GBATCH --time 1\n#GBATCH --time 2\n#GBATCH --time 3\n")
    assert warnings == [
        "Line 2: --time given again (first on line 1); line 2 wins",
        "Line 3: --time given again (first on line 1); line 3 wins",
    ]


def test_directives_w3_once_per_foreign_option():
    opts, warnings = read(
        """
        #SBATCH --partition=gpu --nodes 1 --exclusive
        #SBATCH -p other --mem 4G --mail-type=END,FAIL
        #CBATCH --partition x
        """
    )
    assert opts == SubmitOptions()
    assert warnings == [
        'Line 1: #SBATCH option "--partition" is not used by jobflow and is ignored',
        'Line 1: #SBATCH option "--nodes" is not used by jobflow and is ignored',
        'Line 1: #SBATCH option "--exclusive" is not used by jobflow and is ignored',
        'Line 2: #SBATCH option "--mem" is not used by jobflow and is ignored',
        'Line 2: #SBATCH option "--mail-type" is not used by jobflow and is ignored',
    ]


def test_directives_w3_spec_example():
    _, warnings = read("#!/bin/bash\n\n#SBATCH --partition=gpu\n")
    assert warnings == ['Line 3: #SBATCH option "--partition" is not used by jobflow and is ignored']


def test_directives_e20_two_dialects_disagree():
    source = "#!/bin/bash\n#CBATCH --time 2:00:00\n\n#SBATCH --time=1:00:00\n"
    assert error_of(source) == "Line 4 (#SBATCH --time=1:00:00) conflicts with line 2 (#CBATCH --time 2:00:00)"


def test_directives_e20_compares_meaning_not_spelling():
    opts, warnings = read("#SBATCH --time=1:00:00\n#GBATCH -t 60\n#SBATCH -d afterok:5\n# GFLOW --depends-on 5\n")
    assert opts.time_limit == 3600 and opts.dependency == parse("afterok:5")
    assert warnings == []


def test_directives_e20_against_any_earlier_dialect():
    source = "#CBATCH --time 2:00:00\n#SBATCH --time 2:00:00\n#SBATCH --time 1:00:00\n"
    assert error_of(source) == "Line 3 (#SBATCH --time 1:00:00) conflicts with line 1 (#CBATCH --time 2:00:00)"


def test_directives_e21_unknown_option():
    assert error_of("#!/bin/sh\n\n#CBATCH --nodez 3\n") == 'Line 3: unknown #CBATCH option "--nodez"'
    assert error_of("# GFLOW --nodez=3\n") == 'Line 1: unknown # GFLOW option "--nodez"'
    assert error_of("#SBATCH --help\n") == 'Line 1: unknown #SBATCH option "--help"'  # never prints and exits


def test_directives_bad_value_names_the_line():
    assert error_of("#GBATCH --name a\n#SBATCH --time abc\n") == (
        'Line 2: Invalid --time "abc": expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS'
    )
    assert error_of("#SBATCH -d afterOK:1\n") == (
        'Line 1: Unknown dependency type "afterOK" in "afterOK:1" (did you mean "afterok"?)'
    )


def test_directives_reject_a_command_and_unbalanced_quotes():
    assert error_of("#SBATCH --hold python\n") == (
        "Line 1: unexpected argument \"python\" in '#SBATCH --hold python' (directives take options only)"
    )
    assert error_of("#SBATCH --name 'x\n") == "Line 1: cannot read '#SBATCH --name 'x': No closing quotation"


def test_directives_repeatable_options_add_up():
    opts, warnings = read("#GBATCH --env A=1\n#GBATCH --env B=2 --in x\n#SBATCH --in y\n")
    assert opts.env == {"A": "1", "B": "2"} and opts.inputs == ("x", "y")
    assert warnings == []


def test_directives_explicit_feeds_the_merge():
    opts, _ = read("#SBATCH --time 10 --gpus 1\n")
    assert opts.explicit == {"time_limit", "gpus", "gpu_ids"}


def test_directives_empty_source():
    assert read_directives("") == (SubmitOptions(), [])


LINES = st.sampled_from(
    ["#SBATCH", "#GBATCH", "#CBATCH", "# GFLOW", "#!/bin/bash", "", "x = 1", "#", "#SBATCH --time=1", "# GFLOW -p a"]
)
WORDS = st.sampled_from(["--time", "1:00", "-t", "--gpus", "0,2", "--nodez", "-d", "afterok:1", "--hold", "'", "#", "=", "-p"])


@given(st.text())
def test_directives_any_text_gives_options_or_invalid_spec(source):
    try:
        read_directives(source)
    except InvalidSpec:
        pass


@given(st.lists(st.tuples(LINES, st.lists(st.one_of(WORDS, st.text(max_size=5)), max_size=4)), max_size=6))
def test_directives_directive_like_text_gives_options_or_invalid_spec(lines):
    source = "\n".join(" ".join([prefix, *words]) for prefix, words in lines)
    try:
        read_directives(source)
    except InvalidSpec:
        pass


def test_directives_a_bare_dependency_is_refused_in_slurm_scripts_and_read_as_afterok_in_gflows():
    # Slurm and Crane read "--dependency=5" as afterany:5: taking it as afterok would change the script
    assert error_of("#!/bin/bash\n#SBATCH --dependency=5\n").startswith(
        'Line 2: Invalid dependency "5": missing dependency type. Write "afterok:5"')
    assert error_of("#CBATCH -d @\n").startswith('Line 1: Invalid dependency "@": missing dependency type.')
    opts, warnings = read("# GFLOW -d @\n#GBATCH --name x\n")
    assert str(opts.dependency) == "afterok:@" and opts.notes == ()
    assert warnings == ["Line 1: -d @ is read as afterok:@ (as gflow does: run only if it succeeds); "
                        "write afterany:@ to run after it ends either way (Slurm's meaning of a bare id)"]

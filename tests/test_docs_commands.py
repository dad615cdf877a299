"""Every command and option is documented, as sqlite-utils checks its CLI docs.

The command reference (docs/_ext/jobflow_cli.py) is generated from the parsers, so it lists every
option by construction; what can go missing is the prose. So: every option string of every parser
and subparser, and every magic, must also be named in the hand-written docs (the guide a person
reads: commands.md, notebooks.md, rules.md, ...). Adding an option to a parser without a word
about it in the docs fails here."""

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import jobflow_cli  # noqa: E402

GUIDES = ("commands.md", "notebooks.md", "rules.md", "flows.md", "schedules.md", "slurm.md", "operations.md",
          "configuration.md", "security.md", "getting-started.md")


def _guides() -> str:
    return "\n".join((ROOT / "docs" / name).read_text() for name in GUIDES)


def _named(option: str, text: str) -> bool:
    """``--catchup`` is named by ``--catchup`` or by ``--[no-]catchup``; ``--no-catchup`` by either."""
    spellings = {option}
    if option.startswith("--no-"):
        spellings.add("--[no-]" + option[5:])
    elif option.startswith("--"):
        spellings.add("--[no-]" + option[2:])
    return any(re.search(re.escape(s) + r"(?![\w-])", text) for s in spellings)


def undocumented(commands: list, text: str) -> list[str]:
    return [f"{cmd.name} {opt}" for top in commands for cmd in top.walk()
            for opt in jobflow_cli.option_strings(cmd) if not _named(opt, text)]


def test_every_command_and_subcommand_is_found():
    names = {cmd.name for top in jobflow_cli.commands() for cmd in top.walk()}
    assert {"gbatch", "gqueue", "gcancel", "ginfo", "gjob update", "jobflow daemon", "gpipe template add",
            "gpipe schedule", "%gresult"} <= names
    # every subcommand a parser has is walked (gjob's seven verbs)
    assert {n for n in names if n.startswith("gjob ")} == {f"gjob {v}" for v in
                                                          ("show", "log", "hold", "release", "redo", "update", "explain")}


def test_every_option_is_in_the_generated_reference_under_its_command():
    text = jobflow_cli.markdown()
    sections = dict(re.findall(r"^#+ `([^`]+)`\n(.*?)(?=^#+ `|\Z)", text, re.M | re.S))
    for top in jobflow_cli.commands():
        for cmd in top.walk():
            assert cmd.name in sections, f"{cmd.name} has no section in the command reference"
            missing = [o for o in jobflow_cli.option_strings(cmd) if f"`{o}" not in sections[cmd.name]]
            assert missing == [], f"{cmd.name}: options missing from the command reference"


def test_every_option_is_named_in_the_hand_written_docs():
    assert undocumented(jobflow_cli.commands(), _guides()) == [], \
        "options no page of docs/ mentions: say what they do (docs/commands.md, 'The other options')"


def test_an_option_added_to_a_parser_without_docs_fails_the_check():
    commands = jobflow_cli.commands()
    gqueue = next(c for c in commands if c.name == "gqueue")
    gqueue.parser.add_argument("--frobnicate", action="store_true", help="a new option nobody documented")
    gpipe_run = next(c for top in commands for c in top.walk() if c.name == "gpipe run")
    gpipe_run.parser.add_argument("-Z", "--zap", metavar="N")
    assert undocumented(commands, _guides()) == ["gqueue --frobnicate", "gpipe run -Z", "gpipe run --zap"]
    # the generated reference lists it at once; only the prose can be missing
    assert "`--frobnicate`" in "\n".join(jobflow_cli._section(gqueue, 2))


def test_hidden_options_are_left_out_and_refused_ones_are_still_explained():
    gqueue = next(c for c in jobflow_cli.commands() if c.name == "gqueue")
    assert "-n" not in jobflow_cli.option_strings(gqueue)  # help=SUPPRESS: refused, see commands.md
    assert "`gqueue -n 5`" in (ROOT / "docs" / "commands.md").read_text()


def test_every_magic_is_named_in_the_hand_written_docs():
    magics = jobflow_cli.magics()
    assert {"%%gbatch", "%gbatch", "%gqueue", "%gresult", "%glog", "%gpipe"} <= set(magics)
    text = _guides()
    assert [m for m in magics if not re.search(re.escape(m) + r"(?![\w-])", text)] == []
    assert all(doc for doc in magics.values()), "a magic without a docstring has nothing to show"


def test_the_parsers_captured_are_the_ones_the_commands_use():
    """The reference reads gqueue's parser by stopping its command at parse_args: the parser is
    built, nothing runs (no service is contacted), and parsing works again afterwards."""
    gqueue = next(c for c in jobflow_cli.commands() if c.name == "gqueue")
    assert isinstance(gqueue.parser, argparse.ArgumentParser) and gqueue.parser.prog == "gqueue"
    assert gqueue.parser.parse_args(["-a"]).all is True

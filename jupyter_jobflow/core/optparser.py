"""The gbatch option parser itself: every flag, its spellings (gflow's, Slurm's) and help text.

argparse only splits the words here; ``options.py`` checks and normalises the values. The parser
never writes to stdout nor exits, in any host: ``-h`` raises ``HelpRequested`` with the text."""

from __future__ import annotations

import argparse
import functools
import re
from typing import Any, Iterable

from .errors import HelpRequested, InvalidSpec
from .request import SLURM_DESTS

_SLURM_SHORT = {"partition": ("-p",), "account": ("-A",), "qos": ("-q",), "constraint": ("-C",),
                "cpus-per-task": ("-c",), "nodes": ("-N",), "ntasks": ("-n",)}


class _Parser(argparse.ArgumentParser):
    """argparse that never writes to stdout nor exits, in any host: ``-h`` (also ``-hh``) raises
    ``HelpRequested`` carrying the help text, which only a terminal prints (``cli.run``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InvalidSpec(_reword(message))

    def print_help(self, file: Any = None) -> None:
        raise HelpRequested(self.format_help())

    def print_usage(self, file: Any = None) -> None:
        raise HelpRequested(self.format_usage())

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise InvalidSpec(" ".join((message or f"{self.prog}: cannot parse the options").split()))


class _Record(argparse.Action):
    """Store the raw words and remember which option string set each dest (for W2/E20 messages)."""

    def __init__(self, option_strings: list[str], dest: str, repeat: bool = False, **kwargs: Any) -> None:
        self.repeat = repeat
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: Any, ns: Any, values: Any, option_string: str | None = None) -> None:
        if self.nargs == 0:
            values = True
        if self.repeat:
            values = [*(getattr(ns, self.dest) or []), values]
        setattr(ns, self.dest, values)
        ns._written = {**getattr(ns, "_written", {}), self.dest: option_string}


class _Ignore(argparse.Action):
    """A foreign option that is accepted and dropped (directives: Slurm's cluster options, docs/commands.md)."""

    def __call__(self, parser: Any, ns: Any, values: Any, option_string: str | None = None) -> None:
        ns._ignored = [*getattr(ns, "_ignored", []), (self.option_strings[0], option_string)]


def build_parser(
    prog: str = "gbatch",
    *,
    ignored: Iterable[tuple[tuple[str, ...], Any]] = (),
    add_help: bool = True,
    slurm: bool = True,
) -> argparse.ArgumentParser:
    """The submit parser. ``ignored`` adds foreign options as ``(flags, nargs)`` that are accepted
    and reported in ``ParsedWords.ignored`` (directives use it for Slurm/Crane options); ``slurm``:
    Slurm's own options (``--partition``...) are options (else a directive block that does not
    choose Slurm ignores them).
    """
    p = _Parser(
        prog=prog,
        add_help=add_help,
        allow_abbrev=False,  # the long names are the contract; "--dep" must not guess
        description="Submit a job to the jupyter-jobflow queue.",
        epilog=(
            "Dependencies: afterok = parent Finished; afternotok = parent Failed, timed out, or "
            "cancelled because its own dependency failed; afterany = parent ended in any way; "
            "after = parent started. "
            "afternotok is NOT fired by a user cancel (use afterany for Slurm's behaviour)."
        ),
    )

    def opt(*flags: str, dest: str | None = None, flag: bool = False, repeat: bool = False, **kw: Any) -> None:
        p.add_argument(*flags, dest=dest, action=_Record, nargs=0 if flag else None, repeat=repeat, **kw)

    opt("--name", "-J", "--job-name", dest="name", metavar="NAME", help="job name (shown by gqueue)")
    opt("--time", "-t", dest="time", metavar="TIME",
        help="time limit: minutes (30 = 30 min), MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, "
             "90s, 2h30m, or UNLIMITED. A bare number is MINUTES (as in Slurm)")
    opt("--gpus", "-G", dest="gpus", metavar="N|IDS",
        help="GPUs: a count (2) or explicit device ids (0,2; one id: 3,)")
    opt("--gpu-memory", dest="gpu_memory", metavar="SIZE",
        help="share GPUs: the GPU memory the job needs on each of its GPUs (8G, 500M; a bare number is MiB). "
             "Jobs with --gpu-memory share a GPU while their memory fits; implies --gpus 1 when --gpus is not given")
    opt("--gres", dest="gres", metavar="gpu:N", help="Slurm spelling of --gpus: gpu:N (a gpu:TYPE:N type is ignored)")
    opt("--priority", dest="priority", metavar="INT", help="higher runs first (default 0)")
    opt("--group", dest="group", metavar="NAME", help="queue group (parallel limits, pause/resume)")
    opt("--dependency", "-d", dest="dependency", metavar="SPEC",
        help="Slurm/Crane dependency string, e.g. afterok:12:13, afterok:@+10m?afternotok:@~1, "
             "singleton,afterany:5. A bare id or @ is gflow's afterok (-d @ = afterok:@). afternotok is not fired "
             "by a user cancel; use afterany for Slurm's behaviour")
    opt("--depends-on", dest="depends_on", metavar="IDS",
        help="gflow: run after these jobs succeed (afterok); ids, @ (last submission) or @~N")
    opt("--depends-on-all", dest="depends_on_all", metavar="IDS",
        help="gflow: run after ALL of these jobs succeed (afterok:A:B:C)")
    opt("--depends-on-any", dest="depends_on_any", metavar="IDS",
        help="gflow: run after ANY of these jobs succeeds (afterok:A?afterok:B)")
    opt("--no-auto-cancel", dest="no_auto_cancel", flag=True,
        help="keep the job queued (DependencyNeverSatisfied) when its dependency can never be met, "
             "instead of cancelling it")
    opt("--kill-on-invalid-dep", dest="kill_on_invalid_dep", metavar="yes|no",
        help="Slurm spelling: no = --no-auto-cancel; yes = cancel (the default)")
    opt("--hold", dest="hold", flag=True, help="submit held; start it with release")
    opt("--retries", dest="retries", metavar="N", help="extra attempts after a failure (default 0)")
    opt("--retry-delay", dest="retry_delay", metavar="DURATION",
        help="wait before a retry: 10s, 5m, 1h30m or HH:MM:SS; a bare number is SECONDS here")
    opt("--retry-backoff", dest="retry_backoff", metavar="FACTOR",
        help="multiply the wait by this after each retry (default 1)")
    opt("--retry-max-delay", dest="retry_max_delay", metavar="DURATION",
        help="cap on one wait; same format as --retry-delay")
    opt("--retry-on", dest="retry_on", metavar="LIST",
        help="what is retried: comma list of failure, error, timeout, always (default failure,error)")
    opt("--array", dest="array", metavar="SPEC", help="job array indices: 0-9, 1,3,5, 0-15:4, 0-9%%2")
    opt("--chdir", "-D", dest="chdir", metavar="DIR", help="working directory of the job")
    opt("--env", dest="env", metavar="KEY=VALUE", repeat=True, help="set an environment variable (repeatable)")
    opt("--export", dest="export", metavar="LIST",
        help="which of your environment variables the job keeps (Slurm's --export): ALL, NONE, or a comma list "
             "of NAME and NAME=value, added to the default list (PATH, HOME, the active venv/conda, CUDA_*, ...; "
             "see docs/security.md) unless NONE or ALL comes first. Tokens of Jupyter and jobflow are never kept")
    opt("--output", "-o", dest="output", metavar="FILE",
        help="also write the job's output to FILE (its errors too, unless --error), relative to its working "
             "directory; %%j = job id, %%x = job name, %%A = array id, %%a = array task index (as sbatch). "
             "The log stays (gjob log)")
    opt("--error", "-e", dest="error", metavar="FILE", help="also write the job's errors (stderr) to FILE; same patterns")
    opt("--parsable", dest="parsable", flag=True, help="print only the job id")
    opt("--shell", dest="shell", flag=True, help="run the cell as a shell (bash) script instead of Python")
    opt("--in", dest="inputs", metavar="NAMES", repeat=True,
        help="variables the job needs (comma list, repeatable): a parent job's --out of that name, read when "
             "the job starts, else this notebook's variable at submit; NAME:JOB picks the parent")
    opt("--out", dest="outputs", metavar="NAMES", repeat=True,
        help="variables to bring back from the job (comma list, repeatable)")
    opt("--executor", dest="executor", metavar="NAME",
        help="where the job runs: local (this machine) or slurm (sbatch, with Slurm's own options below); "
             "default: the host's (JOBFLOW_EXECUTOR, --executor of jobflow daemon)")
    if slurm:
        for dest, name in SLURM_DESTS.items():
            opt(f"--{name}", *_SLURM_SHORT.get(name, ()), dest=dest, metavar="VALUE",
                help=f"Slurm's --{name}, passed to sbatch as it is (--executor slurm only)")
    for flags, nargs in ignored:
        p.add_argument(*flags, action=_Ignore, nargs=nargs, help=argparse.SUPPRESS)
    p.add_argument("command", nargs=argparse.REMAINDER, help="command and its arguments")
    return p


@functools.lru_cache(maxsize=None)
def _default_parser() -> argparse.ArgumentParser:
    return build_parser()


def _reword(message: str) -> str:
    """argparse's messages, in the one-line style of the others."""
    m = re.match(r"argument (\S+): (.*)", message)
    if not m:
        return message
    option, problem = m.group(1).split("/")[0], m.group(2)
    if problem.startswith("expected"):
        return f"{option} expects a value"
    if problem.startswith("ignored explicit argument"):
        return f"{option} takes no value"
    return f"{option}: {problem}"

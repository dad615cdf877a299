"""``%load_ext jupyter_jobflow``: ``%%gbatch`` turns a cell into a job; line magics mirror the commands.

Thin, like the CLI: parse with the one option parser (``options.py``), call the API through
``client.py``, render with ``render.py``. What only a notebook can do lives here: the cell becomes a
script run by the kernel's own interpreter (``cellrunner.py``), variables travel with ``--in`` and
come back with ``--out``, and ``@`` means this notebook's own submissions.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from ..core.errors import HelpRequested, InvalidSpec, JobflowError
from ..core.options import merge, parse_submit_args, to_submit_body
from .cellio import gresult_parser, plan_inputs
from .jobhandle import JobHandle, _in_notebook, _vars_dir, load_outputs, pack_inputs


@contextlib.contextmanager
def _service_env(client: Any) -> Iterator[None]:
    """Point the commands' discovery at this notebook's service for one call."""
    saved = {k: os.environ.get(k) for k in ("JOBFLOW_URL", "JOBFLOW_TOKEN")}
    os.environ["JOBFLOW_URL"], os.environ["JOBFLOW_TOKEN"] = client.url, client.token or ""
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def notebook_path() -> str | None:
    """The notebook this kernel serves (jupyter_server tells kernels via JPY_SESSION_NAME)."""
    return os.environ.get("JPY_SESSION_NAME") or None


def kernel_scope() -> str:
    """The `@` history scope of this kernel: its id, from the connection file's name."""
    try:
        from ipykernel import get_connection_file

        return "kernel:" + Path(get_connection_file()).stem.removeprefix("kernel-")
    except Exception:  # a terminal IPython: one scope per process
        return f"ipython:{os.getpid()}"


@magics_class
class JobflowMagics(Magics):
    def __init__(self, shell: Any):
        super().__init__(shell)
        self._client: Any = None
        self.scope = kernel_scope()
        self._history: list[int] | None = None  # this notebook's submissions, newest first (what @ means)
        self._names: dict[str, int] = {}  # job name -> the latest job of that name in this notebook
        self._history_scope = self.scope

    # -- the service -------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """Inside Jupyter: the server's own endpoint (env); else the endpoint file; else a
        detached daemon is started, so jobs always outlive this kernel."""
        if self._client is None:
            from ..client.http import Client, ensure_daemon
            from ..core.errors import Unavailable

            try:
                self._client = Client.discover()
            except Unavailable:
                ensure_daemon()
                self._client = Client.discover()
        return self._client

    # -- %%gbatch ------------------------------------------------------------------------------
    @cell_magic
    def gbatch(self, line: str, cell: str) -> JobHandle | None:
        """Submit this cell as a job: ``%%gbatch [gbatch options]`` (see ``gbatch --help``)."""
        return self._report(lambda: self.submit_cell(line, cell), "gbatch")

    def submit_cell(self, line: str, cell: str) -> JobHandle:
        from ..core.directives import read_directives

        cli = parse_submit_args(shlex.split(line))
        if cli.command:
            raise InvalidSpec(f"%%gbatch takes options only; the cell is the job (got {' '.join(cli.command)!r}). "
                              f"To run a command, use the line magic: %gbatch {' '.join(cli.command)}")
        from_directives, warnings = read_directives(cell, cli.executor or os.environ.get("JOBFLOW_EXECUTOR"))
        opts = merge(cli, from_directives)
        first = cell.lstrip().splitlines()[0] if cell.strip() else ""
        shell_script = opts.shell or (first.startswith("#!") and "python" not in first)
        count, cell_id = current_cell(self.shell)
        nb = notebook_path()
        label = f"{nb + ', ' if nb else ''}cell [{count}]" + (f" (id {cell_id[:8]})" if cell_id else "")
        name = f"{Path(nb).stem if nb else 'cell'}[{count}]"
        body = to_submit_body(opts, scope=self.scope, scope_name="this notebook", cwd=os.getcwd())
        body.setdefault("name", name)
        body["env"] = {**os.environ, **body.get("env", {})}
        body["script"] = cell
        vars_dir = None
        if shell_script:
            from ..core.submission import interpreter

            body["interpreter"] = interpreter(cell.lstrip())
            if opts.inputs or opts.outputs:
                raise InvalidSpec("--in and --out carry Python variables; they do not apply to a shell cell")
        else:
            vars_dir = _vars_dir(self.client)
            command = [sys.executable, "-m", "jupyter_jobflow.cellrunner", "--name", label,
                       *(["--cell-id", cell_id] if cell_id else []), "--first-line", "2", "--vars-dir", vars_dir]
            if opts.inputs:
                plan = self._plan_inputs(opts, body)
                if plan.from_kernel:
                    inputs = Path(vars_dir) / "in" / f"{uuid.uuid4().hex}.pkl"
                    pack_inputs(tuple(plan.from_kernel), self.shell.user_ns, inputs)
                    command += ["--inputs", str(inputs)]
                command += plan.runner_args()
            if opts.outputs:
                command += ["--outputs", ",".join(opts.outputs)]
            body["command"] = command
        return self._submit(body, [*opts.notes, *warnings], vars_dir)

    def _plan_inputs(self, opts: Any, body: dict[str, Any]) -> Any:
        """Where each ``--in`` comes from (cellio.py). ``@`` in the dependency is resolved here,
        against this notebook's submissions, and sent resolved: the parents checked are the ones
        the server records."""
        from ..core import depspec

        parents: tuple[int, ...] = ()
        if opts.dependency is not None:
            spec = opts.dependency
            if any(isinstance(c.target, str) for c in spec.conditions) and self.history():
                spec = depspec.resolve(spec, self.history(), scope_name="this notebook")
                body["dependency"] = str(spec)
            parents = spec.job_ids()
        return plan_inputs(opts.inputs, parents, self.shell.user_ns, lambda jid: self.client.job(jid)["job"],
                           self.find_job)

    def history(self) -> list[int]:
        """This notebook's submissions, newest first, as the server keeps them for ``@`` (read once
        from the server, e.g. after a kernel restart, then kept as this kernel submits)."""
        if self._history is None or self._history_scope != self.scope:
            self._history_scope, self._names = self.scope, {}
            mine = [j for j in self.client.jobs(all=True).get("jobs", []) if j.get("scope") == self.scope]
            self._history = sorted({j.get("array_of") or j["id"] for j in mine}, reverse=True)
            for job in sorted(mine, key=lambda j: j["id"]):
                self._names[job["name"]] = job["id"]
        return self._history

    def find_job(self, ref: str) -> int:
        """A job reference of this notebook: an id, ``@``, ``@~N``, or the name of one of its jobs."""
        from ..core import depspec

        text = ref.strip()
        if text.isdigit():
            return int(text)
        if text == "@" or (text.startswith("@~") and text[2:].isdigit()):
            spec = depspec.resolve(depspec.DepSpec("and", (depspec.Condition("afterok", text),)), self.history(),
                                   scope_name="this notebook")
            return spec.job_ids()[0]
        self.history()  # the names of jobs submitted before a kernel restart too
        if text in self._names:
            return self._names[text]
        raise InvalidSpec(f'No job named "{text}" in this notebook: give its id, @, @~N or the name of one of its jobs')

    @line_magic("gbatch")
    def gbatch_line(self, line: str) -> JobHandle | None:
        """``%gbatch [options] COMMAND...`` or ``%gbatch script.sh``: the words of ``gbatch``."""
        def submit() -> JobHandle:
            from ..core.submission import submission

            body, notes, _ = submission(shlex.split(line), scope=self.scope, scope_name="this notebook")
            return self._submit(body, notes, vars_dir=None)

        return self._report(submit, "gbatch")

    def _submit(self, body: dict[str, Any], notes: list[str], vars_dir: str | None) -> JobHandle:
        reply = self.client.submit(body)
        for warning in [*notes, *reply.get("warnings", [])]:
            print(warning, file=sys.stderr)
        print(reply.get("message") or f"Submitted batch job {reply['id']} ({reply['name']})")
        if self._history is not None and self._history_scope == self.scope:
            self._history.insert(0, int(reply["id"]))
            self._names[reply["name"]] = int(reply["id"])
        else:
            self._history = None  # read again from the server when next needed
        return JobHandle(self.client, reply["id"], reply["name"], vars_dir=vars_dir, shell=self.shell,
                         warnings=tuple(reply.get("warnings", [])))

    # -- the views: the commands' own code, shown as HTML in a notebook --------------------------
    @line_magic
    def gqueue(self, line: str) -> None:
        """``%gqueue [gqueue options]``: the queue as a table (``-t`` tree, ``-a`` all ...);
        ``%gqueue --watch [-j IDS]`` in a notebook: the live panel (graph, table, logs, GPUs)."""
        words = shlex.split(line)
        if _in_notebook() and ({"--watch", "-w"} & set(words)):
            from IPython.display import display

            from ..cli.common import parse_ids
            from .widget import Panel

            ids = words[words.index("-j") + 1] if "-j" in words[:-1] else None
            display(Panel(job_ids=parse_ids([ids]) if ids else None, client=self.client))
            return
        if _in_notebook() and not {"-o", "--output"} & set(words) and not any(w.startswith("--output=") for w in words):
            words += ["-o", "html"]
        self._command("gqueue", words)

    @line_magic
    def gcancel(self, line: str) -> None:
        """``%gcancel IDS [--dry-run] [--cascade]``."""
        self._command("gcancel", shlex.split(line))

    @line_magic
    def gjob(self, line: str) -> None:
        """``%gjob show|log|hold|release|redo|update|explain ID``."""
        self._command("gjob", shlex.split(line))

    @line_magic
    def glog(self, line: str) -> None:
        """``%glog ID [-f] [--attempt N]``: the job's output (``-f`` follows it until it ends)."""
        self._command("gjob", ["log", *shlex.split(line)], prog="glog")

    @line_magic
    def gpipe(self, line: str) -> None:
        """``%gpipe VERB ...``: the ``gpipe`` command (flows). ``%gpipe create NAME`` with no file
        makes the flow from this notebook (its saved file: save it first); ``%gpipe run-task NAME
        TASK [--run RUN] --load`` loads the task into this kernel instead (flowload.py)."""
        words = shlex.split(line)
        if len(words) in (2, 3) and words[0] in ("create", "update") and (len(words) == 2 or words[2] == "."):
            nb = notebook_path()
            if not nb:
                print("gpipe: error: this kernel does not know its notebook's file; give it: "
                      f"%gpipe {words[0]} {words[1]} FILE.ipynb", file=sys.stderr)
                return
            words = [words[0], words[1], nb]
        if words[:1] == ["run-task"] and "--load" in words and not _asks_help(words):
            from .flowload import load_words

            self._report(lambda: print(load_words(self.client, self.shell, words)), "gpipe")
            return
        self._command("gpipe", words)

    @line_magic
    def ginfo(self, line: str) -> None:
        """``%ginfo``: GPUs and what holds them."""
        self._command("ginfo", shlex.split(line))

    def _command(self, name: str, words: list[str], prog: str | None = None) -> None:
        """Run a terminal command's own code against this notebook's service. Only ``gqueue -o html``
        is shown as HTML (render.py escapes it); anything else is text, whatever it starts with: a
        job's log is the job's output, and must never run as markup in the notebook. Errors are
        the command's one line."""
        import contextlib
        import importlib
        import io

        from ..cli import common as cli

        prog = prog or name
        body = importlib.import_module(f"jupyter_jobflow.cli.{name}").command
        out = io.StringIO()
        if _asks_help(words):  # the command's own help; no service needed, and never SystemExit
            with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
                cli.run(prog, body, words)
            print(out.getvalue(), end="")
            return
        try:
            self.client  # noqa: B018 - finds (or starts) the service, and exports it to the command
        except JobflowError as err:
            print(f"{prog}: error: {err}", file=sys.stderr)
            return
        with _service_env(self.client), contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            cli.run(prog, body, words)  # a parser's exit (help, a bad option) ends the command, not the cell
        text = out.getvalue()
        pairs = zip(words, words[1:] + [""])
        wants_html = name == "gqueue" and any(w == "--output=html" or (w in ("-o", "--output") and nxt == "html")
                                              for w, nxt in pairs)
        if wants_html and text.lstrip().startswith("<"):
            from IPython.display import HTML, display

            display(HTML(text))
        elif text:
            print(text, end="")

    @line_magic
    def gresult(self, line: str) -> None:
        """``%gresult JOB [NAMES] [--prefix P]``: load a finished job's ``--out`` variables into
        this notebook (JOB: an id, ``@``, ``@~N`` or a job name of this notebook)."""
        def load() -> None:
            if not line.strip():
                raise InvalidSpec("which job? %gresult JOB [NAMES] [--prefix P] (JOB: an id, @, @~N or a job name "
                                  "of this notebook)")
            args = gresult_parser().parse_args(shlex.split(line))
            job_id = self.find_job(args.job)
            values = load_outputs(self.client, job_id)
            wanted = [n for word in args.names for n in word.split(",") if n] or list(values)
            unknown = [n for n in wanted if n not in values]
            if unknown:
                raise InvalidSpec(f'Job {job_id} saved no "{unknown[0]}"; it saved: {", ".join(values)}')
            if args.prefix and not f"{args.prefix}x".isidentifier():
                raise InvalidSpec(f'--prefix "{args.prefix}" would not make variable names; use letters, digits, _')
            loaded = {f"{args.prefix}{n}": values[n] for n in wanted}
            self.shell.user_ns.update(loaded)
            print(f"Loaded {', '.join(loaded)} from job {job_id}")

        return self._report(load, "gresult")

    @staticmethod
    def _report(action: Any, name: str) -> Any:
        """A user error is one line on stderr, under the magic's own name, never a traceback;
        nothing was submitted or changed."""
        try:
            return action()
        except HelpRequested as asked:  # %%gbatch -h: the help, as the terminal shows it
            print(asked.text, end="")
            return None
        except JobflowError as err:
            print(f"{name}: error: {' '.join(str(err).split())}", file=sys.stderr)
            return None
        except ValueError as err:  # shlex: unbalanced quotes
            print(f"{name}: error: {err}", file=sys.stderr)
            return None


def _asks_help(words: list[str]) -> bool:
    return any(w in ("-h", "--help") for w in words)


def current_cell(shell: Any) -> tuple[int, str | None]:
    """The prompt number the person sees for the running cell, and its id when the front end sent
    one. IPython counts the next cell already while this one runs (ipykernel 7 / IPython 9), so
    ``execution_count`` is one ahead; the displayhook's ``exec_result`` is this run's own record."""
    result = getattr(getattr(shell, "displayhook", None), "exec_result", None)
    count = getattr(result, "execution_count", None)
    cell_id = getattr(getattr(result, "info", None), "cell_id", None)
    if cell_id is None:  # an older kernel passes the cell id only in the request's metadata
        with contextlib.suppress(Exception):
            cell_id = shell.kernel.get_parent().get("metadata", {}).get("cellId")
    if count is None:  # not inside a cell run (a direct call): the last prompt shown
        count = max(0, (getattr(shell, "execution_count", 1) or 1) - 1)
    return int(count), (str(cell_id) if cell_id else None)


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(JobflowMagics(ipython))

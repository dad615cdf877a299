"""Runs a notebook cell as a job:

    python -m jupyter_jobflow.cellrunner --name "train.ipynb, cell [3]" [--cell-id ID] [--first-line 2]
        [--vars-dir D] [--inputs IN.pkl] [--from NAME=JOB,...] [--outputs x,y] CELL.py

The ``%%gbatch`` magic submits the cell's source as the job's script (so it is stored with the job)
and this runner as its command. Started by the job's supervisor with the kernel's own interpreter,
it loads the variables sent with ``--in`` (from the kernel at submit, or, with ``--from``, the
values a parent job saved, read now that the job starts), executes the cell under a filename that
names the notebook and the cell, numbered as JupyterLab numbers it (``--first-line``: the
``%%gbatch`` line is line 1), so a traceback points at the cell's own lines, and on success saves
the ``--out`` variables of this attempt (cellvars.py) for ``job.result()`` and dependent jobs.

A value that cannot be saved fails the job with the reason ``OutputNotSaved:<name> (<type>)``
(written for the host to record), after the cell's own output, in one line.

Kept free of jupyter_jobflow's other modules but the stdlib-only cellvars/privacy: it starts in
the job, and every import is time.
"""

from __future__ import annotations

import linecache
import os
import sys
import traceback
from pathlib import Path

from ..engine import cellvars


def _kind(value: object) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}".removeprefix("builtins.")


def _job() -> tuple[str, str]:
    return os.environ.get("JOBFLOW_JOB_ID", "0"), os.environ.get("JOBFLOW_ATTEMPT", "1")


def run(spec: dict) -> int:
    source = Path(spec["source"]).read_text()
    filename = spec["name"]
    namespace: dict = {"__name__": "__main__"}
    if spec.get("outputs") and spec.get("vars_dir"):
        cellvars.begin_attempt(spec["vars_dir"], _job()[0])
    if spec.get("inputs"):
        import cloudpickle

        with open(spec["inputs"], "rb") as f:
            namespace.update(cloudpickle.load(f))
    missing = _load_from_parents(spec, namespace)
    if missing:
        print(f"jobflow: {missing}", file=sys.stderr)
        return 1
    # JupyterLab numbers the cell from its %%gbatch line: pad the source so line numbers match,
    # and let linecache print the cell's own lines under the notebook's name
    pad = "\n" * (max(1, spec.get("first_line") or 1) - 1)
    linecache.cache[filename] = (len(source), None, (pad + source).splitlines(True), filename)
    try:
        exec(compile(pad + source, filename, "exec"), namespace)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException as err:  # noqa: BLE001 - the cell's error is the job's output
        sys.stdout.flush()  # the cell's prints first, as the cell ran (stdout is buffered, stderr not)
        tb = err.__traceback__.tb_next if err.__traceback__ else None  # drop this runner's frame
        traceback.print_exception(type(err), err, tb)
        return 1
    sys.stdout.flush()
    return _save_outputs(spec, namespace)


def _load_from_parents(spec: dict, namespace: dict) -> str | None:
    """``--from X=5``: job 5's saved ``X``, as it is now. Returns what is missing, or None."""
    for name, job in spec.get("from") or []:
        attempt = cellvars.current_attempt(spec["vars_dir"], job)
        path = cellvars.output_files(spec["vars_dir"], job, attempt).get(name) if attempt else None
        if path is None:
            return (f'--in variable "{name}": job {job} has no saved "{name}" (it did not finish, '
                    f"or ran again); see %gjob show {job}")
        import cloudpickle

        with open(path, "rb") as f:
            namespace[name] = cloudpickle.load(f)
    return None


def _save_outputs(spec: dict, namespace: dict) -> int:
    names = spec.get("outputs") or []
    if not names:
        return 0
    missing = [n for n in names if n not in namespace]
    if missing:
        print(f'jobflow: --out variable "{missing[0]}" was not defined by the cell', file=sys.stderr)
        return 1
    import cloudpickle

    job_id, attempt = _job()
    pickled = {}
    for name in names:
        value = namespace[name]
        try:
            pickled[name] = cloudpickle.dumps(value)
        except Exception as err:  # noqa: BLE001 - whatever pickling raises, the cause is the value
            why = " ".join(str(err).split()) or type(err).__name__
            print(f'jobflow: --out variable "{name}" ({_kind(value)}) cannot be saved: {why}. Save what it '
                  f"holds instead (e.g. list({name}) for a generator), or leave it out of --out", file=sys.stderr)
            cellvars.write_reason(spec["vars_dir"], job_id, attempt, "OutputNotSaved",
                                  {"name": name, "type": _kind(value)})
            return 1
    cellvars.save_outputs(spec["vars_dir"], job_id, attempt, pickled)
    return 0


def _pairs(text: str) -> list[tuple[str, int]]:
    pairs = []
    for item in filter(None, text.split(",")):
        name, _, job = item.partition("=")
        pairs.append((name, int(job)))
    return pairs


def parse_args(argv: list[str]) -> dict:
    import argparse

    parser = argparse.ArgumentParser(prog="jupyter_jobflow.cellrunner")
    parser.add_argument("--name", required=True, help="the filename tracebacks show")
    parser.add_argument("--cell-id", help="the notebook cell's id (for the job's details)")
    parser.add_argument("--first-line", type=int, default=1, help="the cell's line number of the source's first line")
    parser.add_argument("--vars-dir")
    parser.add_argument("--inputs")
    parser.add_argument("--from", dest="from", type=_pairs, help="NAME=JOB,...: --in variables a parent saved")
    parser.add_argument("--outputs", type=lambda text: [n for n in text.split(",") if n])
    parser.add_argument("source")
    return vars(parser.parse_args(argv))


def main() -> None:
    spec = parse_args(sys.argv[1:])
    sys.argv = [spec["name"]]
    sys.exit(run(spec))  # a normal exit: the cell's atexit handlers (wandb, ...) still run


if __name__ == "__main__":
    main()

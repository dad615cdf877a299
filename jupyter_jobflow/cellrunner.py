"""Runs a notebook cell as a job:

    python -m jupyter_jobflow.cellrunner --name "train.ipynb, cell [3]" [--vars-dir D]
        [--inputs IN.pkl] [--outputs x,y] CELL.py

The ``%%gbatch`` magic submits the cell's source as the job's script (so it is stored with the job)
and this runner as its command. Started by the job's supervisor with the kernel's own interpreter,
it loads the variables sent with ``--in``,
executes the cell under a filename that names the notebook and the cell, so a traceback points at
the cell's own line numbers, and on success saves the ``--out`` variables for ``job.result()``.

Kept free of jupyter_jobflow's other modules: it starts in the job, and every import is time.
"""

from __future__ import annotations

import linecache
import os
import sys
import traceback
from pathlib import Path


def outputs_path(vars_dir: str | os.PathLike[str], job_id: int | str) -> Path:
    """Where a job's ``--out`` variables are saved (and ``%gresult`` finds them)."""
    return Path(vars_dir) / str(job_id) / "out.pkl"


def run(spec: dict) -> int:
    source = Path(spec["source"]).read_text()
    filename = spec["name"]
    namespace: dict = {"__name__": "__main__"}
    if spec.get("inputs"):
        import cloudpickle

        with open(spec["inputs"], "rb") as f:
            namespace.update(cloudpickle.load(f))
    # linecache lets the traceback print the cell's own lines under the notebook's name
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        exec(compile(source, filename, "exec"), namespace)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException as err:  # noqa: BLE001 - the cell's error is the job's output
        tb = err.__traceback__.tb_next if err.__traceback__ else None  # drop this runner's frame
        traceback.print_exception(type(err), err, tb)
        return 1
    return _save_outputs(spec, namespace)


def _save_outputs(spec: dict, namespace: dict) -> int:
    names = spec.get("outputs") or []
    if not names:
        return 0
    missing = [n for n in names if n not in namespace]
    if missing:
        print(f'jobflow: --out variable "{missing[0]}" was not defined by the cell', file=sys.stderr)
        return 1
    import cloudpickle

    path = outputs_path(spec["vars_dir"], os.environ["JOBFLOW_JOB_ID"])
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # private, as privacy.py does
    tmp = path.with_suffix(".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        cloudpickle.dump({n: namespace[n] for n in names}, f)
    os.replace(tmp, path)  # all or nothing: result() never sees half a pickle
    return 0


def parse_args(argv: list[str]) -> dict:
    import argparse

    parser = argparse.ArgumentParser(prog="jupyter_jobflow.cellrunner")
    parser.add_argument("--name", required=True, help="the filename tracebacks show")
    parser.add_argument("--vars-dir")
    parser.add_argument("--inputs")
    parser.add_argument("--outputs", type=lambda text: [n for n in text.split(",") if n])
    parser.add_argument("source")
    return vars(parser.parse_args(argv))


def main() -> None:
    spec = parse_args(sys.argv[1:])
    sys.argv = [spec["name"]]
    sys.exit(run(spec))  # a normal exit: the cell's atexit handlers (wandb, ...) still run


if __name__ == "__main__":
    main()

"""The job handle ``%%gbatch`` returns (state, wait, log, cancel, ``result()``), and the two ends of
``--in``/``--out`` variables on the kernel's side: packing the inputs, loading a job's outputs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..core.errors import InvalidSpec
from ..core.model import TERMINAL
from .cellio import NoResult, Results, why_no_result


class JobHandle:
    """What ``%%gbatch`` returns: a submitted job, by id, on one service."""

    def __init__(self, client: Any, job_id: int, name: str, *, vars_dir: str | None = None,
                 warnings: tuple[str, ...] = (), shell: Any = None):
        self.client, self.id, self.name = client, int(job_id), name
        self.vars_dir, self.warnings, self._shell = vars_dir, tuple(warnings), shell

    def info(self) -> dict[str, Any]:
        return self.client.job(self.id)["job"]

    @property
    def state(self) -> str:
        return self.info()["state"]

    def wait(self, timeout: float | None = None) -> str:
        """Block until the job ends (or ``timeout`` seconds pass); returns its state."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.02
        while True:
            state = self.state
            if state in TERMINAL or (deadline is not None and time.monotonic() >= deadline):
                return state
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 1.5, 0.5)

    def log(self, attempt: int | None = None) -> str:
        """The job's output so far (the latest attempt, or ``attempt``)."""
        return self.client.log(self.id, attempt=attempt)["text"]

    def cancel(self) -> dict[str, Any]:
        return self.client.cancel([self.id])

    def result(self, timeout: float | None = None) -> Results:
        """The job's ``--out`` values once it ends (``timeout`` seconds at most), as a mapping
        (``r["score"]`` or ``r.score``). The notebook's variables are left alone: ``%gresult``
        loads values into them. Raises ``NoResult`` saying why when there is none."""
        if self.state != "Hold":
            self.wait(timeout)
        return load_outputs(self.client, self.id, self.vars_dir)

    def status_line(self) -> str:
        job = self.info()
        reason = f" ({job['reason']})" if job.get("reason") else ""
        return f"Submitted batch job {self.id} ({self.name}): {job['state']}{reason}"

    def __repr__(self) -> str:
        return f"<JobHandle {self.id} ({self.name})>"

    def _ipython_display_(self) -> None:
        """In a notebook: the live compact panel (state, parents, log, actions), which updates from
        the server's event stream even while the kernel is busy; elsewhere a status line."""
        from IPython.display import display

        if _in_notebook():
            try:
                from .widget import Panel

                display(Panel(job_ids=[self.id], compact=True, client=self.client))
                return
            except Exception:  # no built front end (a source checkout without node): text
                pass
        display({"text/plain": self.status_line()}, raw=True)


def _in_notebook() -> bool:
    try:
        return get_ipython().__class__.__name__ == "ZMQInteractiveShell"  # type: ignore[name-defined]  # noqa: F821
    except NameError:
        return False


def load_outputs(client: Any, job_id: int, vars_dir: str | None = None) -> Results:
    """The ``--out`` values of a Finished job's last attempt; ``NoResult`` says why there are none."""
    import cloudpickle

    from ..engine import cellvars

    job = client.job(job_id)["job"]
    if job["state"] != "Finished":
        raise NoResult(why_no_result(job))
    files = cellvars.output_files(vars_dir or _vars_dir(client), job_id, job["attempt"])
    if not files:
        raise NoResult(f"Job {job_id} saved no variables: submit its cell with --out NAME[,NAME...]")
    values = Results()
    for name, path in files.items():
        with open(path, "rb") as f:
            values[name] = cloudpickle.load(f)
    return values


def _vars_dir(client: Any) -> str:
    return str(Path(client.status()["state_dir"]) / "vars")


def pack_inputs(names: tuple[str, ...], namespace: dict[str, Any], path: Path) -> None:
    """Pickle the ``--in`` variables, refusing (one line, nothing submitted) what cannot travel."""
    import cloudpickle

    payload = {}
    for name in names:
        if name not in namespace:
            raise InvalidSpec(f'--in variable "{name}" is not defined in this notebook')
        value = namespace[name]
        try:
            payload[name] = cloudpickle.dumps(value)
        except Exception:
            kind = f"{type(value).__module__}.{type(value).__qualname__}".removeprefix("builtins.")
            raise InvalidSpec(f'Cannot send variable "{name}" ({kind}) to job: not picklable. Recreate it '
                              f"inside the cell, or leave it out of --in") from None
    from ..core.privacy import open_private, private_dir

    private_dir(path.parent.parent)  # vars/ and vars/in/ 0700, the file 0600: values may be secrets
    private_dir(path.parent)
    with os.fdopen(open_private(path), "wb") as f:
        cloudpickle.dump({n: cloudpickle.loads(b) for n, b in payload.items()}, f)

"""Where a cell job's variables live on disk, one attempt at a time.

    vars/in/<uuid>.pkl           the ``--in`` values the kernel sent at submit (one pickle)
    vars/<job>/<attempt>/<NAME>  one ``--out`` value of one attempt (a pickle per variable, so a
                                 child reading ``X_train`` does not unpickle its parent's model)
    vars/<job>/current           the attempt whose outputs are the job's current ones
    vars/<job>/<attempt>.reason  why that attempt's outputs could not be saved (JSON)

Outputs are per attempt, so a retried or redone job's values are its own; ``current`` is
removed when an attempt starts and written when one saves, so a job that ran again and failed
offers nothing rather than an older attempt's values. Everything under ``vars/<job>/`` goes
with the job at purge (retention.py). Directories 0700, files 0600: values may be secrets.

Stdlib only, bytes in and out (the caller pickles): the cell runner imports it in the job.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..core.privacy import open_private, private_dir


def job_dir(vars_dir: str | os.PathLike[str], job_id: int | str) -> Path:
    return Path(vars_dir) / str(int(job_id))


def attempt_dir(vars_dir: str | os.PathLike[str], job_id: int | str, attempt: int | str) -> Path:
    return job_dir(vars_dir, job_id) / str(int(attempt))


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with os.fdopen(open_private(tmp), "wb") as f:
        f.write(data)
    os.replace(tmp, path)  # all or nothing


def begin_attempt(vars_dir: str | os.PathLike[str], job_id: int | str) -> None:
    """A new attempt runs: the job offers no outputs until it saves its own."""
    try:
        os.unlink(job_dir(vars_dir, job_id) / "current")
    except FileNotFoundError:
        pass


def save_outputs(vars_dir: str | os.PathLike[str], job_id: int | str, attempt: int | str,
                 pickled: dict[str, bytes]) -> Path:
    """Store one attempt's ``--out`` values (already pickled) and make them the job's current ones."""
    private_dir(Path(vars_dir))
    parent = private_dir(job_dir(vars_dir, job_id))
    final = attempt_dir(vars_dir, job_id, attempt)
    staging = parent / f".{int(attempt)}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    private_dir(staging)
    for name, data in pickled.items():
        with os.fdopen(open_private(staging / name), "wb") as f:
            f.write(data)
    shutil.rmtree(final, ignore_errors=True)  # an attempt recorded twice (adopted after a crash)
    os.replace(staging, final)
    _write(parent / "current", f"{int(attempt)}\n".encode())
    return final


def current_attempt(vars_dir: str | os.PathLike[str], job_id: int | str) -> int | None:
    """The attempt whose outputs the job offers now, or None (it saved none, or runs again)."""
    try:
        text = (job_dir(vars_dir, job_id) / "current").read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def output_files(vars_dir: str | os.PathLike[str], job_id: int | str, attempt: int | str) -> dict[str, Path]:
    """The saved ``--out`` variables of one attempt, by name (empty when it saved none)."""
    folder = attempt_dir(vars_dir, job_id, attempt)
    try:
        return {p.name: p for p in sorted(folder.iterdir()) if p.name.isidentifier()}
    except FileNotFoundError:
        return {}


def write_reason(vars_dir: str | os.PathLike[str], job_id: int | str, attempt: int | str, kind: str,
                 args: dict[str, str]) -> None:
    """Why the attempt failed, in the scheduler's words (a ``Reason``), for the host to record."""
    private_dir(Path(vars_dir))
    parent = private_dir(job_dir(vars_dir, job_id))
    _write(parent / f"{int(attempt)}.reason", json.dumps({"kind": kind, "args": args}).encode())


def read_reason(vars_dir: str | os.PathLike[str], job_id: int | str, attempt: int | str) -> dict | None:
    try:
        data = json.loads((job_dir(vars_dir, job_id) / f"{int(attempt)}.reason").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("args"), dict) else None

"""``--output``/``--error`` file names (Slurm's ``sbatch -o/-e``): their ``%`` patterns.

``%j`` the job id, ``%x`` the job name (an array task's: the array's name, without ``[index]``),
``%A`` the array's id (its first task's; a plain job's own id), ``%a`` the array task index (``0``
for a plain job), ``%u`` the user, ``%%`` a ``%``. A number between ``%`` and the letter pads with
zeros (``%3a`` = ``007``), as in Slurm. Anything else after ``%`` is kept as written. A relative
name is relative to the job's working directory. Pure: the engine expands them at launch, the
executor writes the files.
"""

from __future__ import annotations

import re

from .errors import InvalidSpec
from .limits import MAX_PATH
from .model import Job

_PATTERN = re.compile(r"%(\d{0,3})([jxAau%])")
_TASK_SUFFIX = re.compile(r"\[\d+\]$")


def check(flag: str, text: str) -> str:
    """A file name given to ``--output``/``--error``: not empty, one line, not too long."""
    if not text.strip() or "\n" in text or "\0" in text or len(text) > MAX_PATH:
        raise InvalidSpec(f'{flag} expects a file name (patterns: %j job id, %x name, %A array id, %a task index), '
                          f'got "{text[:80]}"')
    return text


def expand(pattern: str, job: Job) -> str:
    """``job-%j.out`` -> ``job-42.out`` (see the module's text for the letters)."""
    index = job.env.get("JOBFLOW_ARRAY_TASK_ID", "0") if job.array_of is not None else "0"
    values = {"j": str(job.id), "x": _TASK_SUFFIX.sub("", job.name) if job.array_of is not None else job.name,
              "A": str(job.array_of if job.array_of is not None else job.id), "a": index, "u": job.user, "%": "%"}

    def one(m: re.Match[str]) -> str:
        value = values[m.group(2)]
        return value if m.group(2) in "%xu" or not m.group(1) else value.zfill(int(m.group(1)))

    return _PATTERN.sub(one, pattern)

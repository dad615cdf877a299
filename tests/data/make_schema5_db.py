"""Write ``jobflow-schema5.db`` next to this file: a database of schema version 5, the last release's
schema before migration 7 (flows, runs, schedules), for ``tests/test_store_upgrade.py``.

It is made by the code of that release, through a real ``JobService`` running real jobs, so it holds
what such a host really writes. Run it once, with that release's package first on the path:

    git archive 901b21c jupyter_jobflow | tar -x -C /tmp/schema5
    PYTHONPATH=/tmp/schema5 python tests/data/make_schema5_db.py

Nothing here reads this machine's environment into the database: every job's environment, user and
working directory are given.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from jupyter_jobflow.core.model import JobState
from jupyter_jobflow.engine.service import JobService

OUT = Path(__file__).resolve().parent / "jobflow-schema5.db"
WHO = dict(user="alice", scope="user:alice")


def settle(svc: JobService, *ids: int) -> None:
    deadline = time.monotonic() + 30
    while not all(svc.get(i).state.terminal for i in ids):
        assert time.monotonic() < deadline, [svc.get(i) for i in ids]
        time.sleep(0.02)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        svc = JobService(Path(tmp) / "state", simulated_gpus=2, kill_grace=1.0).start()
        assert svc.store.schema_version() == 5, "run this with the schema-5 release (see the docstring)"
        common = dict(cwd="/tmp", **WHO)  # a directory every machine has: the jobs can run after an upgrade
        svc.set_group("train", limit=2)
        ok = svc.submit(["sh", "-c", "echo done"], name="ok", gpus=1, priority=5, time_limit="10:00",
                        env={"EXPERIMENT": "e1"}, export="ALL", output="ok-%j.out", group="train", **common)
        bad = svc.submit(["sh", "-c", "exit 3"], name="bad", retries=1, **common)
        array = svc.submit(["sh", "-c", "echo $JOBFLOW_ARRAY_TASK_ID"], name="sweep", array="0-2%1", **common)
        # a notebook cell's job as %%gbatch submits it: the cell runner, the cell as its script
        cell = svc.submit([sys.executable, "-m", "jupyter_jobflow.cellrunner", "--name", "analysis.ipynb, cell [3]",
                           "--first-line", "2", "--vars-dir", str(work / "vars")],
                          script="x = 6 * 7\nprint(x)\n", name="analysis[3]", **common)
        settle(svc, ok.id, bad.id, cell.id, *array.array_ids)
        held = svc.submit(["true"], name="held", hold=True, **common)
        waits = svc.submit(["true"], name="waits", dependency=f"afterok:{held.id}", **common)
        gone = svc.submit(["true"], name="gone", dependency=f"afterany:{held.id}", **common)
        svc.cancel([gone.id])
        doomed = svc.submit(["true"], name="doomed", dependency=f"afterok:{bad.id}", **common)  # cancelled at once
        again = svc.redo(bad.id)
        settle(svc, again.id)
        states = {j.id: (j.name, j.state.value) for j in svc.list()}
        assert svc.get(waits.id).state is JobState.QUEUED and svc.get(held.id).state is JobState.HOLD
        svc.close()
        print(states)
        OUT.unlink(missing_ok=True)
        db = sqlite3.connect(Path(tmp) / "state" / "jobflow.db")
        db.execute("VACUUM INTO ?", [str(OUT)])
        db.close()
        print(f"wrote {OUT} ({OUT.stat().st_size} bytes): jobs {ok.id}..{again.id}, doomed {doomed.id}, "
              f"waits {waits.id}")


if __name__ == "__main__":
    main()

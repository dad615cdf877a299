"""A host that cannot start says why in one line and exits 1: the real daemon as a subprocess.

Root ignores file permissions, so an unwritable or full disk is made for real: a read-only and a
tiny tmpfs (skipped where this process may not mount, with the reason).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_jobflow.engine.hostlock import HostLock
from jupyter_jobflow.engine.store import MIGRATIONS

pytestmark = pytest.mark.timeout(120)


def start_daemon(state_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "JOBFLOW_GPU_SOURCE": "none"}
    return subprocess.run([sys.executable, "-m", "jupyter_jobflow.server.daemon", "--state-dir", str(state_dir)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1 and result.stdout == "", (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture
def mount(tmp_path):
    """``mount(options)`` -> a fresh tmpfs mounted with ``options``; unmounted afterwards."""
    mounted = []

    def make(options: str) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or 'not root'}): needs root with "
                        f"CAP_SYS_ADMIN")
        mounted.append(point)
        return point

    yield make
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_corrupt_database_is_one_line_naming_it(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "jobflow.db").write_bytes(os.urandom(8192))
    line = one_line(start_daemon(state))
    assert line == (f"jobflow daemon: The jobflow database {state}/jobflow.db is damaged or not a jobflow "
                    f"database; move it away (a fresh one is made) or restore a backup")
    assert not (state / "endpoint.json").exists()


def test_a_database_from_a_newer_version_is_one_line(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    with sqlite3.connect(state / "jobflow.db") as db:
        db.execute("PRAGMA user_version = 99")
    line = one_line(start_daemon(state))
    assert line == (f"jobflow daemon: {state}/jobflow.db has schema version 99, newer than this jupyter-jobflow "
                    f"understands ({len(MIGRATIONS)}); upgrade jupyter-jobflow")


def test_a_state_directory_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("")
    state = tmp_path / "a-file" / "state"
    line = one_line(start_daemon(state))
    assert line == (f"jobflow daemon: Cannot use the jobflow state directory {state}: Not a directory ({state}); "
                    f"make it a directory this user can write, or choose another (--state-dir or $JOBFLOW_HOME)")


def test_a_read_only_state_directory_is_one_line(mount):
    state = mount("ro,size=1m")
    line = one_line(start_daemon(state))
    assert line == (f"jobflow daemon: Cannot use the jobflow state directory {state}: Read-only file system "
                    f"({state}/logs); it is on a read-only file system; choose another (--state-dir or "
                    f"$JOBFLOW_HOME)")


def test_a_full_disk_is_one_line_naming_the_database(mount):
    disk = mount("size=64k")
    (disk / "state").mkdir()
    n = 0
    try:
        while True:  # fill it, page by page, then free one page: room for the lock file, not the database
            (disk / f"fill{n}").write_bytes(b"\0" * 4096)
            n += 1
    except OSError:
        (disk / "fill0").unlink()
    line = one_line(start_daemon(disk / "state"))
    assert line == (f"jobflow daemon: The jobflow database {disk}/state/jobflow.db cannot be written: the disk is "
                    f"full; free space on {disk}/state and start again")


def test_the_lock_is_taken_before_the_database_is_opened(tmp_path):
    """A second host on a database another process holds locked names the holder at once, instead
    of waiting for the database and saying ``database is locked``."""
    state = tmp_path / "state"
    state.mkdir()
    lock = HostLock.acquire(state / "scheduler.lock")  # this process is the host...
    db = sqlite3.connect(state / "jobflow.db", isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")  # ... and holds its database in a write
    try:
        t0 = time.monotonic()
        line = one_line(start_daemon(state))
        assert time.monotonic() - t0 < 20  # not SQLite's 30 s busy wait
        assert line.startswith(f"jobflow daemon: {state} is already scheduled by process {os.getpid()} (")
        assert "database is locked" not in line
    finally:
        db.execute("ROLLBACK")
        db.close()
        lock.release()

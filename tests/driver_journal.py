"""A driver process and the journal it writes, watched from a test (real processes, no mocks).

The resume and chaos tests start a search in a subprocess, wait until its journal holds some
fits, kill it, and check what a rerun does; these are the pieces they share.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, every: float = 0.05) -> bool:
    """Poll ``predicate`` every ``every`` s: True once it holds, False after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def journal_rows(path: Path, status: str | None = None) -> int:
    """Finished fits (``status``: only those) in a journal another process is writing; 0 before
    it exists."""
    if not path.exists():
        return 0
    where = "status != 'cancelled'" if status is None else f"status = '{status}'"
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
            return db.execute(f"SELECT COUNT(*) FROM fits WHERE {where}").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not written yet
        return 0


def kill_once_journaled(
    proc: subprocess.Popen,
    journal: Path,
    n_rows: int,
    *,
    status: str | None = None,
    timeout: float = 60.0,
    every: float = 0.05,
) -> None:
    """SIGKILL the driver ``proc`` as soon as ``journal`` holds ``n_rows`` fits (its output in the
    failure when it never does); it is dead when this returns."""
    try:
        reached = wait_until(lambda: journal_rows(journal, status) >= n_rows, timeout, every)
        assert reached, proc.stdout.read1().decode() if proc.stdout else "no output"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()

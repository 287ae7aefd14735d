"""Processes that outlive the command that started them: a detached ``dask scheduler``.

The local backend runs its scheduler and workers this way; the Slurm backend runs its scheduler
this way on the login node. A process is spawned in its own session (Ctrl-C and the end of the
command do not reach it), its output goes to a log file, and :func:`start_scheduler` waits —
bounded — for the scheduler file the scheduler writes once it listens.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from daskcloud.exceptions import ClusterError

__all__ = ["SCHEDULER", "WORKER", "alive", "read_json", "spawn", "start_scheduler", "stop", "tail"]

SCHEDULER = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]


def alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's pid: treat as alive
        return True
    # a zombie child (our own test processes) is dead for our purposes
    with contextlib.suppress(OSError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] != "Z"
    return True


def spawn(cmd: list[str], log: Path, env: Mapping[str, str] | None = None) -> int:
    """Start ``cmd`` in its own session, output appended to ``log``; returns its pid."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=log.parent,
            env=None if env is None else {**os.environ, **env},
        )  # fmt: skip
    return proc.pid


def read_json(path: Path) -> dict | None:
    """The scheduler file once it is completely written (it appears before it is filled)."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a text file ('' when it does not exist)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def stop(pids: list[int], timeout: float = 15.0) -> None:
    """SIGTERM the process groups of ``pids``; SIGKILL what still runs after ``timeout``."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def start_scheduler(
    args: list[str],
    directory: Path,
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> tuple[int, dict]:
    """Spawn ``dask scheduler <args> --scheduler-file DIR/scheduler.json``; wait for the file.

    Returns the pid and the scheduler file's content (``address``, ``services``, ...). The log
    is ``DIR/scheduler.log``.

    Raises:
        ClusterError: the scheduler exited, or wrote no file within ``timeout`` seconds (with
            its last log lines). The process is stopped first.
    """
    file = directory / "scheduler.json"
    file.unlink(missing_ok=True)
    log = directory / "scheduler.log"
    pid = spawn([*SCHEDULER, *args, "--scheduler-file", str(file)], log, env)
    deadline = time.monotonic() + timeout
    while (info := read_json(file)) is None:
        if not alive(pid) or time.monotonic() > deadline:
            why = "exited" if not alive(pid) else f"did not start within {timeout:.0f} s"
            stop([pid])
            raise ClusterError(
                f"the scheduler {why}; its last log lines: " + tail(log, 5).replace("\n", " | ")
            )
        time.sleep(0.1)
    return pid, info

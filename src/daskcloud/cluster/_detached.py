"""Processes that outlive the command that started them: a detached ``dask scheduler``.

The local backend runs its scheduler and workers this way; the Slurm backend runs its scheduler
this way on the login node. A process is spawned in its own session (Ctrl-C and the end of the
command do not reach it), its output goes to a log file, and :func:`start_scheduler` waits —
bounded — for the scheduler file the scheduler writes once it listens.

A process is known by its *identity* ``[pid, start time]`` (psutil), never by its pid alone:
after a reboot, or once the pid is reused by an unrelated process, :func:`alive` says False
and :func:`stop` leaves that process (and its group) alone.
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
from typing import Any

import psutil

from daskcloud.exceptions import ClusterError

__all__ = [
    "SCHEDULER",
    "WORKER",
    "alive",
    "identity",
    "pid_of",
    "read_json",
    "same_process",
    "spawn",
    "start_scheduler",
    "stop",
    "tail",
    "wait_for_json",
]

SCHEDULER = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]


#: seconds two readings of one process's start time may differ by (clock-tick resolution)
_START_TOLERANCE = 0.1


def identity(pid: int) -> list[float]:
    """``[pid, start time]``: what a record keeps so that the pid is never mistaken later."""
    return [pid, psutil.Process(pid).create_time()]


def pid_of(ident: Any) -> int:
    """The pid of an identity (0 when there is none), for messages."""
    return int(ident[0]) if isinstance(ident, list | tuple) and ident else 0


def same_process(ident: Any) -> psutil.Process | None:
    """The live process ``ident`` names, or None when it exited or its pid was reused.

    A bare pid (no start time) cannot be told from a reused one and is never acted on.
    """
    if not isinstance(ident, list | tuple) or len(ident) != 2:
        return None
    pid, started = ident
    try:
        process = psutil.Process(int(pid))
        if abs(process.create_time() - float(started)) > _START_TOLERANCE:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:  # exited, not yet reaped by its parent
            return None
    except (psutil.Error, ValueError, TypeError):
        return None
    return process


def alive(ident: Any) -> bool:
    """True while the process of identity ``ident`` runs (a zombie or a reused pid: False)."""
    return same_process(ident) is not None


def spawn(cmd: list[str], log: Path, env: Mapping[str, str] | None = None) -> list[float]:
    """Start ``cmd`` in its own session, output appended to ``log``; returns its identity."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=log.parent,
            env=None if env is None else {**os.environ, **env},
        )  # fmt: skip
    return identity(proc.pid)


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


def stop(identities: list[Any], timeout: float = 15.0) -> None:
    """SIGTERM the process groups of the processes that are still ours; SIGKILL what still
    runs after ``timeout``. Each leads its own session, so its group is its pid."""
    ours = [p for p in map(same_process, identities) if p is not None]
    for process in ours:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(_running(p) for p in ours) and time.monotonic() < deadline:
        time.sleep(0.1)
    for process in ours:
        if _running(process):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def start_scheduler(
    args: list[str],
    directory: Path,
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> tuple[list[float], dict]:
    """Spawn ``dask scheduler <args> --scheduler-file DIR/scheduler.json``; wait for the file.

    Returns the process's identity and the scheduler file's content (``address``,
    ``services``, ...). The log is ``DIR/scheduler.log``.

    Raises:
        ClusterError: the scheduler exited, or wrote no file within ``timeout`` seconds (with
            its last log lines). The process is stopped first.
    """
    file = directory / "scheduler.json"
    file.unlink(missing_ok=True)
    log = directory / "scheduler.log"
    ident = spawn([*SCHEDULER, *args, "--scheduler-file", str(file)], log, env)
    return ident, wait_for_json(ident, file, log, what="the scheduler", timeout=timeout)


def wait_for_json(
    ident: list[float], path: Path, log: Path, *, what: str, timeout: float, poll: float = 0.1
) -> dict:
    """The JSON file the process ``ident`` writes once it listens, waited for up to ``timeout``.

    Raises:
        ClusterError: ``what`` exited, or wrote no file in time (with its last log lines from
            ``log``). The process is stopped first.
    """
    deadline = time.monotonic() + timeout
    while (info := read_json(path)) is None:
        if not alive(ident) or time.monotonic() > deadline:
            why = "exited" if not alive(ident) else f"did not start within {timeout:.0f} s"
            stop([ident])
            raise ClusterError(
                f"{what} {why}; its last log lines: " + tail(log, 5).replace("\n", " | ")
            )
        time.sleep(poll)
    return info

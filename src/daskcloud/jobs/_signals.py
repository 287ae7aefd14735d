"""SIGINT and SIGTERM for the command line: stop cleanly once, exit at once the second time.

A batch system stops a job with SIGTERM, a user with Ctrl-C. Under
:func:`stop_on_signals` the first of either raises :class:`SearchInterrupted` in the main
thread: the search stops submitting, cancels its fits in flight, closes the journal
(every finished fit is already committed) and the command prints how to resume and
exits with 128 + the signal number (130, 143). A second signal while that cleanup runs
exits the process at once with the same code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

from daskcloud.exceptions import Interrupted, SearchInterrupted

__all__ = ["as_interrupted", "stop_on_signals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """Within: the first SIGINT/SIGTERM raises SearchInterrupted, a second exits at once.

    Yields the list of signals received (empty unless one came).
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, frame: Any) -> None:
        if received:
            os._exit(128 + signum)
        received.append(signum)
        name = signal.Signals(signum).name
        raise SearchInterrupted(f"interrupted by {name}", signum=signum)

    previous = {s: signal.signal(s, handler) for s in _SIGNALS}
    try:
        yield received
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextlib.contextmanager
def as_interrupted() -> Iterator[None]:
    """Turn a SearchInterrupted into :class:`Interrupted` (a DaskcloudError the CLI prints).

    Used around the search of a job, so the cleanup (cancel, close the journal and the
    cluster) has run when the command line sees it.
    """
    try:
        yield
    except SearchInterrupted as e:
        raise Interrupted(str(e), signum=e.signum) from e

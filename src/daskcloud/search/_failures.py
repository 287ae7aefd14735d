"""How a search that ends badly says so: one line naming the cause and what to do next.

Everything a search can end with after its inputs passed :mod:`._precheck` -- every fit
failed, the scheduler went away, a signal -- becomes one :class:`DaskcloudError` (or
:class:`SearchInterrupted`) whose message names the first error and where the rest are:
the journal, which keeps every finished fit, so rerunning the same command resumes.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from collections.abc import Sequence
from typing import Any

from daskcloud.exceptions import ClusterError, FitsFailedError, SearchInterrupted
from daskcloud.search import _sklearn

__all__ = [
    "check_fit_failures",
    "interrupted",
    "is_scheduler_lost",
    "scheduler_gone",
    "scheduler_lost",
]


def _journal_words(journal_path: str | None) -> str:
    if journal_path is None:
        return "the journal (kept in memory only: pass journal= a path to keep it)"
    return f"the journal {journal_path}"


def check_fit_failures(
    out: Sequence[dict[str, Any]], error_score: Any, journal: str | None
) -> None:
    """scikit-learn's FitFailedWarning for some failed fits; FitsFailedError when all failed."""
    try:
        _sklearn.warn_or_raise_about_fit_failures(list(out), error_score)
    except ValueError as e:
        first = next((o["fit_error"] for o in out if o.get("fit_error")), "")
        raise FitsFailedError(
            f"all {len(out)} fits failed; the first with {last_line(first)}; every error is in "
            f"{_journal_words(journal)} (status 'error'); error_score='raise' stops at the first"
        ) from e


def last_line(text: str) -> str:
    """The last non-empty line of a traceback: ``ValueError: could not convert ...``."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else "an unknown error"


def is_scheduler_lost(client: Any, error: BaseException) -> bool:
    """True when ``error`` came from losing the scheduler rather than from the search."""
    if isinstance(error, KeyboardInterrupt):
        return False
    status = str(getattr(client, "status", "running"))
    if status not in ("running", "Status.running"):
        return True
    try:
        from distributed.comm.core import CommClosedError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, CommClosedError) or (
        isinstance(error, OSError) and "connect" in str(error).lower()
    )


def scheduler_gone(client: Any) -> bool:
    """For a client that lost its scheduler: True unless it reconnects.

    Dask's ``Client`` reconnects by itself for its connect timeout
    (``distributed.comm.timeouts.connect``, 30 s) before it gives up. Waiting that long
    is right when something may bring the same address back (daskcloud's port-forward
    relay repairs its upstream behind a stable local port), but not when nothing listens
    there any more: a TCP connection the scheduler's host *refuses* says the scheduler
    process is gone, so that ends the wait at once, within a second of the loss.
    """
    address = getattr(getattr(client, "scheduler", None), "address", None)
    deadline = time.monotonic() + float(getattr(client, "_timeout", None) or 30)
    while time.monotonic() < deadline:
        status = str(getattr(client, "status", "running"))
        if status in ("running", "Status.running"):
            return False
        if status != "connecting" or _refused(address):
            return True
        time.sleep(0.2)
    return str(getattr(client, "status", "")) != "running"


def _refused(address: str | None) -> bool:
    """True when a TCP connection to the scheduler's ``tcp://`` or ``tls://`` address is refused."""
    if not address or address.split("://", 1)[0] not in ("tcp", "tls"):
        return False
    from distributed.comm import get_address_host_port

    with contextlib.suppress(ValueError):
        host, port = get_address_host_port(address)
        try:
            socket.create_connection((host, port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        except OSError:  # unreachable, timed out: the network, maybe passing; keep waiting
            return False
    return False


def scheduler_lost(
    address: str | None, n_done: int, n_total: int | None, journal: str | None
) -> ClusterError:
    """The error to raise when the scheduler went away in the middle of a search."""
    of = "" if n_total is None else f" of {n_total}"
    return ClusterError(
        f"lost the Dask scheduler at {address or 'an unknown address'}; {n_done}{of} fits are "
        f"in {_journal_words(journal)}; rerun the same command to resume"
    )


def interrupted(signum: int, n_done: int, n_total: int | None, journal: str | None) -> Any:
    """The :class:`SearchInterrupted` to raise when a signal stopped a search."""
    name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else signum
    of = "" if n_total is None else f" of {n_total}"
    return SearchInterrupted(
        f"interrupted by {name}: fits in flight were cancelled; {n_done}{of} fits are in "
        f"{_journal_words(journal)}; rerun the same command to resume",
        signum=signum,
    )

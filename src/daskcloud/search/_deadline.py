"""``fit_timeout``: a fit that runs too long is given up, scored ``error_score``, its worker freed.

Python cannot stop a thread that runs a fit (a loop in C, a ``time.sleep``, a stuck
lock), so a deadline is kept by the driver, not by the fit:

1. with ``fit_timeout`` every task holds one whole fit (no batching, no shared
   prefix), so a task's running time is one fit's, as ``GridSearchCV`` measures it;
2. a task announces on its worker that it started (:func:`announce_start`, an event on
   the scheduler's topic :data:`TOPIC`, which :class:`Deadlines` subscribes to), so
   the time a task waits in a worker's queue does not count;
3. a task still running ``fit_timeout`` seconds after it started is given up: its
   future is cancelled and its fit recorded as failed (``FitTimeout``: journaled with
   status ``error``, scored ``error_score``, as ``GridSearchCV`` scores a fit that
   raised); the search goes on;
4. the worker is restarted, in a background thread, because the abandoned thread would
   otherwise stay busy until the fit returns -- if ever: by its nanny
   (``Client.restart_workers``), or, for a worker without one (daskcloud's embedded
   cluster), by ending its process (``os._exit`` run on the worker's event loop, which
   the busy thread does not block) so that whoever started it starts it again (the
   embedded cluster does; a bare ``dask worker --no-nanny`` stays gone). Other fits
   running on that worker are rerun elsewhere.

The deadline is checked once a second, so a fit is given up between ``fit_timeout``
and ``fit_timeout + 1`` s after it started (plus the time a restart takes).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from typing import Any

from daskcloud.exceptions import ConfigError

__all__ = ["TOPIC", "Deadlines", "FitTimeout", "announce_start", "resolve_fit_timeout"]

#: the scheduler event topic on which tasks announce that they started
TOPIC = "daskcloud-fit-start"
#: seconds a worker restart may take (stopping the old process, starting a new one)
RESTART_S = 120


class FitTimeout(Exception):
    """A fit ran longer than ``fit_timeout`` and was given up."""


def resolve_fit_timeout(value: Any) -> float | None:
    """Seconds from ``fit_timeout`` (a positive number or a duration such as ``"10m"``)."""
    from daskcloud.core.units import parse_duration

    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(
                f"fit_timeout={value!r} must be a positive number of seconds or a duration "
                "such as '10m'"
            )
        return float(value)
    try:
        return float(parse_duration(value, "fit_timeout"))
    except ValueError as e:
        raise ConfigError(str(e)) from e


def announce_start() -> None:
    """On a worker: tell the driver (through the scheduler) that this task started."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not on a worker: nobody keeps a deadline
        return
    worker.log_event(TOPIC, {"key": worker.get_current_task(), "worker": worker.address})


class Deadlines:
    """The driver's side: when each watched task started, and which ran out of time."""

    def __init__(self, client: Any, seconds: float) -> None:
        self.client, self.seconds = client, seconds
        self._lock = threading.Lock()  # the handler runs on the client's event loop thread
        self._started: dict[Any, tuple[float, str]] = {}
        # key of the task that fits -> (future the runner holds, future of the fitting task)
        self._watched: dict[Any, tuple[Any, Any]] = {}
        self._restarts: list[threading.Thread] = []
        client.subscribe_topic(TOPIC, self._on_start)

    def _on_start(self, event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        with self._lock:
            self._started[msg["key"]] = (time.monotonic(), msg["worker"])

    def watch(self, future: Any, fitting: Any = None) -> None:
        """Keep ``fit_timeout`` on the task ``fitting`` (default: ``future``, what the
        runner waits on).

        With warm start the runner waits on a small task that depends on the fitting one;
        it may queue behind another fit on that worker's thread, so the fit counts as done
        in time once ``fitting`` is.
        """
        fitting = future if fitting is None else fitting
        with self._lock:
            self._watched[fitting.key] = (future, fitting)

    def forget(self, future: Any) -> None:
        """``future`` finished (or was retried): no deadline any more."""
        with self._lock:
            for key in [k for k, (f, _) in self._watched.items() if f is future]:
                del self._watched[key]
                self._started.pop(key, None)

    def expired(self) -> list[tuple[Any, str]]:
        """``(future, worker address)`` of every watched task past its deadline, forgotten."""
        now, out = time.monotonic(), []
        with self._lock:
            for key, (future, fitting) in list(self._watched.items()):
                started = self._started.get(key)
                if fitting.done():  # finished in time: its result is handled as it comes
                    continue
                if started is not None and now - started[0] > self.seconds:
                    out.append((future, started[1]))
                    del self._watched[key], self._started[key]
        return out

    def error(self) -> FitTimeout:
        """The error a fit past its deadline is recorded with."""
        return FitTimeout(
            f"fit_timeout={self.seconds:g}s: the fit ran longer and was given up; its worker "
            "was restarted to free the thread"
        )

    def free(self, workers: list[str]) -> None:
        """Restart ``workers`` (their threads still run abandoned fits), in the background:
        the search goes on with the other workers meanwhile."""

        def restart() -> None:
            with contextlib.suppress(Exception):  # a lost scheduler shows in the next result
                info = self.client.scheduler_info(n_workers=-1)["workers"]
                nanny = sorted({w for w in workers if (info.get(w) or {}).get("nanny")})
                bare = sorted(set(workers) - set(nanny))
                if bare:  # no nanny to restart it: end the process, its owner starts another
                    self.client.run(os._exit, 1, workers=bare, on_error="ignore")
                if nanny:
                    self.client.restart_workers(nanny, timeout=RESTART_S, raise_for_error=False)

        thread = threading.Thread(target=restart, name="daskcloud-restart", daemon=True)
        thread.start()
        self._restarts.append(thread)

    def close(self, wait: bool = True) -> None:
        """Stop listening; with ``wait``, until restarted workers are back (the cluster is
        whole again when the search returns, and not torn down mid-restart)."""
        with contextlib.suppress(Exception):
            self.client.unsubscribe_topic(TOPIC)
        for thread in self._restarts if wait else []:
            thread.join(RESTART_S)

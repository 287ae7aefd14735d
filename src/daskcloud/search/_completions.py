"""Where the runner learns that a task finished: one source of completed tasks.

:class:`Completions` wraps ``distributed.as_completed`` (results are gathered in
the background while the runner journals the previous ones) and hands the runner
one ``(future, outcome)`` at a time, where the outcome is the task's result or
the exception it failed with -- never a raw ``(type, exc, tb)`` tuple. It waits
at most ``timeout`` seconds, so a time budget's deadline (or any other check the
runner makes between results) wakes the loop.
"""

from __future__ import annotations

import time
from concurrent.futures import CancelledError
from typing import Any

__all__ = ["Completions", "is_infrastructure"]


class Completions:
    """Futures in flight, delivered as they finish (see the module docstring)."""

    def __init__(self, client: Any) -> None:
        from distributed import as_completed

        # the loop is given so that a client that is not the default one works too
        self._ac = as_completed(loop=client.loop, with_results=True, raise_errors=False)
        self._futures: set[Any] = set()
        self._done_since: dict[Any, float] = {}

    def add(self, future: Any) -> None:
        """Watch ``future``."""
        self._futures.add(future)
        self._ac.add(future)

    def discard(self, future: Any) -> None:
        """Stop watching ``future`` (the runner gave it up): it is never delivered."""
        self._futures.discard(future)
        self._done_since.pop(future, None)

    def __len__(self) -> int:
        return len(self._futures)

    def next(self, timeout: float) -> tuple[Any, Any] | None:
        """The next finished future and its result (or exception); None after ``timeout``.

        A task that is done but that ``as_completed`` failed to deliver (distributed
        can drop one in a race when a client loses its scheduler) is delivered
        directly after two seconds, so the loop never hangs.
        """
        from distributed import wait

        if not self._ac.has_ready() and self._futures and timeout > 0:
            try:
                wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED")
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # timed out or cancelled: the results tell which
                pass
        while self._ac.has_ready():
            future, result = next(self._ac)
            if future in self._futures:  # else already delivered by the safety net
                return self._deliver(future, result)
        now = time.monotonic()
        for future in [f for f in self._futures if f.done()]:
            if now - self._done_since.setdefault(future, now) > 2.0:
                try:
                    return self._deliver(future, future.result())
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as e:  # asyncio's CancelledError too: a failed task
                    return self._deliver(future, e)
        return None

    def _deliver(self, future: Any, result: Any) -> tuple[Any, Any]:
        self._futures.discard(future)
        self._done_since.pop(future, None)
        if future.status != "finished" or isinstance(result, BaseException):
            return future, _exception_of(future, result)
        return future, result

    def clear(self) -> None:
        """Forget every future (dropping them frees what the workers hold for them)."""
        self._ac.clear()
        self._futures.clear()
        self._done_since.clear()


def _exception_of(future: Any, result: Any) -> BaseException:
    """The exception of a failed future from ``as_completed(with_results=True)``."""
    if isinstance(result, BaseException):  # cancelled
        return result
    if isinstance(result, tuple) and len(result) == 3 and isinstance(result[1], BaseException):
        return result[1]  # (type, exception, traceback) of an erred task
    try:
        return future.exception() or CancelledError(future.key)
    except CancelledError as e:
        return e


def is_infrastructure(exc: BaseException) -> bool:
    """A failure of the cluster, not of the fit: worth running again."""
    try:
        from distributed.comm.core import CommClosedError
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover
        return isinstance(exc, CancelledError)
    # KilledWorker is not retried: the fit itself killed workers (e.g. out of memory)
    return not isinstance(exc, KilledWorker) and isinstance(
        exc, CancelledError | CommClosedError | TimeoutError
    )

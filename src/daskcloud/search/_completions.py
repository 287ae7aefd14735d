"""Where the runner learns that tasks finished: one source of completed tasks.

:class:`Completions` wraps one ``distributed.as_completed`` (results are gathered
on the client's event loop while the runner journals the previous ones) and hands
the runner every ``(future, outcome)`` ready, where the outcome is the task's result
or the exception it failed with -- never a raw ``(type, exc, tb)`` tuple. The
runner blocks on that one queue, so a result costs the same however many tasks are
in flight; it waits at most ``timeout`` seconds, so a time budget's deadline (or any
other check the runner makes between results) wakes the loop.
"""

from __future__ import annotations

import queue
import time
from concurrent.futures import CancelledError
from typing import Any

__all__ = ["Completions", "is_infrastructure"]

#: seconds a done future may go undelivered before the safety net delivers it
_SAFETY_NET_S = 2.0


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

    def update(self, futures: list[Any]) -> None:
        """Watch every one of ``futures``."""
        self._futures.update(futures)
        self._ac.update(futures)

    def discard(self, future: Any) -> None:
        """Stop watching ``future`` (the runner gave it up): it is never delivered."""
        self._futures.discard(future)
        self._done_since.pop(future, None)

    def __len__(self) -> int:
        return len(self._futures)

    def wait(self, timeout: float) -> list[tuple[Any, Any]]:
        """Every finished future with its result (or exception), waiting up to ``timeout``
        seconds for the first; an empty list when none finished in time.

        A task that is done but that ``as_completed`` failed to deliver (distributed
        can drop one in a race when a client loses its scheduler) is delivered
        directly once nothing else arrived for ``timeout`` seconds and it has been
        done for two: the check runs only when the queue stays empty, so it costs
        nothing per result.
        """
        ready = self._ac.queue  # as_completed's own thread-safe queue of (future, result)
        out: list[tuple[Any, Any]] = []
        try:
            item = ready.get(timeout=timeout) if timeout > 0 else ready.get_nowait()
        except queue.Empty:
            return self._safety_net()
        while True:
            future, result = item
            if future in self._futures:  # else already delivered by the safety net
                out.append(self._deliver(future, result))
            try:
                item = ready.get_nowait()
            except queue.Empty:
                return out

    def _safety_net(self) -> list[tuple[Any, Any]]:
        now, out = time.monotonic(), []
        for future in [f for f in self._futures if f.done()]:
            if now - self._done_since.setdefault(future, now) <= _SAFETY_NET_S:
                continue
            try:
                out.append(self._deliver(future, future.result()))
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:  # asyncio's CancelledError too: a failed task
                out.append(self._deliver(future, e))
        return out

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

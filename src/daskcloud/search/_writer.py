"""The runner's journal writes, off its loop: one writer thread, batched transactions.

:class:`JournalWriter` takes the records of each finished task (:meth:`~JournalWriter.put`
returns at once) and appends them from one thread, everything queued since its last
commit in one transaction, so SQLite's commits never hold up the loop that submits
the next fits and a fast search commits tens of tasks at a time. It is the journal's
one writer while the run lasts (see :mod:`daskcloud.search.journal`).

:meth:`~JournalWriter.flush` waits until everything put is committed; the runner
flushes before it returns or raises, so a finished search, a budget stop and an
interrupt leave every fit that was handled in the journal, as before. A failed append
(a full disk) is raised in the runner's thread by the next ``put`` or ``flush``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence

from daskcloud.search.journal import FitRecord, Journal, TaskRecord

__all__ = ["JournalWriter"]

_STOP = None


class JournalWriter:
    """Append records to ``journal`` from a thread of its own (see the module docstring)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._queue: queue.Queue[Sequence[FitRecord | TaskRecord] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def put(self, records: Sequence[FitRecord | TaskRecord]) -> None:
        """Queue ``records`` for the next transaction."""
        self._raise()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="daskcloud-journal",
                                            daemon=True)  # fmt: skip
            self._thread.start()
        self._queue.put(records)

    def flush(self) -> None:
        """Wait until everything put is committed; raise what a failed append raised."""
        self._queue.join()
        self._raise()

    def close(self) -> None:
        """Flush, then end the thread (safe to call twice)."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:  # everything queued meanwhile joins this transaction
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [r for item in batch if item is not _STOP for r in item]
            try:
                if records and self._error is None:
                    self.journal.append(records)
            except BaseException as e:  # a JournalError: the runner raises it
                self._error = e
            finally:
                for _ in batch:
                    self._queue.task_done()
            if any(item is _STOP for item in batch):
                return

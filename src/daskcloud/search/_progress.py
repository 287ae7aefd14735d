"""Search progress: a rich bar on a terminal, plain log lines otherwise, nothing when off.

The runner calls :meth:`SearchProgress.update` with its live
:class:`~daskcloud.search._trials.RunStats` after every fit; the display shows
fits done / total, the best score so far, elapsed time, ETA and workers.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

__all__ = ["SearchProgress", "make_progress"]


class SearchProgress:
    """Progress of one search; ``mode`` is ``"bar"`` (rich), ``"log"`` (lines) or ``"off"``."""

    def __init__(
        self,
        total: int | None,
        n_workers: int,
        *,
        mode: str = "log",
        stream: TextIO | None = None,
        log_every_s: float = 5.0,
    ) -> None:
        self.total, self.n_workers, self.mode = total, n_workers, mode
        self.stream = stream or sys.stdout
        self.log_every_s = log_every_s
        self._last_log = 0.0
        self._last_done = -1
        self._started = time.time()
        self._bar: Any = None
        self._task: Any = None
        #: optional ``(stats) -> str`` shown after the counters (the budget used)
        self.note: Any = None
        if mode == "bar":
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]search"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("fits  best {task.fields[best]}  workers {task.fields[workers]}"),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._task = self._bar.add_task(
                "search", total=total, best="-", workers=n_workers, note=""
            )
            self._bar.start()

    def update(self, stats: Any) -> None:
        """Show the current counters (cheap to call after every fit)."""
        done = stats.n_fits + stats.n_fits_skipped
        best = "-" if math.isinf(stats.best_score) else f"{stats.best_score:.4g}"
        note = self.note(stats) if self.note is not None else ""
        if self.mode == "bar":
            self._bar.update(self._task, completed=done, best=best, note=note)
        elif self.mode == "log":
            now = time.time()
            final = bool(self.total) and done >= self.total and self._last_done < done
            if now - self._last_log >= self.log_every_s or final:
                self._last_log, self._last_done = now, done
                self._log(done, best, now - self._started, note)

    def _log(self, done: int, best: str, elapsed: float, note: str = "") -> None:
        total = self.total or "?"
        eta = ""
        if self.total and done:
            eta = f" eta {elapsed / done * (self.total - done):.0f}s"
        print(
            f"[daskcloud] fits {done}/{total} best {best} elapsed {elapsed:.0f}s{eta} "
            f"workers {self.n_workers}" + (f" {note}" if note else ""),
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        """Stop the bar (safe to call twice)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def make_progress(progress: bool | str, total: int | None, n_workers: int) -> SearchProgress | None:
    """``progress=`` normalised: False -> None; True -> a bar on a terminal, else log lines."""
    if progress is False or progress == "off":
        return None
    mode = progress if isinstance(progress, str) else ("bar" if sys.stdout.isatty() else "log")
    if mode not in ("bar", "log"):
        raise ValueError(f"progress must be True, False, 'bar' or 'log', got {progress!r}")
    return SearchProgress(total, n_workers, mode=mode)

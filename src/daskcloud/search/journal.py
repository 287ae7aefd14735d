"""The run journal: an append-only SQLite log of every fit, so nothing is lost.

One row per (candidate, fold[, resource]) fit, appended as soon as the fit
finishes, keyed by a content hash (:func:`daskcloud.search._keys.unit_key`) of
the estimator and its parameters, the candidate, the fold and CV definition,
the data fingerprint, the scoring and the resource. Resuming a search is
replaying the journal: fits whose key is already there with status ``ok`` or
``error`` are not run again. Rows are never updated or deleted.

Besides fits, the journal keeps *task* rows (shared pipeline-prefix fits and
batches: start, end, worker, CPU seconds) for timelines, and one row per search
describing it.

Process safety
--------------
The file is opened in WAL mode. **One writer**: only the driver process of a
search appends (the runner does, from one thread). **Any number of readers**,
in any process, may open the same file at the same time (a report, a progress
monitor, a test polling the row count) and see every committed row. Each
:meth:`Journal.append` is one transaction, committed before it returns, so a
driver killed at any moment leaves every earlier fit durable and no partial
row. A fit key is unique among finished rows (``ok``/``error``): a second
append of the same key is ignored, so a fit rerun after a worker died is not
journaled twice. ``cancelled`` rows (a budget stopped the fit) do not block a
later finished row of the same key. Do not put the file on NFS (SQLite locks).

Example
-------
>>> j = Journal()  # in memory
>>> j.append([FitRecord(key="k1", search="s", params={"alpha": 1.0}, fold=0, status="ok",
...                     test_scores=0.5)])
1
>>> j.lookup(["k1", "k2"])["k1"].test_scores
0.5
>>> j.close()
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daskcloud.exceptions import JournalError
from daskcloud.search._keys import to_json

__all__ = ["FitRecord", "Journal", "TaskRecord", "open_journal"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fits (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    search TEXT NOT NULL,
    trial INTEGER,
    params TEXT NOT NULL,
    fold INTEGER NOT NULL,
    resource INTEGER,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'cancelled')),
    test_scores TEXT,
    train_scores TEXT,
    fit_time REAL,
    score_time REAL,
    fit_cpu_s REAL,
    start REAL,
    end REAL,
    worker TEXT,
    error TEXT,
    n_test_samples INTEGER,
    created REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS fits_key_done ON fits (key) WHERE status != 'cancelled';
CREATE INDEX IF NOT EXISTS fits_search ON fits (search);
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    search TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    n_units INTEGER,
    start REAL,
    end REAL,
    worker TEXT,
    cpu_s REAL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS searches (
    search TEXT PRIMARY KEY,
    created REAL NOT NULL,
    info TEXT NOT NULL
);
"""

_FIT_COLUMNS = [
    "key", "search", "trial", "params", "fold", "resource", "status", "test_scores",
    "train_scores", "fit_time", "score_time", "fit_cpu_s", "start", "end", "worker", "error",
    "n_test_samples",
]  # fmt: skip


@dataclass(frozen=True)
class FitRecord:
    """One journaled fit of a candidate on a fold.

    ``test_scores``/``train_scores`` are a float (single metric) or a dict of
    metric name -> float, exactly what the scorer returned; None when the fit
    failed (``status="error"``, ``error`` holds the traceback) or was cancelled.
    Times are seconds; ``start``/``end`` are Unix timestamps on the worker.
    """

    key: str
    search: str
    params: Mapping[str, Any]
    fold: int
    status: str
    test_scores: float | Mapping[str, float] | None = None
    train_scores: float | Mapping[str, float] | None = None
    trial: int | None = None
    resource: int | None = None
    fit_time: float = 0.0
    score_time: float = 0.0
    fit_cpu_s: float = 0.0
    start: float | None = None
    end: float | None = None
    worker: str | None = None
    error: str | None = None
    n_test_samples: int | None = None


@dataclass(frozen=True)
class TaskRecord:
    """One task that ran on a worker: a shared prefix fit (``kind="prefix"``) or a batch of fits."""

    search: str
    kind: str
    key: str
    n_units: int = 1
    start: float | None = None
    end: float | None = None
    worker: str | None = None
    cpu_s: float = 0.0


def _dumps(value: Any) -> str | None:
    return None if value is None else to_json(value)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Journal:
    """Append-only SQLite journal of fits (see the module docstring for process safety).

    ``path=None`` keeps the journal in memory (gone when closed). Use as a
    context manager or call :meth:`close` (safe to call twice).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._lock = threading.Lock()
        target = ":memory:" if self.path is None else str(self.path)
        self._db: sqlite3.Connection | None = None
        existed = self.path is not None and self.path.exists()
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                target, timeout=30, check_same_thread=False, isolation_level=None
            )
            _check_foreign(self._db, target)  # before anything is written, WAL mode included
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as e:
            if self._db is not None:
                self._db.close()
                self._db = None
            kept = "it was left as it was: " if existed else ""
            raise JournalError(
                f"cannot open the journal {target!r}: {e}; {kept}check the path is a writable "
                "SQLite file on a local disk, or give another run directory (--out) or "
                "journal= path"
            ) from e

    # -- writing -------------------------------------------------------------------------------

    def append(self, records: Iterable[FitRecord | TaskRecord]) -> int:
        """Append records in one transaction; return how many fit rows were new."""
        now = time.time()
        fits, tasks = [], []
        for r in records:
            if isinstance(r, FitRecord):
                fits.append(
                    (
                        r.key,
                        r.search,
                        r.trial,
                        _dumps(dict(r.params)),
                        r.fold,
                        r.resource,
                        r.status,
                        _dumps(r.test_scores),
                        _dumps(r.train_scores),
                        r.fit_time,
                        r.score_time,
                        r.fit_cpu_s,
                        r.start,
                        r.end,
                        r.worker,
                        r.error,
                        r.n_test_samples,
                        now,
                    )
                )
            else:
                tasks.append(
                    (r.search, r.kind, r.key, r.n_units, r.start, r.end, r.worker, r.cpu_s, now)
                )
        cols = ", ".join([*_FIT_COLUMNS, "created"])
        marks = ", ".join("?" * (len(_FIT_COLUMNS) + 1))
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN IMMEDIATE")
                before = db.total_changes
                db.executemany(f"INSERT OR IGNORE INTO fits ({cols}) VALUES ({marks})", fits)
                inserted = db.total_changes - before
                db.executemany(
                    "INSERT INTO tasks (search, kind, key, n_units, start, end, worker, cpu_s, "
                    "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    tasks,
                )
                db.execute("COMMIT")
            except sqlite3.Error as e:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise JournalError(
                    f"cannot append to the journal {self._name()}: {e}; every fit committed "
                    "before is kept: free disk space and rerun the same command to resume"
                ) from e
        return inserted

    def describe_search(self, search: str, info: Mapping[str, Any]) -> None:
        """Record what a search key stands for (estimator, cv, scoring), once per key."""
        with self._lock:
            try:
                self._conn().execute(
                    "INSERT OR IGNORE INTO searches (search, created, info) VALUES (?, ?, ?)",
                    (search, time.time(), _dumps(dict(info))),
                )
            except sqlite3.Error as e:
                raise JournalError(f"cannot write to the journal {self._name()}: {e}") from e

    # -- reading -------------------------------------------------------------------------------

    def lookup(self, keys: Iterable[str]) -> dict[str, FitRecord]:
        """Finished (``ok``/``error``) fits among ``keys``, by key."""
        keys = list(keys)
        found: dict[str, FitRecord] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            rows = self._query(
                f"SELECT {', '.join(_FIT_COLUMNS)} FROM fits WHERE status != 'cancelled' "
                f"AND key IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((r.key, r) for r in map(self._fit_from_row, rows))
        return found

    def read(
        self, search: str | None = None, *, include_cancelled: bool = False
    ) -> list[FitRecord]:
        """Fits in append order, optionally of one search only."""
        where, args = [], []
        if search is not None:
            where.append("search = ?")
            args.append(search)
        if not include_cancelled:
            where.append("status != 'cancelled'")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._query(f"SELECT {', '.join(_FIT_COLUMNS)} FROM fits{clause} ORDER BY seq", args)
        return [self._fit_from_row(r) for r in rows]

    def read_tasks(self, search: str | None = None) -> list[TaskRecord]:
        """Task rows (prefix fits, batches) in append order."""
        clause, args = ("WHERE search = ?", [search]) if search is not None else ("", [])
        rows = self._query(
            "SELECT search, kind, key, n_units, start, end, worker, cpu_s FROM tasks "
            f"{clause} ORDER BY seq",
            args,
        )
        return [TaskRecord(*r) for r in rows]

    def searches(self) -> dict[str, dict[str, Any]]:
        """Every described search: key -> info."""
        rows = self._query("SELECT search, info FROM searches ORDER BY created", [])
        return {s: _loads(info) for s, info in rows}

    def count(self, search: str | None = None, status: str | None = None) -> int:
        """Number of fits (of one search, of one status; cancelled ones only if asked)."""
        where, args = ["status != 'cancelled'" if status is None else "status = ?"], []
        if status is not None:
            args.append(status)
        if search is not None:
            where.append("search = ?")
            args.append(search)
        return self._query(f"SELECT COUNT(*) FROM fits WHERE {' AND '.join(where)}", args)[0][0]

    def __len__(self) -> int:
        return self._query("SELECT COUNT(*) FROM fits WHERE status != 'cancelled'", [])[0][0]

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file; safe to call twice."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({self._name()})"

    def _name(self) -> str:
        return ":memory:" if self.path is None else str(self.path)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise JournalError(f"the journal {self._name()} is closed; open a new Journal")
        return self._db

    def _query(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn().execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise JournalError(
                    f"cannot read the journal {self._name()}: {e}; it was left as it was: "
                    "move it away or give another run directory (--out) or journal= path"
                ) from e

    def _fit_from_row(self, row: Sequence[Any]) -> FitRecord:
        values = dict(zip(_FIT_COLUMNS, row, strict=True))
        try:
            for name in ("params", "test_scores", "train_scores"):
                values[name] = _loads(values[name])
        except ValueError as e:  # a row written by something else than a Journal
            raise JournalError(
                f"the journal {self._name()} holds a malformed row ({name}: {e}); it was left "
                "as it was: move it away or give another run directory (--out) or journal= path"
            ) from e
        return FitRecord(**values)


def _check_foreign(db: sqlite3.Connection, target: str) -> None:
    """Refuse, before writing anything, an SQLite file that another program made."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tables.discard("sqlite_sequence")
    if tables and not {"fits", "tasks", "searches"} <= tables:
        raise sqlite3.DatabaseError(
            f"it is an SQLite file of another program (tables {', '.join(sorted(tables))})"
        )
    if "fits" in tables:
        columns = {r[1] for r in db.execute("PRAGMA table_info(fits)")}
        missing = [c for c in _FIT_COLUMNS if c not in columns]
        if missing:
            raise sqlite3.DatabaseError(f"its fits table lacks {', '.join(missing)}")


def open_journal(journal: Journal | str | Path | None) -> tuple[Journal, bool]:
    """Normalise ``journal=``: return (Journal, whether the caller owns it and must close it)."""
    if isinstance(journal, Journal):
        return journal, False
    if journal is None or isinstance(journal, str | Path):
        return Journal(journal), True
    raise TypeError(f"journal must be None, a path or a Journal, got {type(journal).__name__}")

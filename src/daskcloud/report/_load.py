"""Read what a run directory holds into plain tables: the only I/O of the report.

A run directory (see :mod:`daskcloud.search.results`) holds ``summary.json``,
``results.parquet`` (or ``cv_results.csv``), usually ``journal.sqlite``, and for
Rossmann runs the holdout scores (``summary.json["holdout_rmspe"]`` or
``holdout.json``) and, optionally, ``holdout_predictions.parquet``/``.csv`` with
``Store``, ``Date``, ``Sales`` and one prediction column per model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from daskcloud.exceptions import DataError

__all__ = ["RunData", "load_run"]

JOURNAL_FILE = "journal.sqlite"
PREDICTION_FILES = ("holdout_predictions.parquet", "holdout_predictions.csv")


@dataclass(frozen=True, eq=False)
class RunData:
    """Everything the report shows, as read from one run directory.

    Attributes:
        run_dir: the directory.
        summary: ``summary.json`` (empty when absent).
        results: ``cv_results_`` as a table, one row per candidate (per rung for halving).
        fits: one row per journaled fit (``params``, ``fold``, ``resource``, ``status``,
            ``score``, ``fit_time``, ``start``, ``end``, ``worker``); empty without a journal.
        tasks: shared-prefix and batch tasks (``kind``, ``start``, ``end``, ``worker``).
        holdout: holdout RMSPE per model name, or None.
        predictions: holdout rows with ``Store``, ``Date``, ``Sales`` and predictions, or None.
    """

    run_dir: Path
    summary: dict[str, Any]
    results: pd.DataFrame
    fits: pd.DataFrame = field(default_factory=pd.DataFrame)
    tasks: pd.DataFrame = field(default_factory=pd.DataFrame)
    holdout: dict[str, float] | None = None
    predictions: pd.DataFrame | None = None

    @property
    def metric(self) -> str:
        """The ranking metric: ``score`` or the refit metric of a multimetric search."""
        return str(self.summary.get("metric") or "score")


def _read_results(run_dir: Path) -> pd.DataFrame:
    parquet, csv = run_dir / "results.parquet", run_dir / "cv_results.csv"
    try:
        if parquet.is_file():
            return pd.read_parquet(parquet)
        if csv.is_file():
            return pd.read_csv(csv)
    except (OSError, ValueError) as e:
        raise DataError(f"{run_dir}: cannot read the search results ({e}); rerun the search") from e
    raise DataError(
        f"{run_dir}: no results.parquet or cv_results.csv; pass the run directory that "
        "`daskcloud tune` or `daskcloud rossmann` wrote"
    )


def _score(value: Any, metric: str) -> float | None:
    if isinstance(value, dict):
        value = value.get(metric, next(iter(value.values()), None))
    return None if value is None else float(value)


def _read_journal(run_dir: Path, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    path = run_dir / JOURNAL_FILE
    if not path.is_file():
        return pd.DataFrame(), pd.DataFrame()
    from daskcloud.search.journal import Journal

    with Journal(path) as journal:
        fits = journal.read()
        tasks = journal.read_tasks()
    fit_rows = [
        {
            "search": f.search,
            "trial": f.trial,
            "params": json.dumps(dict(f.params), sort_keys=True, default=str),
            "fold": f.fold,
            "resource": f.resource,
            "status": f.status,
            "score": _score(f.test_scores, metric),
            "fit_time": f.fit_time,
            "score_time": f.score_time,
            "start": f.start,
            "end": f.end,
            "worker": f.worker,
        }
        for f in fits
    ]
    task_rows = [
        {"kind": t.kind, "n_units": t.n_units, "start": t.start, "end": t.end, "worker": t.worker}
        for t in tasks
    ]
    return pd.DataFrame(fit_rows), pd.DataFrame(task_rows)


def _read_holdout(run_dir: Path, summary: dict[str, Any]) -> dict[str, float] | None:
    scores = summary.get("holdout_rmspe")
    path = run_dir / "holdout.json"
    if scores is None and path.is_file():
        payload = json.loads(path.read_text())
        scores = payload.get("holdout_rmspe", payload)
    if not isinstance(scores, dict):
        return None
    return {str(k): float(v) for k, v in scores.items() if isinstance(v, int | float)}


def _read_predictions(run_dir: Path) -> pd.DataFrame | None:
    for name in PREDICTION_FILES:
        path = run_dir / name
        if path.is_file():
            frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
            if {"Store", "Date", "Sales"} <= set(frame.columns):
                frame["Date"] = pd.to_datetime(frame["Date"])
                return frame
    return None


def load_run(run_dir: str | Path) -> RunData:
    """Read a run directory; only ``results.parquet`` or ``cv_results.csv`` is required.

    Raises:
        DataError: if the directory or its results are missing or unreadable.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise DataError(f"{root}: run directory not found; pass the --out folder of a search")
    summary_path = root / "summary.json"
    try:
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    except (OSError, ValueError) as e:
        raise DataError(f"{summary_path}: not valid JSON ({e}); rerun the search") from e
    results = _read_results(root)
    metric = str(summary.get("metric") or "score")
    fits, tasks = _read_journal(root, metric)
    return RunData(
        run_dir=root,
        summary=summary,
        results=results,
        fits=fits,
        tasks=tasks,
        holdout=_read_holdout(root, summary),
        predictions=_read_predictions(root),
    )

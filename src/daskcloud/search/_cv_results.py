"""``cv_results_`` of a finished run, before scikit-learn formats them, and the search's stats.

:func:`fit_rows` turns the runner's finished trials into the candidate list and per-fold
rows that scikit-learn's ``_format_results`` reads; :func:`best_index` picks ``best_index_``
among the rows the strategy allows; :func:`search_stats` is ``search_stats_``. Pure: no Dask,
no journal.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from daskcloud.exceptions import SearchError
from daskcloud.search import _sklearn
from daskcloud.search._trials import RunStats

__all__ = ["best_index", "fit_rows", "search_stats"]


def fit_rows(
    trials: Sequence[tuple[Any, Sequence[Any]]],
    strategy: Any,
    scorers: Any,
    error_score: Any,
    return_train_score: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[Any]]]:
    """``(candidate_params, per-fold rows, extra columns)`` of ``(Trial, [FitRecord])`` pairs,
    in the strategy's row order (:meth:`Strategy.row_key`).

    A failed fit scores ``error_score`` (per metric when there are several scorers); a
    parameter resource (``max_iter``) is shown among the candidate's params.
    """
    resource = strategy.resource if strategy.resource not in (None, "n_samples") else None
    error_scores = (
        {n: error_score for n in _sklearn.scorer_names(scorers)}
        if _sklearn.is_multimetric_scorer(scorers)
        else error_score
    )
    candidate_params, out, extra = [], [], {}
    for trial, records in sorted(trials, key=lambda item: strategy.row_key(item[0])):
        params = dict(trial.params)
        if resource is not None:
            params[resource] = trial.resource
        candidate_params.append(params)
        for name, value in trial.extra.items():
            extra.setdefault(name, []).append(value)
        for r in records:
            failed = r.status != "ok"
            item = {
                "fit_time": r.fit_time,
                "score_time": r.score_time,
                "test_scores": error_scores if failed else r.test_scores,
                "fit_error": (r.error or "failed") if failed else None,
                "n_test_samples": r.n_test_samples,
            }
            if return_train_score:
                item["train_scores"] = error_scores if failed else r.train_scores
            out.append(item)
    return candidate_params, out, extra


def best_index(search: Any, strategy: Any, refit_metric: Any, results: dict[str, Any]) -> int:
    """``best_index_``: the best row of those the strategy's ``best_mask`` allows."""
    mask = strategy.best_mask(results)
    if mask is None or callable(search.refit):
        return int(_sklearn.select_best_index(search, search.refit, refit_metric, results))
    rows = np.flatnonzero(mask)
    if not len(rows):
        raise SearchError("the strategy marked no candidate as eligible for best")
    scores = np.asarray(results[f"mean_test_{refit_metric}"], dtype=float)[rows]
    return int(rows[0] if np.isnan(scores).all() else rows[np.nanargmax(scores)])


def search_stats(
    stats: RunStats, n_candidates: int, reason: Any, t0: float, n_threads: int
) -> dict[str, Any]:
    """``search_stats_``: counts of the run, its wall and fit CPU seconds, the stop reason."""
    return {
        "n_candidates": n_candidates,
        "n_fits": stats.n_fits,
        "n_fits_skipped": stats.n_fits_skipped,
        "n_fits_failed": stats.n_fits_failed,
        "n_fits_continued": stats.n_fits_continued,
        "n_prefix_fits": stats.n_prefix_fits,
        "n_tasks": stats.n_tasks,
        "n_retries": stats.n_retries,
        "n_workers": n_threads,
        "wall_s": time.time() - t0,
        "search_s": stats.elapsed,
        "fit_cpu_s": stats.fit_cpu_s,
        "stop_reason": reason,
    }

"""Every private scikit-learn API daskcloud uses, in one place.

DaskSearchCV reproduces ``GridSearchCV`` exactly by reusing scikit-learn's own
helpers (scoring, splitting, result formatting). They are private, so a
scikit-learn upgrade (pinned ``>=1.5,<1.10``) should only ever touch this module.
"""

from __future__ import annotations

from typing import Any

from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection._validation import (
    _insert_error_scores,
    _score,
    _warn_or_raise_about_fit_failures,
)
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import _check_method_params

__all__ = [
    "format_results",
    "get_scorers",
    "insert_error_scores",
    "is_multimetric_scorer",
    "is_pairwise",
    "routed_fit_params",
    "safe_split",
    "score",
    "scorer_names",
    "scorer_sign_and_function",
    "select_best_index",
    "split_params",
    "warn_or_raise_about_fit_failures",
]


def split_params(X: Any, params: dict[str, Any] | None, indices: Any) -> dict[str, Any]:
    """Index sample-aligned fit/score parameters (e.g. sample_weight) by ``indices``."""
    return _check_method_params(X, params=params or {}, indices=indices)


def safe_split(estimator: Any, X: Any, y: Any, indices: Any, train_indices: Any = None) -> Any:
    """``X[indices], y[indices]``, aware of precomputed kernels (pairwise estimators)."""
    return _safe_split(estimator, X, y, indices, train_indices)


def is_pairwise(estimator: Any) -> bool:
    """Whether ``estimator`` takes a precomputed kernel (``safe_split`` then slices columns)."""
    try:
        from sklearn.utils import get_tags
    except ImportError:  # scikit-learn 1.5
        return bool(estimator._get_tags().get("pairwise", False))
    return bool(get_tags(estimator).input_tags.pairwise)


def score(estimator: Any, X: Any, y: Any, scorer: Any, score_params: Any, error_score: Any) -> Any:
    """Score a fitted estimator as ``_fit_and_score`` does (float or dict of floats)."""
    return _score(estimator, X, y, scorer, score_params, error_score)


def is_multimetric_scorer(scorer: Any) -> bool:
    """True for the scorer scikit-learn builds from a list/dict ``scoring``."""
    return isinstance(scorer, _MultimetricScorer)


def scorer_names(scorer: Any) -> list[str]:
    """Metric names of a multimetric scorer."""
    return list(scorer._scorers)


def scorer_sign_and_function(scorer: Any) -> tuple[int, str] | None:
    """``(sign, score function name)`` of a ``make_scorer`` scorer, or None for other callables."""
    sign, func = getattr(scorer, "_sign", None), getattr(scorer, "_score_func", None)
    if sign is None or func is None:
        return None
    return int(sign), getattr(func, "__name__", type(func).__name__)


def insert_error_scores(out: list[dict[str, Any]], error_score: Any) -> None:
    """Give failed fits of a callable (possibly dict-returning) scoring their error scores."""
    _insert_error_scores(out, error_score)


def warn_or_raise_about_fit_failures(out: list[dict[str, Any]], error_score: Any) -> None:
    """Emit scikit-learn's FitFailedWarning (or raise when every fit failed)."""
    _warn_or_raise_about_fit_failures(out, error_score)


def get_scorers(search: Any) -> tuple[Any, str]:
    """``BaseSearchCV._get_scorers``: (scorer, refit metric name)."""
    return search._get_scorers()


def routed_fit_params(search: Any, params: dict[str, Any]) -> Any:
    """``BaseSearchCV._get_routed_params_for_fit``: estimator / scorer / splitter params."""
    return search._get_routed_params_for_fit(params)


def format_results(
    search: Any,
    candidate_params: list[dict[str, Any]],
    n_splits: int,
    out: list[dict[str, Any]],
    more_results: dict[str, list[Any]] | None,
) -> dict[str, Any]:
    """``BaseSearchCV._format_results``: the ``cv_results_`` dict."""
    return search._format_results(candidate_params, n_splits, out, more_results)


def select_best_index(search: Any, refit: Any, refit_metric: str, results: dict[str, Any]) -> int:
    """``BaseSearchCV._select_best_index``."""
    return search._select_best_index(refit, refit_metric, results)

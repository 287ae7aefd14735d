"""Scores in the metric's own terms: ``RMSPE 0.0937 (lower is better)``, not ``-0.0937``.

scikit-learn ranks by a signed score where higher is better, so a loss scores negated
(``neg_root_mean_squared_error``, ``make_scorer(rmspe, greater_is_better=False)``).
``cv_results_`` and ``best_score_`` stay signed; what a person reads — the leaderboard,
the report, ``--json``'s ``best_metric`` — shows :meth:`ScoreTerms.value` instead.

Example:
    >>> from sklearn.metrics import get_scorer
    >>> terms = terms_of_scorer(get_scorer("neg_root_mean_squared_error"))
    >>> terms.name, terms.value(-0.25), terms.lower_is_better
    ('RMSE', 0.25, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from daskcloud.search import _sklearn

__all__ = ["ScoreTerms", "score_terms", "terms_of_scorer"]

# score function name -> the name people write; others show their function name
_NAMES = {
    "root_mean_squared_error": "RMSE",
    "mean_squared_error": "MSE",
    "mean_absolute_error": "MAE",
    "median_absolute_error": "MedAE",
    "mean_absolute_percentage_error": "MAPE",
    "root_mean_squared_log_error": "RMSLE",
    "mean_squared_log_error": "MSLE",
    "max_error": "max error",
    "mean_poisson_deviance": "Poisson deviance",
    "mean_gamma_deviance": "gamma deviance",
    "log_loss": "log loss",
    "brier_score_loss": "Brier score",
    "r2_score": "R²",
    "accuracy_score": "accuracy",
    "balanced_accuracy_score": "balanced accuracy",
    "roc_auc_score": "ROC AUC",
    "average_precision_score": "average precision",
    "f1_score": "F1",
    "precision_score": "precision",
    "recall_score": "recall",
    "explained_variance_score": "explained variance",
    "rmspe": "RMSPE",
}


@dataclass(frozen=True)
class ScoreTerms:
    """How to show a signed score: the metric's name and the scorer's sign (-1 for a loss)."""

    name: str
    sign: int = 1

    @property
    def lower_is_better(self) -> bool:
        return self.sign < 0

    def value(self, signed: float) -> float:
        """The metric's own value of a signed score (``-0.09`` -> ``0.09`` for a loss)."""
        return self.sign * signed

    @property
    def label(self) -> str:
        """``RMSPE (lower is better)``."""
        return f"{self.name} ({'lower' if self.lower_is_better else 'higher'} is better)"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "sign": self.sign, "lower_is_better": self.lower_is_better}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, default: str = "score") -> ScoreTerms:
        """From :meth:`to_json` output (``summary.json``); signed ``default`` when absent."""
        if not data:
            return cls(default)
        return cls(str(data.get("name") or default), -1 if int(data.get("sign", 1)) < 0 else 1)


def terms_of_scorer(scorer: Any, default: str = "score") -> ScoreTerms:
    """The terms of one scorer; a scorer that is not ``make_scorer``'s keeps ``default``."""
    found = _sklearn.scorer_sign_and_function(scorer)
    if found is None:
        return ScoreTerms(default)
    sign, func = found
    return ScoreTerms(_NAMES.get(func, func), -1 if sign < 0 else 1)


def score_terms(search: Any, metric: str = "score") -> ScoreTerms:
    """The terms of a fitted search's ranking ``metric`` (from its ``scorer_``)."""
    scorer = getattr(search, "scorer_", None)
    if isinstance(scorer, Mapping):
        scorer = scorer.get(metric)
    return terms_of_scorer(scorer, default=metric) if scorer is not None else ScoreTerms(metric)

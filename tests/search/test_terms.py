"""Scores in the metric's own terms, from real scikit-learn scorers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.metrics import get_scorer, make_scorer
from sklearn.model_selection import GridSearchCV

from daskcloud.rossmann import rmspe_scorer
from daskcloud.search._terms import ScoreTerms, score_terms, terms_of_scorer
from daskcloud.search.results import leaderboard


@pytest.mark.parametrize(
    ("scoring", "name", "sign"),
    [
        ("neg_root_mean_squared_error", "RMSE", -1),
        ("neg_mean_absolute_error", "MAE", -1),
        ("r2", "R²", 1),
        ("accuracy", "accuracy", 1),
        ("neg_log_loss", "log loss", -1),
    ],
)
def test_names_and_signs_of_sklearn_scorers(scoring, name, sign):
    terms = terms_of_scorer(get_scorer(scoring))
    assert (terms.name, terms.sign) == (name, sign)
    assert terms.value(-0.5 * sign) == -0.5


def test_rmspe_and_an_unknown_loss():
    assert terms_of_scorer(rmspe_scorer).label == "RMSPE (lower is better)"

    def pinball(y_true, y_pred):
        return float(np.mean(np.abs(y_true - y_pred)))

    terms = terms_of_scorer(make_scorer(pinball, greater_is_better=False))
    assert (terms.name, terms.lower_is_better) == ("pinball", True)
    assert terms_of_scorer(lambda est, X, y: 0.0).name == "score"


def test_a_fitted_search_and_its_leaderboard():
    X, y = make_regression(n_samples=60, n_features=4, noise=1.0, random_state=0)
    search = GridSearchCV(
        Ridge(), {"alpha": [0.1, 10.0]}, cv=3, scoring="neg_root_mean_squared_error"
    ).fit(X, y)
    terms = score_terms(search)
    assert terms == ScoreTerms("RMSE", -1)
    assert ScoreTerms.from_json(terms.to_json()) == terms
    table = leaderboard(search.cv_results_, terms=terms)
    assert "RMSE (lower is better)" in table.title
    shown = float(table.columns[1]._cells[0])
    assert shown == pytest.approx(-search.best_score_, rel=1e-4) and shown > 0
    multi = GridSearchCV(
        Ridge(), {"alpha": [1.0]}, cv=3, scoring={"mae": "neg_mean_absolute_error", "r2": "r2"},
        refit="r2",
    ).fit(X, y)  # fmt: skip
    assert score_terms(multi, "mae").name == "MAE" and score_terms(multi, "r2").sign == 1

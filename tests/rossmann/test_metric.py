"""RMSPE and its scorer, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.model_selection import cross_val_score

from daskcloud.exceptions import DataError
from daskcloud.rossmann.metric import rmspe, rmspe_scorer


def test_rmspe_hand_computed() -> None:
    # errors 10 %, 10 %, 20 %: sqrt((0.01 + 0.01 + 0.04) / 3) = sqrt(0.02)
    assert rmspe([100, 200, 50], [110, 180, 60]) == pytest.approx(math.sqrt(0.02))


def test_rmspe_perfect_prediction_is_zero() -> None:
    assert rmspe([5, 7, 9], [5, 7, 9]) == 0.0


def test_rmspe_ignores_zero_sales_rows() -> None:
    # The y == 0 rows would be infinite; they are left out, and n counts the other two.
    with_zeros = rmspe([100, 0, 200, 0], [150, 999, 200, 3])
    assert with_zeros == pytest.approx(math.sqrt(0.25 / 2))
    assert with_zeros == pytest.approx(rmspe([100, 200], [150, 200]))


def test_rmspe_accepts_pandas_and_is_symmetric_in_sign() -> None:
    y = pd.Series([100.0, 100.0])
    assert rmspe(y, pd.Series([90.0, 110.0])) == pytest.approx(0.1)


def test_rmspe_all_zero_raises() -> None:
    with pytest.raises(DataError, match="every y_true is 0"):
        rmspe([0, 0], [1, 2])


def test_rmspe_length_mismatch_raises() -> None:
    with pytest.raises(DataError, match="3 rows but y_pred has 2"):
        rmspe([1, 2, 3], [1, 2])


def test_scorer_is_negative_rmspe() -> None:
    X = np.zeros((4, 1))
    y = np.array([100.0, 100.0, 100.0, 100.0])
    model = DummyRegressor(strategy="constant", constant=120.0).fit(X, y)
    assert rmspe_scorer(model, X, y) == pytest.approx(-0.2)


def test_scorer_works_as_scoring_argument() -> None:
    X = np.zeros((6, 1))
    y = np.array([100.0, 0.0, 100.0, 100.0, 0.0, 100.0])
    scores = cross_val_score(
        DummyRegressor(strategy="constant", constant=90.0), X, y, cv=2, scoring=rmspe_scorer
    )
    np.testing.assert_allclose(scores, [-0.1, -0.1])

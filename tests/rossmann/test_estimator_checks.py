"""scikit-learn's estimator checks on the Rossmann estimators, and the CV splitter's contract.

``parametrize_with_checks`` feeds numpy arrays. ``LogTargetMLP`` takes any numeric matrix
and passes every check. ``MedianBaseline`` and ``RossmannFeatures`` read named columns of
the joined Rossmann frame, so the checks that fit them on an array cannot apply; the same
properties are checked below on a joined frame instead. (``EntityEmbeddingRegressor``:
``test_embedding_checks.py``, with the torch extra.)
"""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import check_cv, cross_validate
from sklearn.utils.estimator_checks import parametrize_with_checks

from daskcloud.rossmann.baseline import MedianBaseline
from daskcloud.rossmann.features import RossmannFeatures, split_xy
from daskcloud.rossmann.model import LogTargetMLP
from daskcloud.rossmann.splits import TimeSeriesFolds

from .test_features import _frame

#: the checks that fit or transform a numpy array (or nothing named) and so cannot reach an
#: estimator that reads the columns of the joined Rossmann frame by name
_ARRAY_CHECKS = (
    "check_complex_data",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimator_sparse_array",
    "check_estimator_sparse_matrix",
    "check_estimator_sparse_tag",
    "check_estimators_dtypes",
    "check_estimators_empty_data_messages",
    "check_estimators_fit_returns_self",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_requires_y_none",
)
_BASELINE_ARRAY_CHECKS = (
    "check_estimators_nan_inf",
    "check_regressor_data_not_an_array",
    "check_regressors_int",
    "check_regressors_no_decision_function",
    "check_regressors_train",
    "check_supervised_y_2d",
)
_FEATURES_ARRAY_CHECKS = (
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
)
_REASON = "reads named columns of the joined Rossmann frame; the check passes a numpy array"


def _expected_failures(estimator) -> dict[str, str]:
    if isinstance(estimator, MedianBaseline):
        own = _BASELINE_ARRAY_CHECKS
    elif isinstance(estimator, RossmannFeatures):
        own = _FEATURES_ARRAY_CHECKS
    else:
        return {}  # LogTargetMLP: every check applies
    return dict.fromkeys((*_ARRAY_CHECKS, *own), _REASON)


@parametrize_with_checks(
    [
        # without early stopping: the checks' data sets are too small to hold a validation split
        LogTargetMLP(early_stopping=False, max_iter=50, batch_size=32),
        MedianBaseline(),
        RossmannFeatures(),
    ],
    expected_failed_checks=_expected_failures,
    xfail_strict=True,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# --- the same properties on the joined frame ------------------------------------------------

FRAME_ESTIMATORS = [
    pytest.param(MedianBaseline(), id="MedianBaseline"),
    pytest.param(RossmannFeatures(), id="RossmannFeatures"),
    pytest.param(RossmannFeatures(events=False, store_encoding="none"), id="RossmannFeatures-lean"),
]


@pytest.fixture(scope="module")
def joined():
    return split_xy(_frame(days=70))


def _output(estimator, X) -> np.ndarray:
    return estimator.predict(X) if hasattr(estimator, "predict") else estimator.transform(X)


@pytest.mark.parametrize("estimator", FRAME_ESTIMATORS)
def test_fit_returns_self_and_leaves_the_parameters_alone(estimator, joined):
    X, y = joined
    estimator = clone(estimator)
    params = joblib.hash(estimator.get_params())
    public = {k for k in vars(estimator) if not k.startswith("_")}
    assert estimator.fit(X, y) is estimator
    assert joblib.hash(estimator.get_params()) == params
    added = {k for k in vars(estimator) if not k.startswith("_")} - public
    assert added and all(k.endswith("_") for k in added)
    assert estimator.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("estimator", FRAME_ESTIMATORS)
def test_unfitted_raises_not_fitted(estimator, joined):
    with pytest.raises(NotFittedError):
        _output(clone(estimator), joined[0])


@pytest.mark.parametrize("estimator", FRAME_ESTIMATORS)
def test_fit_is_idempotent_pickles_and_output_leaves_the_state_alone(estimator, joined):
    X, y = joined
    once = clone(estimator).fit(X, y)
    expected = _output(once, X)
    state = joblib.hash(vars(once))
    np.testing.assert_array_equal(_output(once, X), expected)
    assert joblib.hash(vars(once)) == state
    np.testing.assert_array_equal(_output(once.fit(X, y), X), expected)
    np.testing.assert_array_equal(_output(pickle.loads(pickle.dumps(once)), X), expected)


@pytest.mark.parametrize("estimator", FRAME_ESTIMATORS)
def test_output_does_not_depend_on_row_order(estimator, joined):
    X, y = joined
    fitted = clone(estimator).fit(X, y)
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_array_equal(_output(fitted, X.iloc[order]), _output(fitted, X)[order])


@pytest.mark.parametrize(
    "estimator",
    [p for p in FRAME_ESTIMATORS if p.id != "RossmannFeatures"],  # events look at other rows
)
def test_output_of_a_subset_is_the_subset_of_the_output(estimator, joined):
    X, y = joined
    fitted = clone(estimator).fit(X, y)
    rows = np.random.default_rng(1).choice(len(X), size=50, replace=False)
    np.testing.assert_array_equal(_output(fitted, X.iloc[rows]), _output(fitted, X)[rows])


def test_store_aggregates_are_what_makes_features_need_y():
    assert RossmannFeatures().__sklearn_tags__().target_tags.required
    assert not RossmannFeatures(store_aggregates=False).__sklearn_tags__().target_tags.required


# --- the CV splitter --------------------------------------------------------------------------


def _dated(days: int = 120, seed: int = 0) -> pd.DataFrame:
    dates = pd.date_range("2014-01-01", periods=days).repeat(2)
    order = np.random.default_rng(seed).permutation(len(dates))
    return pd.DataFrame({"Date": dates[order], "Store": np.tile([1, 2], days)})


@pytest.mark.parametrize("params", [{}, {"n_splits": 4, "weeks": 2, "gap_days": 3}])
def test_splitter_contract(params):
    X = _dated()
    cv = TimeSeriesFolds(**{"weeks": 3, **params})
    folds = list(cv.split(X))
    assert len(folds) == cv.get_n_splits() == cv.get_n_splits(X, None, None)
    seen_validation: set[int] = set()
    previous_end = None
    for train, valid in folds:
        for part in (train, valid):
            assert part.dtype.kind == "i" and len(part) and len(np.unique(part)) == len(part)
            assert part.min() >= 0 and part.max() < len(X)
        assert not np.intersect1d(train, valid).size
        assert not seen_validation & set(valid.tolist())  # validation blocks never overlap
        seen_validation |= set(valid.tolist())
        train_dates, valid_dates = X["Date"].iloc[train], X["Date"].iloc[valid]
        gap = pd.Timedelta(days=params.get("gap_days", 0))
        assert train_dates.max() + gap < valid_dates.min()
        if previous_end is not None:
            assert valid_dates.min() > previous_end  # folds in time order
        previous_end = valid_dates.max()


def test_splitter_takes_and_ignores_y_and_groups():
    X = _dated()
    cv = TimeSeriesFolds(n_splits=2, weeks=2)
    groups = X["Store"].to_numpy()
    plain = list(cv.split(X))
    with_groups = list(cv.split(X, np.ones(len(X)), groups))
    for (a, b), (c, d) in zip(plain, with_groups, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert check_cv(cv) is cv
    X = X.assign(DayOfWeek=X["Date"].dt.day_of_week + 1, Promo=0, Open=1)
    result = cross_validate(MedianBaseline(), X, np.full(len(X), 100.0), cv=cv, groups=groups)
    assert len(result["test_score"]) == 2

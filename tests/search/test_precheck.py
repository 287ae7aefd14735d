"""Inputs that could never work fail before any cluster starts; fits that fail anyway, in a line."""

from __future__ import annotations

import sys
import warnings

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

import daskcloud.cluster
from daskcloud.exceptions import ConfigError, FitsFailedError
from daskcloud.search import DaskSearchCV, Journal

cloudpickle.register_pickle_by_value(sys.modules[__name__])


class FailsOnWorkers(RegressorMixin, BaseEstimator):
    """Fits in the driver (a dry fit there passes), fails on every Dask worker."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X, y):
        from distributed import get_worker

        try:
            get_worker()
        except ValueError:
            self.coef_ = np.zeros(np.shape(X)[1])
            return self
        raise RuntimeError("no licence server on this worker")

    def predict(self, X):
        return np.asarray(X) @ self.coef_


@pytest.fixture
def no_cluster(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a cluster was started for an input that could never work")

    monkeypatch.setattr(daskcloud.cluster, "open_client", refuse)


@pytest.fixture(scope="module")
def text_frame():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=90), "city": rng.choice(["x", "y", "z"], 90)})
    return X, X["a"] * 2 + (X["city"] == "y")


def test_more_folds_than_rows_is_a_config_error(no_cluster):
    X, y = np.arange(10.0).reshape(5, 2), np.arange(5.0)
    with pytest.raises(ConfigError, match=r"cannot split these 5 rows: Cannot have number of "):
        DaskSearchCV(Ridge(), {"alpha": [1.0]}, cv=KFold(10), progress=False).fit(X, y)


def test_text_columns_for_a_numeric_model_fail_before_any_cluster(no_cluster, text_frame, tmp_path):
    X, y = text_frame
    journal = tmp_path / "journal.sqlite"
    search = DaskSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=3, journal=journal, progress=False)
    with pytest.raises(ConfigError, match="no candidate can be fitted on this data: ValueError: "
                       "could not convert string to float") as info:  # fmt: skip
        search.fit(X, y)
    assert "\n" not in str(info.value)
    assert not journal.exists()  # nothing written


def test_dry_fit_refuses_nothing_gridsearchcv_can_run(no_cluster, text_frame, monkeypatch):
    """No false alarms: a grid that swaps in the step that makes it work, an estimator that
    needs more rows than the sample has, a classifier with a rare class."""
    from daskcloud.search import _precheck

    X, y = text_frame
    encode = ColumnTransformer([("city", OneHotEncoder(), ["city"])], remainder="passthrough")
    pipe = Pipeline([("prep", "passthrough"), ("ridge", Ridge())])  # as given, it cannot fit
    grid = {"ridge__alpha": [0.1, 1.0], "prep": ["passthrough", encode]}
    splits = [(np.arange(60), np.arange(60, 90))]
    kw = {"scorer": None, "fit_params": {}, "score_params": {}}
    from sklearn.metrics import check_scoring

    kw["scorer"] = check_scoring(Ridge())
    strategy = _resolve(grid)
    _precheck.dry_fit(pipe, strategy, X, y, splits, **kw)  # the encoder candidate fits
    with warnings.catch_warnings():  # GridSearchCV runs it: the passthrough rows fail
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.filterwarnings("ignore", "One or more of the test scores are non-finite")
        assert GridSearchCV(pipe, grid, cv=3).fit(X, y).best_params_["prep"] is encode

    Xn = np.random.default_rng(1).normal(size=(200, 70))
    yn = Xn[:, 0]
    pca = Pipeline([("pca", PCA()), ("ridge", Ridge())])
    splits = [(np.arange(150), np.arange(150, 200))]
    _precheck.dry_fit(pca, _resolve({"pca__n_components": [60]}), Xn, yn, splits, **kw)

    yc = (np.arange(200) % 40 == 0).astype(int)  # a class of 5 rows in 200
    kw["scorer"] = check_scoring(LogisticRegression())
    _precheck.dry_fit(LogisticRegression(), _resolve({"C": [1.0]}), Xn, yc, splits, **kw)


def _resolve(grid):
    from daskcloud.search.strategies import resolve_strategy

    return resolve_strategy("grid", grid)


def test_every_fit_failing_on_the_workers_is_one_line_naming_the_first_and_the_journal(
    tmp_path, dask_client
):
    X, y = np.random.default_rng(0).normal(size=(30, 3)), np.arange(30.0)
    journal = tmp_path / "journal.sqlite"
    search = DaskSearchCV(FailsOnWorkers(), {"alpha": [1.0, 2.0]}, cv=3, client=dask_client,
                          journal=journal, progress=False)  # fmt: skip
    with pytest.raises(FitsFailedError) as info:
        search.fit(X, y)
    text = str(info.value)
    assert "\n" not in text and isinstance(info.value, ValueError)  # as GridSearchCV's
    assert text.startswith("all 6 fits failed; the first with RuntimeError: no licence server")
    assert f"every error is in the journal {journal} (status 'error')" in text
    with Journal(journal) as j:
        assert j.count(status="error") == 6

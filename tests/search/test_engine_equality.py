"""DaskSearchCV equals scikit-learn's GridSearchCV / RandomizedSearchCV: keys, dtypes, values."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from daskcloud.search import DaskSearchCV


@pytest.fixture(scope="module")
def regression():
    return make_regression(n_samples=90, n_features=6, noise=5.0, random_state=0)


@pytest.fixture(scope="module")
def classification():
    return make_classification(n_samples=90, n_features=6, random_state=0)


def assert_same_results(ours, theirs):
    a, b = ours.cv_results_, theirs.cv_results_
    assert sorted(a) == sorted(b)
    for key in b:
        if key.endswith("_time"):
            assert np.asarray(a[key]).shape == np.asarray(b[key]).shape
            continue
        if key == "params":
            assert a[key] == b[key]
        elif isinstance(b[key], np.ma.MaskedArray):
            assert isinstance(a[key], np.ma.MaskedArray), key
            assert a[key].dtype == b[key].dtype, key
            np.testing.assert_array_equal(a[key].mask, b[key].mask)
            assert list(a[key].compressed()) == list(b[key].compressed()), key
        else:
            assert np.asarray(a[key]).dtype == np.asarray(b[key]).dtype, key
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    for attr in ("best_index_", "best_params_", "best_score_", "n_splits_", "multimetric_"):
        if hasattr(theirs, attr):
            assert getattr(ours, attr) == getattr(theirs, attr), attr
        else:
            assert not hasattr(ours, attr), attr
    if hasattr(theirs, "best_estimator_"):
        assert ours.refit_time_ >= 0
    if isinstance(theirs.scorer_, dict):
        assert sorted(ours.scorer_) == sorted(theirs.scorer_)


def test_grid_ridge_single_metric_and_delegation(regression, dask_client):
    X, y = regression
    grid = {"alpha": [0.01, 0.1, 1.0, 10.0], "fit_intercept": [True, False]}
    ours = DaskSearchCV(Ridge(), grid, cv=3, client=dask_client, progress=False).fit(X, y)
    theirs = GridSearchCV(Ridge(), grid, cv=3).fit(X, y)
    assert_same_results(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.score(X, y) == theirs.score(X, y)
    assert ours.n_features_in_ == 6
    assert ours.search_stats_["n_fits"] == 24
    assert ours.search_stats_["n_candidates"] == 8


def test_pipeline_grid_with_train_scores_and_groups(regression, dask_client):
    X, y = regression
    pipe = Pipeline([("scale", StandardScaler()), ("ridge", Ridge())])
    grid = {"scale__with_mean": [True, False], "ridge__alpha": [0.1, 1.0, 10.0]}
    groups = np.arange(len(y)) % 3
    from sklearn.model_selection import GroupKFold

    kw = {"cv": GroupKFold(3), "return_train_score": True}
    ours = DaskSearchCV(pipe, grid, client=dask_client, progress=False, **kw)
    ours.fit(X, y, groups=groups)
    theirs = GridSearchCV(pipe, grid, **kw).fit(X, y, groups=groups)
    assert_same_results(ours, theirs)
    assert ours.search_stats_["n_prefix_fits"] == 6  # 2 scaler settings x 3 folds


def test_random_decision_tree_matches_randomized_search(regression, dask_client):
    X, y = regression
    space = {
        "max_depth": st.randint(1, 8),
        "min_samples_leaf": [1, 2, 4],
        "ccp_alpha": st.uniform(0, 1),
    }
    est = DecisionTreeRegressor(random_state=0)
    ours = DaskSearchCV(est, space, strategy="random", n_candidates=7, random_state=3, cv=4,
                        client=dask_client, progress=False).fit(X, y)  # fmt: skip
    theirs = RandomizedSearchCV(est, space, n_iter=7, random_state=3, cv=4).fit(X, y)
    assert_same_results(ours, theirs)


@pytest.mark.parametrize("refit", ["accuracy", "callable", False])
def test_multimetric_classification(classification, dask_client, refit):
    X, y = classification
    scoring = {"accuracy": "accuracy", "f1": "f1", "ll": "neg_log_loss"}
    if refit == "callable":

        def refit(results):
            return int(np.argmax(results["mean_test_f1"]))

    grid = [{"max_depth": [1, 2, 3]}, {"min_samples_leaf": [5, 10], "criterion": ["entropy"]}]
    est = DecisionTreeClassifier(random_state=0)
    kw = {"scoring": scoring, "refit": refit, "return_train_score": True, "cv": 3}
    ours = DaskSearchCV(est, grid, client=dask_client, progress=False, **kw).fit(X, y)
    theirs = GridSearchCV(est, grid, **kw).fit(X, y)
    assert_same_results(ours, theirs)
    if refit:
        np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))


def test_multimetric_list_pipeline_classifier(classification, dask_client):
    X, y = classification
    pipe = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())])
    grid = {"lr__C": [0.1, 1.0, 10.0]}
    kw = {"scoring": ["accuracy", "roc_auc"], "refit": "roc_auc", "cv": KFold(3)}
    ours = DaskSearchCV(pipe, grid, client=dask_client, progress=False, **kw).fit(X, y)
    theirs = GridSearchCV(pipe, grid, **kw).fit(X, y)
    assert_same_results(ours, theirs)
    np.testing.assert_array_equal(ours.decision_function(X), theirs.decision_function(X))


def test_callable_scoring_returning_dict(regression, dask_client):
    X, y = regression

    def scoring(est, X, y):
        pred = est.predict(X)
        return {"mae": -float(np.abs(pred - y).mean()), "max": -float(np.abs(pred - y).max())}

    grid = {"alpha": [0.1, 1.0, 100.0]}
    kw = {"scoring": scoring, "refit": "mae", "cv": 3}
    ours = DaskSearchCV(Ridge(), grid, client=dask_client, progress=False, **kw).fit(X, y)
    theirs = GridSearchCV(Ridge(), grid, **kw).fit(X, y)
    assert_same_results(ours, theirs)


def test_is_a_scikit_learn_estimator(dask_client):
    search = DaskSearchCV(Ridge(), {"alpha": [1.0]}, client=dask_client, journal=None, cv=3)
    params = search.get_params()
    assert params["strategy"] == "grid" and params["cv"] == 3
    copy = clone(search)
    assert copy.client is dask_client and copy.get_params()["cv"] == 3
    assert "estimator__alpha" in params


def test_a_fitted_search_pickles_without_its_client(regression, dask_client, tmp_path):
    import pickle

    from daskcloud.search import Journal

    X, y = regression
    with Journal(tmp_path / "j.sqlite") as journal:
        search = DaskSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=3, client=dask_client,
                              journal=journal, progress=False).fit(X, y)  # fmt: skip
        loaded = pickle.loads(pickle.dumps(search))
    assert loaded.client is None and loaded.journal == str(tmp_path / "j.sqlite")
    assert search.client is dask_client  # the original keeps its client
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))


def test_dataframe_pipeline_with_pca_and_step_choices(dask_client):
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.model_selection import TimeSeriesSplit
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120),
                       "c": rng.choice(["x", "y", "z"], 120)})  # fmt: skip
    y = df.a * 2 + (df.c == "x") + rng.normal(size=120) * 0.1
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["a", "b"]), ("cat", OneHotEncoder(), ["c"])]
    )
    pipe = Pipeline([("prep", prep), ("pca", PCA()), ("ridge", Ridge())])
    grid = {"prep__num__with_mean": [True, False], "pca": ["passthrough", PCA(n_components=3)],
            "ridge__alpha": [0.1, 1.0]}  # fmt: skip
    # train scores go through transform(), not fit_transform(): PCA differs in the last bits
    kw = {
        "cv": TimeSeriesSplit(3),
        "scoring": "neg_mean_absolute_error",
        "return_train_score": True,
    }
    ours = DaskSearchCV(pipe, grid, client=dask_client, progress=False, **kw).fit(df, y)
    theirs = GridSearchCV(pipe, grid, **kw).fit(df, y)
    assert ours.search_stats_["n_prefix_fits"] > 0
    for key in ("mean_test_score", "mean_train_score", "split1_train_score", "rank_test_score"):
        np.testing.assert_array_equal(ours.cv_results_[key], theirs.cv_results_[key], err_msg=key)
    assert ours.best_params_ == theirs.best_params_
    assert list(ours.feature_names_in_) == ["a", "b", "c"]

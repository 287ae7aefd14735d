"""DaskSearchCV equals scikit-learn's GridSearchCV / RandomizedSearchCV: keys, dtypes, values."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
from _engine_estimators import FitOnlyScaler, Stateless, WeightedCentre
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


# -- every pipeline GridSearchCV runs: stateless and special steps inside a shared prefix --


def _zoo(name):
    """(estimator, grid, uses a DataFrame) for one pipeline of the zoo."""
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.decomposition import PCA
    from sklearn.pipeline import FeatureUnion
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    alphas = [0.1, 10.0]
    if name == "stateless_ends_prefix":
        pipe = Pipeline([("scale", StandardScaler()), ("shift", Stateless()), ("ridge", Ridge())])
        return pipe, {"shift__shift": [0.0, 2.0], "ridge__alpha": alphas}, False
    if name == "function_transformer":
        pipe = Pipeline([("tanh", FunctionTransformer(np.tanh)), ("ridge", Ridge())])
        return pipe, {"ridge__alpha": alphas}, False
    if name == "passthrough_and_none":
        pipe = Pipeline([("a", "passthrough"), ("scale", StandardScaler()), ("b", None),
                         ("shift", Stateless()), ("ridge", Ridge())])  # fmt: skip
        grid = {"scale__with_mean": [True, False], "b": [None, "passthrough", Stateless(3.0)],
                "ridge__alpha": alphas}  # fmt: skip
        return pipe, grid, False
    if name == "fit_only_step":
        pipe = Pipeline([("div", FitOnlyScaler()), ("shift", Stateless()), ("ridge", Ridge())])
        return pipe, {"ridge__alpha": alphas}, False
    if name == "column_transformer":
        prep = ColumnTransformer(
            [("num", StandardScaler(), ["a"]), ("cat", OneHotEncoder(), ["c"]),
             ("gone", "drop", ["b"])],
            remainder="passthrough",
        )  # fmt: skip
        pipe = Pipeline(
            [("prep", prep), ("tanh", FunctionTransformer(np.tanh)), ("ridge", Ridge())]
        )
        grid = {"prep__num": [StandardScaler(), "passthrough"], "prep__gone": ["drop", Stateless()],
                "ridge__alpha": alphas}  # fmt: skip
        return pipe, grid, True
    if name == "feature_union":
        union = FeatureUnion([("pca", PCA(2)), ("same", Stateless(0.0)), ("gone", "drop")])
        pipe = Pipeline([("scale", StandardScaler()), ("union", union), ("ridge", Ridge())])
        grid = {"union__pca__n_components": [1, 3],
                "union__gone": ["drop", FunctionTransformer(np.tanh)],
                "ridge__alpha": alphas}  # fmt: skip
        return pipe, grid, False
    if name == "target_transform_step":
        ttr = TransformedTargetRegressor(Ridge(), func=np.arcsinh, inverse_func=np.sinh)
        pipe = Pipeline([("scale", StandardScaler()), ("shift", Stateless()), ("ttr", ttr)])
        return pipe, {"scale__with_std": [True, False], "ttr__regressor__alpha": alphas}, False
    if name == "target_transform_outside":
        inner = Pipeline([("scale", StandardScaler()), ("shift", Stateless()), ("ridge", Ridge())])
        est = TransformedTargetRegressor(inner, transformer=StandardScaler())
        return (
            est,
            {"regressor__ridge__alpha": alphas, "regressor__shift": [Stateless(), None]},
            False,
        )
    raise AssertionError(name)


ZOO = [
    "stateless_ends_prefix",
    "function_transformer",
    "passthrough_and_none",
    "fit_only_step",
    "column_transformer",
    "feature_union",
    "target_transform_step",
    "target_transform_outside",
]


@pytest.mark.parametrize("name", ZOO)
def test_pipeline_zoo_equals_grid_search(name, regression, dask_client):
    import pandas as pd

    X, y = regression
    est, grid, frame = _zoo(name)
    if frame:
        rng = np.random.default_rng(0)
        X = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": rng.choice(["x", "y"], len(y)),
                          "d": X[:, 2]})  # fmt: skip
    ours = DaskSearchCV(est, grid, cv=3, client=dask_client, progress=False).fit(X, y)
    theirs = GridSearchCV(est, grid, cv=3, error_score="raise").fit(X, y)
    assert_same_results(ours, theirs)
    assert ours.search_stats_["n_fits_failed"] == 0
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_step_fit_params_reach_their_step_through_a_shared_prefix(regression, dask_client):
    X, y = regression
    w = np.linspace(0.5, 2.0, len(y))
    pipe = Pipeline([("scale", StandardScaler()), ("ridge", Ridge())])
    grid = {"scale__with_mean": [True, False], "ridge__alpha": [0.1, 10.0]}
    fp = {"scale__sample_weight": w, "ridge__sample_weight": w}
    ours = DaskSearchCV(pipe, grid, cv=3, client=dask_client, progress=False).fit(X, y, **fp)
    theirs = GridSearchCV(pipe, grid, cv=3, error_score="raise").fit(X, y, **fp)
    assert_same_results(ours, theirs)
    assert ours.search_stats_["n_prefix_fits"] == 6


def test_metadata_routing_sample_weight_and_groups(regression, dask_client):
    import sklearn
    from sklearn.metrics import make_scorer, r2_score
    from sklearn.model_selection import GroupKFold

    X, y = regression
    w = np.linspace(0.5, 2.0, len(y))
    groups = np.arange(len(y)) % 4
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([
            ("centre", WeightedCentre().set_fit_request(sample_weight=True)),
            ("shift", Stateless()),
            ("ridge", Ridge().set_fit_request(sample_weight=True)),
        ])  # fmt: skip
        scoring = make_scorer(r2_score).set_score_request(sample_weight=True)
        grid = {"shift__shift": [0.0, 1.0], "ridge__alpha": [0.1, 10.0]}
        kw = {"cv": GroupKFold(4), "scoring": scoring}
        ours = DaskSearchCV(pipe, grid, client=dask_client, progress=False, **kw)
        ours.fit(X, y, sample_weight=w, groups=groups)
        theirs = GridSearchCV(pipe, grid, error_score="raise", **kw)
        theirs.fit(X, y, sample_weight=w, groups=groups)
    assert_same_results(ours, theirs)
    assert ours.search_stats_["n_prefix_fits"] > 0
    # the weights did reach the steps: unweighted fits score differently
    with sklearn.config_context(enable_metadata_routing=True):
        plain = GridSearchCV(pipe, grid, **kw).fit(X, y, groups=groups)
    assert not np.array_equal(
        plain.cv_results_["mean_test_score"], ours.cv_results_["mean_test_score"]
    )

"""The entity-embedding network: fit/predict, scikit-learn conventions, warm start, searches."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from daskcloud.exceptions import ConfigError, DataError

torch = pytest.importorskip("torch", reason="the torch extra is not installed")
pytest.importorskip("skorch", reason="the torch extra is not installed")

from daskcloud.rossmann.embedding import (  # noqa: E402
    EntityEmbeddingRegressor,
    default_embedding_space,
    make_embedding_pipeline,
)
from daskcloud.rossmann.features import split_xy  # noqa: E402
from daskcloud.rossmann.metric import rmspe  # noqa: E402
from daskcloud.rossmann.splits import holdout_split  # noqa: E402

SMALL_NET = {"net__hidden_layer_sizes": (32, 16), "net__batch_size": 256}


@pytest.fixture(scope="module")
def frames(small_data):
    """(X_train, y_train, X_holdout, y_holdout) of the small preset."""
    part, holdout = holdout_split(small_data.train)
    return (*split_xy(part), *split_xy(holdout))


@pytest.fixture(scope="module")
def recent(frames):
    """(X, y): the last ~4 months of the train part, for tests that fit several times."""
    X, y, _, _ = frames
    keep = (X["Date"] >= X["Date"].max() - pd.Timedelta(days=120)).to_numpy()
    return X.loc[keep], y.loc[keep]


@pytest.fixture(scope="module")
def fitted(frames):
    X, y, _, _ = frames
    return make_embedding_pipeline(net__max_epochs=5).fit(X, y)


def test_fit_predict_on_the_small_preset_beats_the_median_baseline(frames, fitted):
    from daskcloud.rossmann.baseline import MedianBaseline

    X, y, X_ho, y_ho = frames
    pred = fitted.predict(X_ho)
    assert pred.shape == (len(X_ho),)
    assert np.isfinite(pred).all()
    closed = X_ho["Open"].fillna(1).to_numpy() == 0
    assert closed.any() and (pred[closed] == 0).all()
    assert (pred[~closed] > 0).all()
    net = fitted.named_steps["net"]
    assert net.device_ == ("cuda" if torch.cuda.is_available() else "cpu")
    assert net.n_epochs_ == 5
    assert 0.8 < net.correction_ < 1.2
    baseline = rmspe(y_ho, MedianBaseline().fit(X, y).predict(X_ho))
    assert rmspe(y_ho, pred) < baseline


def test_embeddings_follow_guo_and_berkhahn(fitted, frames):
    net = fitted.named_steps["net"]
    dims = dict(zip(net.categorical_names_, net.embedding_dims_, strict=True))
    cards = dict(zip(net.categorical_names_, net.cardinalities_, strict=True))
    assert dims["Store"] == 10 and dims["DayOfWeek"] == 6 and "DayOfMonth" in net.continuous_
    assert dims["Month"] == 6 and dims["Promo"] == 1
    n_stores = frames[0]["Store"].nunique()
    assert cards["Store"] == n_stores + 1  # code 0 is kept for unseen stores
    assert cards["DayOfWeek"] == 8
    assert "Open" not in net.continuous_
    assert not any(c.startswith("Store_") for c in net.continuous_)


def test_unseen_store_still_gets_a_prediction(fitted, frames):
    X_ho = frames[2]
    row = X_ho[X_ho["Open"] == 1].iloc[[0]].copy()
    row["Store"] = 99_999
    assert fitted.predict(row)[0] > 0


def test_clone_and_get_params_follow_scikit_learn(fitted):
    params = make_embedding_pipeline(net__max_epochs=5).get_params()
    copy = clone(fitted)
    assert not hasattr(copy.named_steps["net"], "net_")
    for key in ("net__max_epochs", "net__hidden_layer_sizes", "net__device", "features__events"):
        assert copy.get_params()[key] == params[key]
    assert copy.named_steps["features"]._sklearn_output_config["transform"] == "pandas"
    assert set(default_embedding_space()) <= set(params)


def test_warm_start_continues_training_instead_of_restarting(recent, frames):
    X, y = recent
    X_ho = frames[2]
    pipe = make_embedding_pipeline(net__max_epochs=2, net__warm_start=True, **SMALL_NET)
    pipe.fit(X, y)
    net = pipe.named_steps["net"]
    first, losses = net.net_, net.net_.history[:, "train_loss"]
    assert net.n_epochs_ == 2

    pipe.set_params(net__max_epochs=4).fit(X, y)
    assert net.net_ is first
    assert net.n_epochs_ == 4  # 2 more, not 4 from scratch
    assert net.net_.history[:2, "train_loss"] == losses
    assert net.net_.history[-1, "train_loss"] < losses[0]

    pipe.fit(X, y)  # already at max_epochs: nothing more to train
    assert net.n_epochs_ == 4
    net.partial_fit(pipe.named_steps["features"].transform(X), y)
    assert net.n_epochs_ == 5

    pipe.set_params(net__warm_start=False, net__max_epochs=1).fit(X, y)
    assert net.net_ is not first and net.n_epochs_ == 1
    assert np.isfinite(pipe.predict(X_ho)).all()


def test_same_seed_same_predictions_and_pickle_round_trip(recent, frames):
    X, y = recent
    X_ho = frames[2]
    one = make_embedding_pipeline(net__max_epochs=2, **SMALL_NET).fit(X, y)
    two = make_embedding_pipeline(net__max_epochs=2, **SMALL_NET).fit(X, y)
    np.testing.assert_allclose(two.predict(X_ho), one.predict(X_ho), rtol=1e-5)
    loaded = pickle.loads(pickle.dumps(one))
    np.testing.assert_array_equal(loaded.predict(X_ho), one.predict(X_ho))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"net__device": "tpu"}, "device must be"),
        ({"net__max_epochs": 0}, "max_epochs must be a positive integer"),
        ({"net__dropout": 1.5}, r"dropout must lie in \[0, 1\)"),
        ({"net__learning_rate_init": 0.0}, "learning_rate_init must be > 0"),
        ({"net__n_threads": 0}, "n_threads must be a positive integer"),
    ],
)
def test_bad_parameters_are_config_errors(recent, params, match):
    X, y = recent
    with pytest.raises(ConfigError, match=match):
        make_embedding_pipeline(**params).fit(X.iloc[:500], y.iloc[:500])


def test_unknown_pipeline_parameter_names_the_valid_ones():
    with pytest.raises(ConfigError, match="net__max_epochs"):
        make_embedding_pipeline(net__epochs=3)


def test_cuda_without_a_gpu_is_a_config_error(recent):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    X, y = recent
    with pytest.raises(ConfigError, match="no CUDA device"):
        make_embedding_pipeline(net__device="cuda").fit(X.iloc[:500], y.iloc[:500])


def test_plain_arrays_without_open_column():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = np.exp(5 + 0.5 * X[:, 0])
    model = EntityEmbeddingRegressor(
        open_column=None, max_epochs=30, batch_size=32, hidden_layer_sizes=(16,)
    )
    model.fit(X, y)
    assert model.categorical_names_ == [] and len(model.continuous_) == 3
    assert rmspe(y, model.predict(X)) < 0.3
    with pytest.raises(DataError, match="inconsistent numbers of samples"):
        model.fit(X, y[:10])


def test_inside_dask_search_cv(recent, frames, dask_client):
    from daskcloud.rossmann.metric import rmspe_scorer
    from daskcloud.rossmann.splits import TimeSeriesFolds
    from daskcloud.search import DaskSearchCV

    X, y = recent
    X_ho = frames[2]
    pipe = make_embedding_pipeline(**SMALL_NET)
    grid = DaskSearchCV(
        pipe,
        {"net__learning_rate_init": [1e-3, 3e-3], "net__max_epochs": [2]},
        cv=TimeSeriesFolds(2, weeks=2),
        scoring=rmspe_scorer,
        client=dask_client,
        progress=False,
    ).fit(X, y)
    scores = grid.cv_results_["mean_test_score"]
    assert len(scores) == 2 and np.isfinite(scores).all() and (scores < 0).all()
    assert grid.best_estimator_.named_steps["net"].n_epochs_ == 2
    assert np.isfinite(grid.predict(X_ho)).all()


@pytest.mark.slow
def test_halving_with_epochs_as_the_resource(recent, dask_client):
    from daskcloud.rossmann.metric import rmspe_scorer
    from daskcloud.rossmann.splits import TimeSeriesFolds
    from daskcloud.search import DaskSearchCV

    X, y = recent
    pipe = make_embedding_pipeline(**SMALL_NET)
    halving = DaskSearchCV(
        pipe,
        {"net__learning_rate_init": [1e-4, 1e-3, 3e-3]},
        strategy="halving",
        strategy_options={"resource": "net__max_epochs", "min_resource": 1, "max_resource": 3},
        cv=TimeSeriesFolds(2, weeks=2),
        scoring=rmspe_scorer,
        client=dask_client,
        progress=False,
        random_state=0,
    ).fit(X, y)
    assert set(halving.cv_results_["n_resources"]) == {1, 3}
    assert halving.best_estimator_.named_steps["net"].n_epochs_ == 3

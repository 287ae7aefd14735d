"""LogTargetMLP, the pipeline factory, the default search space, and model quality."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid, cross_validate

from daskcloud.exceptions import ConfigError, DataError
from daskcloud.rossmann.features import split_xy
from daskcloud.rossmann.job import baseline_report
from daskcloud.rossmann.metric import rmspe, rmspe_scorer
from daskcloud.rossmann.model import (
    LogTargetMLP,
    _rmspe_factor,
    default_search_space,
    make_pipeline,
)
from daskcloud.rossmann.splits import TimeSeriesFolds, holdout_split


def _toy(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Column 0 is Open; sales are log-linear in the other two columns."""
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(n, 2))
    is_open = rng.random(n) > 0.2
    y = np.where(is_open, np.exp(8 + 0.3 * inputs[:, 0] - 0.2 * inputs[:, 1]), 0.0)
    return np.c_[is_open.astype(float), inputs], y


def test_closed_rows_predict_zero_and_are_not_learned() -> None:
    X, y = _toy()
    model = LogTargetMLP(max_iter=30, early_stopping=False).fit(X, y)
    pred = model.predict(X)
    assert np.all(pred[X[:, 0] == 0] == 0)
    assert np.all(pred[X[:, 0] == 1] > 0)
    assert rmspe(y, pred) < 0.1
    # Closed rows and open zero-sales rows are dropped before the MLP sees anything.
    keep = (X[:, 0] == 1) & (y > 0)
    y_noisy = y.copy()
    y_noisy[X[:, 0] == 0] = 12345.0
    X_more = np.r_[X, [[1.0, 0.0, 0.0]]]
    y_more = np.r_[y_noisy, 0.0]
    other = LogTargetMLP(max_iter=30, early_stopping=False).fit(X_more, y_more)
    only = LogTargetMLP(max_iter=30, early_stopping=False).fit(X[keep], y[keep])
    np.testing.assert_allclose(other.predict(X), only.predict(X))


def test_correction_factor_minimises_rmspe() -> None:
    rng = np.random.default_rng(1)
    y = np.exp(rng.normal(8, 0.5, 1000))
    pred = y * np.exp(rng.normal(0, 0.15, 1000))
    c = _rmspe_factor(y, pred)
    assert c < 1  # exp of a log-scale fit over-predicts under RMSPE
    best = rmspe(y, c * pred)
    for other in (c * 0.98, c * 1.02, 1.0):
        assert best < rmspe(y, other * pred)


def test_correction_can_be_switched_off() -> None:
    X, y = _toy()
    assert LogTargetMLP(max_iter=5, correction=False).fit(X, y).correction_ == 1.0
    assert LogTargetMLP(max_iter=5).fit(X, y).correction_ != 1.0


def test_mlp_errors() -> None:
    X, y = _toy(n=50)
    with pytest.raises(DataError, match="Open column at index 5"):
        LogTargetMLP(open_column=5).fit(X, y)
    with pytest.raises(DataError, match="fewer than 2 open rows"):
        LogTargetMLP().fit(X, np.zeros(len(X)))
    with pytest.raises(ConfigError, match="MLPRegressor rejected"):
        LogTargetMLP(alpha=-1.0, max_iter=2).fit(X, y)


def test_make_pipeline_steps_and_params() -> None:
    pipe = make_pipeline(mlp__alpha=1e-3, features__store_aggregates=False)
    assert list(pipe.named_steps) == ["features", "scale", "mlp"]
    params = pipe.get_params()
    assert params["mlp__alpha"] == 1e-3
    assert params["features__store_aggregates"] is False
    for name in (
        "mlp__hidden_layer_sizes",
        "mlp__learning_rate_init",
        "mlp__batch_size",
        "mlp__max_iter",
        "mlp__early_stopping",
        "features__event_window",
        "features__store_encoding",
        "features__max_competition_months",
    ):
        assert name in params
    assert clone(pipe).get_params()["mlp__alpha"] == 1e-3
    with pytest.raises(ConfigError, match=r"unknown pipeline parameter\(s\) \['mlp__alpah'\]"):
        make_pipeline(mlp__alpah=1.0)


def test_default_search_space() -> None:
    space = default_search_space()
    candidates = list(ParameterGrid(space))
    assert len(candidates) >= 72
    valid = make_pipeline().get_params()
    assert set(space) <= set(valid)
    assert {k: valid[k] for k in space} in candidates  # the default model is a candidate
    for candidate in candidates[:3]:
        make_pipeline(**candidate)


def test_pipeline_cross_validates_on_raw_frame(small_data) -> None:
    train, _ = holdout_split(small_data.train)
    X, y = split_xy(train)
    result = cross_validate(
        make_pipeline(mlp__max_iter=3),
        X,
        y,
        cv=TimeSeriesFolds(n_splits=2),
        scoring=rmspe_scorer,
    )
    assert result["test_score"].shape == (2,)
    assert np.all(result["test_score"] < 0)


@pytest.fixture(scope="module")
def fitted(small_data):
    """``(pipeline fitted on the small preset's training part, its holdout)``, shared by the
    round-trip tests; treat it as read-only."""
    train, holdout = holdout_split(small_data.train)
    X, y = split_xy(train)
    return make_pipeline(mlp__max_iter=3).fit(X, y), holdout


def test_fitted_pipeline_pickles(small_data, fitted) -> None:
    pipe, holdout = fitted
    again = pickle.loads(pickle.dumps(pipe))
    X_hold, _ = split_xy(holdout)
    np.testing.assert_array_equal(again.predict(X_hold), pipe.predict(X_hold))
    assert np.all(pipe.predict(X_hold)[X_hold["Open"].to_numpy() == 0] == 0)
    # test.csv rows: no Sales, no Customers, a few missing Open values (counted as open)
    test = small_data.test
    pred = pipe.predict(test)
    assert np.isfinite(pred).all()
    assert np.all(pred[test["Open"].to_numpy() == 0] == 0)
    assert np.all(pred[test["Open"].isna().to_numpy()] > 0)


def _check_quality(report: dict) -> None:
    """The default MLP beats the median baseline and comes near the oracle (the small preset's
    check is test_baseline.py's ``test_cli_baseline_json``: one fit for both)."""
    scores = report["rmspe"]
    assert scores["default"] < scores["baseline"], scores
    assert scores["default"] < 1.3 * scores["oracle"], scores


@pytest.mark.slow
@pytest.mark.timeout(1200)  # about a minute alone; much longer on a shared machine
def test_default_mlp_quality_on_medium(tmp_path) -> None:
    from daskcloud.rossmann import generate, load_rossmann

    data = load_rossmann(generate("medium", seed=0, out_dir=tmp_path / "medium"))
    _check_quality(baseline_report(data))


def test_public_names() -> None:
    import daskcloud.rossmann as rossmann
    import daskcloud.rossmann.features as features

    mine = {
        "LogTargetMLP",
        "MedianBaseline",
        "RossmannFeatures",
        "TimeSeriesFolds",
        "baseline_report",
        "default_search_space",
        "holdout_split",
        "make_pipeline",
        "rmspe",
        "rmspe_scorer",
        "split_xy",
    }
    assert mine <= set(rossmann.__all__)
    assert set(features.__all__) == {
        "RossmannFeatures",
        "open_mask",
        "promo_interval_months",
        "split_xy",
        "training_mask",
    }
    for name in rossmann.__all__:
        assert getattr(rossmann, name) is not None


def test_fitted_pipeline_round_trips_through_skops(small_data, fitted, tmp_path) -> None:
    import joblib
    import skops.io as sio

    from daskcloud.search.results import _save_model, load_best_model

    pipe, holdout = fitted
    path = tmp_path / "pipe.skops"
    sio.dump(pipe, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert "daskcloud.rossmann.features._transformer.RossmannFeatures" in untrusted
    assert all(t.startswith(("daskcloud.", "sklearn.", "numpy.")) for t in untrusted), untrusted
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    copies = {
        "skops": sio.load(path, trusted=untrusted),
        "joblib": joblib.load(tmp_path / "pipe.joblib"),
    }
    X_hold, _ = split_xy(holdout)
    for frame in (X_hold, small_data.test):
        expected = pipe.predict(frame)
        for name, copy in copies.items():
            np.testing.assert_array_equal(copy.predict(frame), expected, err_msg=name)
    # A run directory keeps the skops file, and load_best_model trusts what is in it.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    saved = _save_model(pipe, run_dir)
    assert saved == {"joblib": "best_model.joblib", "skops": "best_model.skops"}
    np.testing.assert_array_equal(load_best_model(run_dir).predict(X_hold), pipe.predict(X_hold))


def test_warm_start_continues_the_mlp_to_max_iter_in_all() -> None:
    X, y = _toy()
    model = LogTargetMLP(max_iter=3, early_stopping=False, tol=0.0, warm_start=True).fit(X, y)
    net, curve = model.mlp_, list(model.mlp_.loss_curve_)
    assert model.n_iter_ == 3
    model.set_params(max_iter=9).fit(X, y)
    assert model.mlp_ is net  # the same network, trained on
    assert model.n_iter_ == 9 and len(net.loss_curve_) == 9  # 6 more epochs, not 9
    assert net.loss_curve_[:3] == curve
    assert model.set_params(max_iter=9).fit(X, y).n_iter_ == 9  # already there: no epoch
    assert rmspe(y, model.predict(X)) < rmspe(y, LogTargetMLP(max_iter=3).fit(X, y).predict(X))
    # without warm_start every fit starts anew
    cold = LogTargetMLP(max_iter=3, early_stopping=False).fit(X, y)
    first = cold.mlp_
    assert cold.set_params(max_iter=9).fit(X, y).mlp_ is not first
    assert cold.n_iter_ == 9


def test_a_batch_larger_than_the_rows_is_clipped_silently() -> None:
    import warnings

    rng = np.random.default_rng(0)
    X = np.c_[np.ones(60), rng.normal(size=(60, 2))]
    y = np.exp(8 + 0.3 * X[:, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a halving rung of 60 rows with batch_size 512
        LogTargetMLP(batch_size=512, max_iter=3).fit(X, y)

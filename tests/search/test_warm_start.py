"""Warm start along a parameter resource: rung k continues rung k-1's fitted estimator.

Real LocalCluster workers; :class:`EpochMLP` logs every fit's epochs before and
after to a file, so the test sees what the workers actually trained.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _engine_estimators import ColdEpochMLP, CountingScaler, EpochMLP
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge, SGDRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from daskcloud.search import DaskSearchCV
from daskcloud.search._continue import Resume, continuation_mode, continue_fit
from daskcloud.search._precheck import SAMPLE_ROWS
from daskcloud.search.strategies import SearchContext, TrialResult
from daskcloud.search.strategies._halving import Halving

SPACE = {"alpha": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 3.0, 10.0, 30.0]}
OPTIONS = {"resource": "max_iter", "min_resource": 3, "max_resource": 27}


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2400, 8))
    y = np.tanh(X @ rng.normal(size=8)) + 0.1 * rng.normal(size=2400)
    return X, y


def _search(client, estimator, **kwargs):
    X, y = _data()
    search = DaskSearchCV(estimator, SPACE, strategy="halving", cv=3, client=client,
                          progress=False, random_state=0, strategy_options=OPTIONS,
                          **kwargs)  # fmt: skip
    return search.fit(X, y)


def _fits(path):
    """``(epochs before, epochs after)`` of every fit in the log, but a dry fit's (one
    candidate on a few rows, on the client, when a search starts its own cluster)."""
    lines = [tuple(map(int, line.split())) for line in path.read_text().splitlines()]
    return [(before, after) for before, after, rows in lines if rows > SAMPLE_ROWS]


def test_continuation_mode_is_detected_from_the_final_step():
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", MLPRegressor())])
    assert continuation_mode(pipe, "mlp__max_iter") == "difference"
    assert continuation_mode(SGDRegressor(), "max_iter") == "difference"
    assert continuation_mode(EpochMLP(), "max_iter") == "total"
    assert continuation_mode(ColdEpochMLP(), "max_iter") is None
    assert continuation_mode(pipe, "n_samples") is None
    assert continuation_mode(Ridge(), "max_iter") is None  # no warm_start, no partial_fit
    scaled = Pipeline([("scale", StandardScaler()), ("sgd", SGDRegressor())])
    assert continuation_mode(scaled, "scale__with_mean") is None  # not the final step
    assert continuation_mode(scaled, "sgd__max_iter") == "difference"
    # daskcloud's Rossmann models count their resource in all ("total")
    from daskcloud.rossmann.embedding import make_embedding_pipeline
    from daskcloud.rossmann.model import make_pipeline

    assert continuation_mode(make_pipeline(), "mlp__max_iter") == "total"
    assert continuation_mode(make_embedding_pipeline(), "net__max_epochs") == "total"


def test_rungs_continue_the_previous_rung_and_spend_less(dask_client, tmp_path):
    warm = _search(dask_client, EpochMLP(path=str(tmp_path / "warm.log")))
    cold = _search(dask_client, ColdEpochMLP(path=str(tmp_path / "cold.log")))
    fits = _fits(tmp_path / "warm.log")[:-1]  # the last line is best_estimator_'s refit
    # each fit above rung 0 started from its previous rung's epochs and reached its own
    assert sorted(fits) == [(0, 3)] * 27 + [(3, 9)] * 9 + [(9, 27)] * 3
    assert sorted(_fits(tmp_path / "cold.log")[:-1]) == [(0, 3)] * 27 + [(0, 9)] * 9 + [(0, 27)] * 3
    # the final refit trains the top rung's resource from scratch
    assert _fits(tmp_path / "warm.log")[-1] == (0, 27)
    assert warm.best_estimator_.n_iter_ == 27
    assert warm.search_stats_["n_fits_continued"] == 9 + 3
    assert cold.search_stats_["n_fits_continued"] == 0

    # cv_results_ keeps its shape and meaning: n_resources is the total resource
    for res in (warm.cv_results_, cold.cv_results_):
        assert sorted(res["iter"]) == [0] * 9 + [1] * 3 + [2]
        assert sorted(res["n_resources"]) == [3] * 9 + [9] * 3 + [27]
    # rung 0 is the same fits in both; above it continued scores are close to refitted
    # ones (Adam's moments restart on a continued fit, so not bit-equal), and with two
    # workers the promotions may differ, so only rows in both are compared
    by_row = [
        {
            (str(p), n): v
            for p, n, v in zip(r["params"], r["n_resources"], r["mean_test_score"], strict=True)
        }
        for r in (warm.cv_results_, cold.cv_results_)
    ]
    for row, score in by_row[0].items():
        if row[1] == 3:
            assert score == by_row[1][row]
        elif row in by_row[1]:
            assert score == pytest.approx(by_row[1][row], abs=0.1)
    assert warm.best_score_ == pytest.approx(cold.best_score_, abs=0.1)
    # 27*3 + 9*6 + 3*18 = 189 epochs trained instead of 243 (fit CPU: 0.81 to 0.91 of it,
    # measured by benchmarks, not asserted here: CPU time on a shared machine is noise)
    epochs = [sum(b - a for a, b in fits), sum(b - a for a, b in _fits(tmp_path / "cold.log")[:-1])]
    assert epochs == [189, 243]


def test_continue_fit_trains_the_difference_of_a_scikit_learn_mlp():
    """MLPRegressor with warm_start: max_iter counts epochs per fit call; only the MLP trains."""
    X, y = _data()
    pipe = Pipeline([("scale", StandardScaler()),
                     ("mlp", MLPRegressor(max_iter=3, tol=0.0, random_state=0))])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 3 epochs cannot converge
        pipe.fit(X, y)
        scale_mean, coef = pipe["scale"].mean_.copy(), pipe["mlp"].coefs_[0].copy()
        loss_curve = list(pipe["mlp"].loss_curve_)
        continue_fit(pipe, X * 2, y, Resume("difference", "mlp__max_iter", 3, 9))
    np.testing.assert_array_equal(pipe["scale"].mean_, scale_mean)  # transformed, not refitted
    assert pipe["mlp"].n_iter_ == 6  # scikit-learn 1.9 resets n_iter_ on every fit call
    assert pipe["mlp"].loss_curve_[:3] == loss_curve  # continued, not restarted
    assert len(pipe["mlp"].loss_curve_) == 9
    assert not np.array_equal(pipe["mlp"].coefs_[0], coef)
    assert pipe.get_params()["mlp__max_iter"] == 9 and pipe["mlp"].warm_start


def test_continue_fit_calls_partial_fit_for_the_difference():
    X, y = _data()
    model = SGDRegressor(max_iter=5, tol=None, random_state=0)
    model.partial_fit(X, y)
    continue_fit(model, X, y, Resume("partial_fit", "max_iter", 1, 4))
    assert model.t_ == 1 + 4 * len(X)  # four epochs: one, then three more


def test_halving_keeps_fits_only_while_the_candidate_may_be_promoted():
    """may_continue bounds what the runner holds: nothing once the search is over."""
    s = Halving({"a": list(range(9))}, resource="max_iter", min_resource=1, max_resource=9,
                random_state=0)  # fmt: skip
    s.bind(SearchContext(n_splits=2, n_train=100, n_workers=1))
    told = []
    while not s.is_finished():
        for t in s.ask(1):
            s.tell(TrialResult(trial=t, score=-abs(t.params["a"] - 4)))
            told.append(t)
            # never more candidates held than may still be promoted from their rung
            assert sum(s.may_continue(x) for x in told) <= 9
        if len([t for t in told if t.extra["iter"] == 0]) == 9:
            rung0 = [t for t in told if t.extra["iter"] == 0]
            # rung 0 is complete: only the top third may still be promoted
            assert sum(s.may_continue(t) for t in rung0) <= 3
    assert not any(s.may_continue(t) for t in told)
    assert not any(s.may_continue(t) for t in told if t.extra["iter"] == 2)  # the top rung


def test_a_pipeline_continues_its_final_step_whatever_prefix_was_shared(dask_client, tmp_path):
    """Rung 0 shares a fitted scaler between candidates; later rungs continue all the same."""
    pipe = Pipeline([("scale", CountingScaler(path=str(tmp_path / "scale.log"))),
                     ("mlp", EpochMLP(path=str(tmp_path / "mlp.log")))])  # fmt: skip
    X, y = _data()
    search = DaskSearchCV(
        pipe, {"mlp__alpha": SPACE["alpha"]}, strategy="halving", cv=3, client=dask_client,
        progress=False, random_state=0, refit=False,
        strategy_options={**OPTIONS, "resource": "mlp__max_iter"},
    ).fit(X, y)  # fmt: skip
    assert search.search_stats_["n_prefix_fits"] > 0  # the scaler was shared on rung 0
    assert search.search_stats_["n_fits_continued"] == 9 + 3
    assert sorted(_fits(tmp_path / "mlp.log")) == [(0, 3)] * 27 + [(3, 9)] * 9 + [(9, 27)] * 3

"""Chart builders: pure functions of scikit-learn's cv_results_ and the journal's fit table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_regression
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from daskcloud.report import _figures as fig
from daskcloud.search.results import cv_results_frame

X, Y = make_regression(n_samples=200, n_features=5, noise=5.0, random_state=0)
GRID = {"ridge__alpha": [0.01, 1.0, 100.0], "ridge__fit_intercept": [True, False]}


@pytest.fixture(scope="module")
def results():
    search = GridSearchCV(make_pipeline(StandardScaler(), Ridge()), GRID, cv=3).fit(X, Y)
    return cv_results_frame(search.cv_results_)


@pytest.fixture(scope="module")
def fits():
    """A journal fit table by hand: 2 workers, 3 candidates x 2 folds, a gap on worker b."""
    rows = []
    spans = {"a": [(0, 1), (1, 2), (2, 3)], "b": [(0, 1), (5, 6), (6, 7)]}
    for worker, intervals in spans.items():
        for i, (start, end) in enumerate(intervals):
            rows.append(
                {"search": "s", "trial": i, "params": json.dumps({"alpha": i}), "fold": 0 if
                 worker == "a" else 1, "resource": None, "status": "ok", "score": 0.1 * i,
                 "fit_time": end - start, "score_time": 0.01, "start": 100.0 + start,
                 "end": 100.0 + end, "worker": f"tcp://{worker}"}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_param_columns_are_the_varying_ones(results):
    assert fig.param_columns(results) == ["param_ridge__alpha", "param_ridge__fit_intercept"]
    constant = results.assign(param_fixed=1)
    assert "param_fixed" not in fig.param_columns(constant)


def test_leaderboard_is_sorted_by_rank(results):
    board = fig.leaderboard_frame(results, top=4)
    assert len(board) == 4
    assert list(board["rank"]) == sorted(board["rank"])
    assert board["score"].iloc[0] == results["mean_test_score"].max()
    assert {"ridge__alpha", "ridge__fit_intercept", "± std", "fit time (s)"} <= set(board.columns)


def _study(frame):
    from pathlib import Path

    from daskcloud.report import RunData, run_study

    return run_study(RunData(run_dir=Path("run"), summary={}, results=frame))


def test_optuna_draws_the_search_charts(results):
    from daskcloud.report._charts import STUDY_CHARTS, study_figure

    study = _study(results)
    assert len(study.trials) == len(results)
    drawn = {f: study_figure(study, f) for _, _, f, _ in STUDY_CHARTS}
    assert drawn["plot_intermediate_values"] is None  # no halving rungs
    history = drawn["plot_optimization_history"]
    assert max(history.data[0].y) == pytest.approx(results["mean_test_score"].max())
    parcoords = drawn["plot_parallel_coordinate"].layout.xaxis.ticktext
    assert list(parcoords)[:2] == ["score", "ridge__alpha"] and len(parcoords) == 3
    assert len(drawn["plot_slice"].data) == 2  # one panel per parameter
    assert set(drawn["plot_param_importances"].data[0].y) == {
        "ridge__alpha", "ridge__fit_intercept",
    }  # fmt: skip
    assert study_figure(_study(results.head(1)), "plot_param_importances") is None


def test_fit_times_come_from_the_journal_when_present(results, fits):
    assert len(fig.fit_time_figure(results).data[0].x) == len(results)
    assert len(fig.fit_time_figure(results, fits).data[0].x) == len(fits)


def test_worker_timeline_shows_idle_gaps(fits):
    figure = fig.worker_timeline_figure(fits)
    bars = figure.data[0]
    lanes = set(bars.y)
    assert lanes == {"tcp://a (100% busy)", "tcp://b (43% busy)"}  # b: 3 s busy of 7
    assert min(bars.base) == 0.0 and max(np.add(bars.base, bars.x)) == 7.0
    prefix = pd.DataFrame([{"kind": "prefix", "start": 103.0, "end": 104.0, "worker": "tcp://b"}])
    with_prefix = fig.worker_timeline_figure(fits, prefix)
    assert [t.name for t in with_prefix.data] == ["fit", "shared prefix fit"]
    assert fig.worker_timeline_figure(pd.DataFrame()) is None


def test_rungs_are_optunas_intermediate_values():
    from daskcloud.report._charts import study_figure

    halving = HalvingGridSearchCV(
        make_pipeline(StandardScaler(), Ridge()),
        {"ridge__alpha": list(np.logspace(-3, 3, 9))},
        cv=3,
        factor=3,
        random_state=0,
    ).fit(X, Y)
    frame = cv_results_frame(halving.cv_results_)
    figure = study_figure(_study(frame), "plot_intermediate_values")
    assert len(figure.data) == 9  # one line per candidate
    promoted = [t for t in figure.data if len(t.x) > 1]
    assert len(promoted) == (frame.groupby("params").size() > 1).sum() > 0
    assert sorted({x for t in figure.data for x in t.x}) == sorted(frame["n_resources"].unique())


def test_holdout_and_predictions():
    assert fig.holdout_figure(None) is None
    bars = fig.holdout_figure({"oracle": 0.08, "tuned": 0.1, "baseline": 0.14, "other": 0.2})
    assert list(bars.data[0].x) == ["baseline", "tuned", "oracle", "other"]
    assert fig.predictions_figure(None) is None
    dates = pd.date_range("2015-07-01", periods=5)
    preds = pd.DataFrame(
        {"Store": np.repeat([1, 2, 3, 4], 5), "Date": np.tile(dates, 4), "Sales": 1.0, "tuned": 2.0}
    )
    figure = fig.predictions_figure(preds, n_stores=3)
    assert len(figure.data) == 6  # 3 stores x (actual, tuned)

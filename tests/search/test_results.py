"""The run directory written from a fitted search (scikit-learn's GridSearchCV as the search)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from daskcloud.exceptions import DataError
from daskcloud.search.results import (
    cv_results_frame,
    leaderboard,
    load_best_model,
    primary_metric,
    search_stats,
    to_jsonable,
    write_run,
)


@pytest.fixture(scope="module")
def data():
    return make_regression(n_samples=120, n_features=4, noise=5.0, random_state=0)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    steps = [("poly", PolynomialFeatures()), ("scale", StandardScaler()), ("ridge", Ridge())]
    pipe = Pipeline(steps)
    space = [
        {"poly__degree": [1, 2], "ridge__alpha": [0.1, 1.0, 10.0]},
        {"poly": ["passthrough"], "ridge__alpha": [1.0], "ridge__fit_intercept": [False]},
    ]
    return GridSearchCV(pipe, space, cv=3).fit(X, y)


def test_cv_results_frame_types(fitted):
    frame = cv_results_frame(fitted.cv_results_)
    assert len(frame) == 7
    assert str(frame["param_poly__degree"].dtype) == "Int64"
    assert frame["param_poly__degree"].isna().sum() == 1  # masked for the second sub-space
    assert frame["param_ridge__alpha"].dtype == np.float64
    assert str(frame["param_ridge__fit_intercept"].dtype) == "boolean"
    assert json.loads(frame["params"][0]) == {"poly__degree": 1, "ridge__alpha": 0.1}
    assert json.loads(frame["params"][6])["poly"] == "passthrough"
    assert (frame["rank_test_score"] == fitted.cv_results_["rank_test_score"]).all()


def test_structured_params_become_json():
    results = {
        "params": [{"h": (64, 32)}, {"h": (8,)}],
        "param_h": np.ma.MaskedArray([(64, 32), (8,)], dtype=object),
        "mean_test_score": [0.1, 0.2],
    }
    frame = cv_results_frame(results)
    assert frame["param_h"].tolist() == ["[64, 32]", "[8]"]


def test_write_run(fitted, data, tmp_path):
    run_dir = tmp_path / "run"
    summary = write_run(fitted, run_dir, name="demo", wall_s=1.5, extra={"note": np.float64(2)})
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "best_model.joblib",
        "best_model.skops",
        "cv_results.csv",
        "results.parquet",
        "summary.json",
    ]
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk == summary
    assert on_disk["best_params"] == to_jsonable(fitted.best_params_)
    assert on_disk["best_score"] == pytest.approx(fitted.best_score_)
    assert on_disk["n_candidates"] == 7 and on_disk["n_fits"] == 21
    assert on_disk["n_fits_skipped"] == 0 and on_disk["wall_s"] == 1.5
    assert on_disk["fit_cpu_s"] > 0
    assert on_disk["note"] == 2.0
    assert on_disk["versions"]["scikit-learn"]
    assert on_disk["created"].endswith("+00:00")
    assert on_disk["model"] == {"joblib": "best_model.joblib", "skops": "best_model.skops"}

    parquet = pd.read_parquet(run_dir / "results.parquet")
    csv = pd.read_csv(run_dir / "cv_results.csv")
    assert len(parquet) == len(csv) == 7
    assert parquet["params"].tolist() == csv["params"].tolist()

    X, _ = data
    model = load_best_model(run_dir)
    np.testing.assert_allclose(model.predict(X), fitted.best_estimator_.predict(X))
    assert not list(run_dir.glob(".*tmp*"))  # no temporary files left


def test_load_best_model_missing(tmp_path):
    with pytest.raises(DataError, match=r"best_model\.skops does not exist"):
        load_best_model(tmp_path)


def test_search_stats_prefers_engine_stats(fitted):
    class Engine:
        cv_results_ = fitted.cv_results_
        n_splits_ = 3
        search_stats_ = {  # noqa: RUF012 - a stand-in object
            "n_candidates": 7,
            "n_fits": 21,
            "n_fits_skipped": 21,
            "wall_s": 0.5,
            "fit_cpu_s": 0.0,
        }

    stats = search_stats(Engine(), wall_s=9.0)
    assert stats["n_fits_skipped"] == 21 and stats["wall_s"] == 0.5 and stats["fit_cpu_s"] == 0


def test_multimetric_primary_and_leaderboard(data):
    X, y = data
    search = GridSearchCV(
        Ridge(),
        {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]},
        scoring={"r2": "r2", "mse": "neg_mean_squared_error"},
        refit="mse",
        cv=3,
    ).fit(X, y)
    assert primary_metric(search) == "mse"
    table = leaderboard(search.cv_results_, metric="mse")
    assert table.row_count == 10
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "Top 10 of 12 candidates by mse" in text
    first_row = next(line for line in text.splitlines() if line.startswith("│    1 │"))
    best_alpha = search.best_params_["alpha"]
    assert f"alpha={best_alpha:.4g}" in first_row


def test_failed_candidates_come_last_in_the_leaderboard():
    results = {"mean_test_score": [np.nan, 0.5, np.nan, 0.9],
               "std_test_score": [np.nan, 0, np.nan, 0], "mean_fit_time": [0.0] * 4,
               "params": [{"a": i} for i in range(4)]}  # fmt: skip
    console = Console(width=200, record=True)
    console.print(leaderboard(results, metric="score"))
    rows = [line for line in console.export_text().splitlines() if line.startswith("│    ")]
    assert [row.split("a=")[1][0] for row in rows] == ["3", "1", "0", "2"]


def test_a_model_file_naming_builtins_is_not_trusted():
    from daskcloud.search.results import _trusted

    ok, untrusted = _trusted(["sklearn.linear_model._ridge.Ridge", "builtins.eval"])
    assert ok == ["sklearn.linear_model._ridge.Ridge"]
    assert untrusted == ["builtins.eval"]

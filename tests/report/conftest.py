"""Run directories to report on: a scikit-learn search (no journal), journaled DaskSearchCV runs."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from daskcloud.search.results import write_run

GRID = {
    "ridge__alpha": [0.01, 0.1, 1.0, 10.0, 100.0],
    "ridge__fit_intercept": [True, False],
    "standardscaler__with_mean": [True, False],
}


def _data():
    return make_regression(n_samples=240, n_features=6, noise=10.0, random_state=0)


def _pipe():
    return make_pipeline(StandardScaler(), Ridge())


@pytest.fixture(scope="session")
def sklearn_run(tmp_path_factory):
    """A GridSearchCV run directory (no journal), the stand-in for any scikit-learn search."""
    from sklearn.model_selection import GridSearchCV

    X, y = _data()
    search = GridSearchCV(_pipe(), GRID, cv=3).fit(X, y)
    run_dir = tmp_path_factory.mktemp("runs") / "sklearn"
    write_run(search, run_dir, wall_s=1.0, save_model=False)
    return run_dir


@pytest.fixture(scope="session")
def dask_run(tmp_path_factory, dask_client):
    """A journaled DaskSearchCV grid run, with Rossmann-style holdout scores and predictions."""
    from daskcloud.search import DaskSearchCV

    X, y = _data()
    run_dir = tmp_path_factory.mktemp("runs") / "dask"
    search = DaskSearchCV(
        _pipe(), GRID, cv=3, client=dask_client, journal=run_dir / "journal.sqlite", progress=False
    )
    started = time.perf_counter()
    search.fit(X, y)
    holdout = {"baseline": 0.14, "default": 0.11, "tuned": 0.098, "oracle": 0.085}
    write_run(search, run_dir, wall_s=time.perf_counter() - started, save_model=False,
              extra={"holdout_rmspe": holdout})  # fmt: skip
    dates = pd.date_range("2015-06-20", periods=42)
    rng = np.random.default_rng(0)
    frames = []
    for store in (1, 2, 3, 4):
        sales = rng.uniform(4000, 9000, len(dates)).round()
        noise = rng.normal(1, 0.1, (2, len(dates)))
        frames.append(
            pd.DataFrame(
                {"Store": store, "Date": dates, "Sales": sales,
                 "tuned": sales * noise[0], "baseline": sales * noise[1]}
            )
        )  # fmt: skip
    pd.concat(frames).to_parquet(run_dir / "holdout_predictions.parquet", index=False)
    return run_dir


@pytest.fixture(scope="session")
def halving_run(tmp_path_factory, dask_client):
    """A journaled successive-halving run: cv_results_ has ``iter`` and ``n_resources``."""
    from daskcloud.search import DaskSearchCV

    X, y = _data()
    run_dir = tmp_path_factory.mktemp("runs") / "halving"
    search = DaskSearchCV(
        _pipe(), {"ridge__alpha": list(np.logspace(-3, 3, 9))}, strategy="halving", cv=3,
        client=dask_client, journal=run_dir / "journal.sqlite", progress=False, random_state=0,
    )  # fmt: skip
    search.fit(X, y)
    write_run(search, run_dir, wall_s=1.0, save_model=False)
    (run_dir / "note.json").write_text(json.dumps({"kind": "halving"}))
    return run_dir

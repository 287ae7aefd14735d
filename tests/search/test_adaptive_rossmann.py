"""Halving earns its keep on the synthetic Rossmann preset (issue 4 §6).

Halving and the full grid search the same 64-candidate grid of the Rossmann
model (``make_pipeline()``'s ``scale -> mlp`` tail) with time-series CV and
RMSPE; each search's best is refit and scored on the 6-week holdout. Halving
must find a candidate within 2 % of the grid's holdout RMSPE while spending at
most 30 % of the grid's fit CPU-seconds, as the workers measure them
(``search_stats_["fit_cpu_s"]``: fit, score and prefix CPU time), not wall time.

The feature step is fitted once on the training part, outside the search: the
searched grid varies only the model, and the comparison is about the model's
fits. (Halving's trials arrive a few at a time, so the engine seldom shares a
pipeline prefix between them; see docs/adaptive.md, *Limits*.)

Measured on the 2-core build machine (busy; CPU seconds are what count), see ``MEASURED``.
The fast variant's fits are cheap, so fixed per-fit costs (model set-up, scaling, scoring)
take a larger share of the small rungs and its CPU bound is looser.
"""

from __future__ import annotations

import numpy as np
import pytest

from daskcloud.rossmann import (
    TimeSeriesFolds,
    generate,
    holdout_split,
    load_rossmann,
    make_pipeline,
    rmspe,
    rmspe_scorer,
    split_xy,
)
from daskcloud.search import DaskSearchCV

#: 4 x 4 x 4 = 64 candidates
SPACE = {
    "mlp__hidden_layer_sizes": [(8,), (16,), (32,), (16, 8)],
    "mlp__alpha": [1e-5, 1e-2, 1.0, 10.0],
    "mlp__learning_rate_init": [3e-4, 1e-3, 3e-3, 1e-2],
}

#: (holdout RMSPE halving / grid, fit CPU-s halving / grid) of runs during development
MEASURED = {
    "slow: 50 stores, max_iter=20": (1.0024, 33.9 / 167.8),  # 0.202; another run: 0.238
    "fast: 8 stores, max_iter=15": (1.000, 9.6 / 24.1),  # 0.399
    # other settings tried (12 stores): max_iter=20: (1.004, 0.314); max_iter=30: (1.021,
    # 0.275), eta=4: (1.021, 0.179); resource mlp__max_iter (1..27): (1.021, 0.324)
}


@pytest.fixture(scope="module")
def small_preset(tmp_path_factory):
    return load_rossmann(generate("small", seed=0, out_dir=tmp_path_factory.mktemp("ross")))


def _problem(data, n_stores, max_iter):
    """Features fitted on the train part; CV folds, the holdout and the model step to search."""
    train = data.train
    stores = np.sort(train["Store"].unique())[:n_stores]
    train = train[train["Store"].isin(stores)]
    fit_part, holdout = holdout_split(train, 6)
    X, y = split_xy(fit_part)
    X_holdout, y_holdout = split_xy(holdout)
    pipe = make_pipeline(mlp__max_iter=max_iter)
    features = pipe[:1].fit(X, y)
    folds = list(TimeSeriesFolds(n_splits=3).split(X))
    return {
        "X": features.transform(X),
        "y": y.to_numpy(),
        "X_holdout": features.transform(X_holdout),
        "y_holdout": y_holdout.to_numpy(),
        "cv": folds,
        "model": pipe[1:],
    }


def _compare(problem, client, **halving_options):
    out = {}
    for name, strategy, options in [
        ("halving", "halving", halving_options or None),
        ("grid", "grid", None),
    ]:
        search = DaskSearchCV(
            problem["model"], SPACE, strategy=strategy, strategy_options=options,
            cv=problem["cv"], scoring=rmspe_scorer, client=client, random_state=0,
            progress=False,
        )  # fmt: skip
        search.fit(problem["X"], problem["y"])
        predicted = search.best_estimator_.predict(problem["X_holdout"])
        out[name] = {
            "holdout_rmspe": rmspe(problem["y_holdout"], predicted),
            "fit_cpu_s": search.search_stats_["fit_cpu_s"],
            "search": search,
        }
    halving, grid = out["halving"], out["grid"]
    result = {
        "holdout_ratio": halving["holdout_rmspe"] / grid["holdout_rmspe"],
        "cpu_ratio": halving["fit_cpu_s"] / grid["fit_cpu_s"],
        "grid_holdout": grid["holdout_rmspe"],
        "halving_holdout": halving["holdout_rmspe"],
        "grid_cpu_s": grid["fit_cpu_s"],
        "halving_cpu_s": halving["fit_cpu_s"],
    }
    print(result)
    return result, halving["search"], grid["search"]


def _check(result, halving, grid, *, holdout_ratio, cpu_ratio):
    rungs = np.asarray(halving.cv_results_["iter"])
    assert len(grid.cv_results_["params"]) == 64
    assert (rungs == 0).sum() == 64  # every grid candidate started
    assert rungs[halving.best_index_] == rungs.max()  # best_* from the top rung
    assert result["holdout_ratio"] <= holdout_ratio, result
    assert result["cpu_ratio"] <= cpu_ratio, result


@pytest.mark.slow  # the full grid: ~170 fit CPU-seconds, 4-8 minutes on 2 busy cores
@pytest.mark.timeout(1800)
def test_halving_matches_the_grid_for_a_fraction_of_the_cpu(small_preset, dask_client):
    problem = _problem(small_preset, n_stores=50, max_iter=20)
    result, halving, grid = _compare(problem, dask_client)
    _check(result, halving, grid, holdout_ratio=1.02, cpu_ratio=0.30)


@pytest.mark.slow  # a quality comparison (two searches of 8 stores); ~30 s alone, minutes loaded
def test_halving_matches_the_grid_fast_variant(small_preset, dask_client):
    # Cheap fits spend a larger share on fixed per-fit costs (model set-up, scaling,
    # scoring), so the CPU saving is smaller than on the slow test's fits; see MEASURED.
    problem = _problem(small_preset, n_stores=8, max_iter=15)
    result, halving, grid = _compare(problem, dask_client)
    _check(result, halving, grid, holdout_ratio=1.05, cpu_ratio=0.50)

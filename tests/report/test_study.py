"""Every run as an Optuna study, written to a real Optuna storage and read back by Optuna."""

from __future__ import annotations

import json
import warnings

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

from daskcloud.cli import main
from daskcloud.report import export_study, load_run, run_study


def _load(url, name):
    return optuna.load_study(study_name=name, storage=url)


def test_a_journaled_grid_run_round_trips_through_sqlite(dask_run, tmp_path):
    url = f"sqlite:///{tmp_path}/studies.db"
    export_study(dask_run, url, "grid")
    study = _load(url, "grid")  # Optuna alone, from the database
    run = load_run(dask_run)
    assert len(study.trials) == len(run.results) == 20
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE  # R² of Ridge.score
    assert study.best_value == pytest.approx(run.summary["best_score"])
    best = json.loads(study.best_trial.user_attrs["daskcloud_params"])
    assert best == run.summary["best_params"]
    alpha = study.best_trial.distributions["ridge__alpha"]
    assert isinstance(alpha, FloatDistribution) and alpha.log  # 0.01 .. 100
    assert isinstance(
        study.best_trial.distributions["ridge__fit_intercept"], CategoricalDistribution
    )
    # trials are ordered by when the candidate's last fold finished (from the journal)
    ends = [t.datetime_complete for t in study.trials]
    assert None not in ends and ends == sorted(ends)


def test_halving_rungs_become_intermediate_values(halving_run, tmp_path):
    url = f"journal://{tmp_path}/halving.log"
    export_study(halving_run, url, "halving")
    study = _load(optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "halving.log"))
    ), "halving")  # fmt: skip
    run = load_run(halving_run)
    assert len(study.trials) == 9  # one trial per candidate, not per rung
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    top = run.results["n_resources"].max()
    assert len(complete) == int((run.results["iter"] == run.results["iter"].max()).sum())
    assert all(max(t.intermediate_values) == top for t in complete)
    assert pruned and all(max(t.intermediate_values) < top for t in pruned)
    assert sum(len(t.intermediate_values) for t in study.trials) == len(run.results)


def test_metric_terms_set_the_direction(tmp_path):
    from sklearn.datasets import make_regression
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import RandomizedSearchCV

    from daskcloud.search.results import write_run

    X, y = make_regression(n_samples=80, n_features=3, noise=5.0, random_state=0)
    search = RandomizedSearchCV(
        Ridge(), {"alpha": [0.1, 1.0, 10.0]}, n_iter=3, cv=3, random_state=0,
        scoring="neg_root_mean_squared_error",
    ).fit(X, y)  # fmt: skip
    write_run(search, tmp_path / "rmse", save_model=False)
    study = run_study(tmp_path / "rmse")  # in memory
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert study.user_attrs["metric"] == "RMSE"
    assert study.best_value == pytest.approx(-search.best_score_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for plot in (
            optuna.visualization.plot_optimization_history,
            optuna.visualization.plot_slice,
            optuna.visualization.plot_parallel_coordinate,
        ):
            assert plot(study).data  # Optuna's own charts draw the run


def test_cli_export_and_an_existing_study(sklearn_run, tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/s.db"
    assert main(["export", "optuna", str(sklearn_run), "--storage", url]) == 0
    assert "20 trials" in capsys.readouterr().out
    assert len(_load(url, "sklearn").trials) == 20
    assert main(["export", "optuna", str(sklearn_run), "--storage", url]) == 2
    assert "already holds a study named 'sklearn'" in capsys.readouterr().err
    assert main(["export", "optuna", str(tmp_path / "nope"), "--storage", url]) == 2

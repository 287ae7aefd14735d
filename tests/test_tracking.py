"""MLflow logging into a real local MLflow store (SQLite in tmp_path), read back by MlflowClient."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason="pip install 'daskcloud[mlflow]'")
from mlflow.tracking import MlflowClient

from daskcloud.cli import main
from daskcloud.exceptions import ConfigError
from daskcloud.search.journal import FitRecord, Journal
from daskcloud.tracking import MlflowLogger, resolve_logger

# MLflow's SQL store uses a loader SQLAlchemy 2.1 deprecates: MLflow's warning, not ours
pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
)
EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A SQLite tracking store; artifacts land under tmp_path/mlruns (MLflow's default, cwd)."""
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "hpo")
    return uri


def _fit(params, fold, score, fit_time=0.5):
    return FitRecord(key=f"{params}-{fold}", search="s", params=params, fold=fold,
                     status="ok", test_scores=score, fit_time=fit_time)  # fmt: skip


def test_candidates_are_logged_once_when_all_their_folds_are_in(store, tmp_path):
    run_dir = tmp_path / "run"
    logger = MlflowLogger()
    parent = logger.open_parent(run_dir)
    with Journal(run_dir / "journal.sqlite") as journal:
        journal.append([_fit({"alpha": 1.0}, 0, -2.0), _fit({"alpha": 0.1}, 0, -3.0)])
        assert logger.sync(run_dir / "journal.sqlite", n_splits=2) == 0  # one fold each
        journal.append([_fit({"alpha": 1.0}, 1, -4.0)])
        assert logger.sync(run_dir / "journal.sqlite", n_splits=2) == 1
        assert logger.sync(run_dir / "journal.sqlite", n_splits=2) == 0  # never twice
    client = MlflowClient(store)
    (child,) = client.search_runs(
        [client.get_experiment_by_name("hpo").experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent}'",
    )
    assert child.data.params == {"alpha": "1.0"}
    assert child.data.metrics == {
        "split0_test_score": -2.0, "split1_test_score": -4.0, "mean_test_score": -3.0,
        "split0_fit_time": 0.5, "split1_fit_time": 0.5, "mean_fit_time": 0.5,
    }  # fmt: skip
    # a second logger on the same run directory (a resumed search) finds the parent again
    again = MlflowLogger()
    assert again.open_parent(run_dir) == parent
    assert again.sync(run_dir / "journal.sqlite") == 1  # only alpha=0.1 is new


@pytest.mark.slow  # two tune runs plus MLflow's store: about a minute on 2 cores
def test_tune_mlflow_logs_a_parent_and_a_child_per_candidate(store, tmp_path, capsys):
    shutil.copy(EXAMPLES / "diabetes.csv", tmp_path / "diabetes.csv")
    spec = tmp_path / "tiny.toml"
    spec.write_text(
        'name = "tiny"\nestimator = "sklearn.linear_model:Ridge"\n'
        'scoring = "neg_mean_squared_error"\n[data]\npath = "diabetes.csv"\ntarget = "target"\n'
        "[space]\nalpha = [0.01, 0.1, 1.0]\nfit_intercept = [true, false]\n"
        '[cv]\nname = "kfold"\nn_splits = 3\n'
    )
    out = tmp_path / "run"
    args = ["tune", str(spec), "--workers", "1", "--out", str(out), "--mlflow", "--json"]
    assert main(args) == 0, capsys.readouterr().err
    first = json.loads(capsys.readouterr().out)
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("hpo").experiment_id
    (parent,) = client.search_runs(
        [experiment], filter_string=f"tags.`daskcloud.run_dir` = '{out.resolve()}'"
    )
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["best_score"] == pytest.approx(first["best_score"])
    assert parent.data.metrics["best_MSE"] == pytest.approx(-first["best_score"])
    assert parent.data.params["best.alpha"] == str(first["best_params"]["alpha"])
    files = {f.path for f in client.list_artifacts(parent.info.run_id)}
    assert {"summary.json", "report.html", "best_model.skops", "spec.json"} <= files
    children = client.search_runs(
        [experiment], filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert len(children) == 6
    by_params = {(c.data.params["alpha"], c.data.params["fit_intercept"]): c for c in children}
    results = json.loads((out / "summary.json").read_text())
    assert results["n_fits"] == 18
    best = by_params[(str(first["best_params"]["alpha"]),
                      str(first["best_params"]["fit_intercept"]))]  # fmt: skip
    assert best.data.metrics["mean_test_score"] == pytest.approx(first["best_score"])
    assert {f"split{k}_test_score" for k in range(3)} <= set(best.data.metrics)

    # resumed: nothing is fitted, nothing is logged twice, the parent is finished again
    assert main(args) == 0
    capsys.readouterr()
    children = client.search_runs(
        [experiment], filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert len(children) == 6
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"


def test_without_mlflow_the_error_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(ConfigError, match=r"pip install 'daskcloud\[mlflow\]'"):
        resolve_logger(True)
    assert resolve_logger(None) is None and resolve_logger(False) is None
    with pytest.raises(ConfigError, match="mlflow=3 is not understood"):
        resolve_logger(3)

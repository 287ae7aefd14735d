"""``daskcloud tune``: a real search on a local cluster, the run directory, --json and resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold

from daskcloud.cli import main
from daskcloud.search.results import load_best_model

EXAMPLES = Path(__file__).parents[1] / "examples"

SPEC = """\
name = "tiny"
estimator = "sklearn.linear_model:Ridge"
scoring = "neg_mean_squared_error"
[data]
path = "diabetes.csv"
target = "target"
[space]
alpha = [0.01, 0.1, 1.0]
fit_intercept = [true, false]
[cv]
name = "kfold"
n_splits = 3
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "diabetes.csv", tmp_path / "diabetes.csv")
    path = tmp_path / "tiny.toml"
    path.write_text(SPEC)
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code = main(["tune", *args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)  # exactly one JSON object, nothing else


def test_tune_json_run_dir_and_resume(spec, tmp_path, capsys):
    out = tmp_path / "run"
    first = run_json(capsys, str(spec), "--out", str(out), "--workers", "2")
    assert set(first) >= {
        "best_params",
        "best_score",
        "n_candidates",
        "n_fits",
        "n_fits_skipped",
        "wall_s",
        "fit_cpu_s",
        "run_dir",
    }
    assert first["n_candidates"] == 6 and first["n_fits"] == 18
    assert first["n_fits_skipped"] == 0
    assert first["run_dir"] == str(out)
    frame = pd.read_csv(EXAMPLES / "diabetes.csv")
    reference = GridSearchCV(
        Ridge(),
        {"alpha": [0.01, 0.1, 1.0], "fit_intercept": [True, False]},
        cv=KFold(3),
        scoring="neg_mean_squared_error",
    ).fit(frame.drop(columns="target"), frame["target"])
    assert first["best_params"] == reference.best_params_
    assert first["best_score"] == pytest.approx(reference.best_score_)

    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_score"] == first["best_score"]
    assert summary["spec"]["space"]["alpha"] == [0.01, 0.1, 1.0]
    assert len(pd.read_parquet(out / "results.parquet")) == 6
    assert load_best_model(out).get_params()["alpha"] == reference.best_params_["alpha"]

    again = run_json(capsys, str(spec), "--out", str(out), "--workers", "2")
    assert again["n_fits_skipped"] == first["n_fits"]
    assert again["best_params"] == first["best_params"]
    assert again["best_score"] == first["best_score"]


def test_tune_human_output(spec, tmp_path, capsys):
    out = tmp_path / "human"
    assert main(["tune", str(spec), "--out", str(out), "--workers", "1"]) == 0
    text = capsys.readouterr().out
    assert "Top 6 of 6 candidates" in text
    assert "run directory:" in text and "human" in text


def test_tune_both_scheduler_and_workers_is_an_input_error(spec, capsys):
    assert main(["tune", str(spec), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "not both" in capsys.readouterr().err


def test_tune_example_spec(tmp_path, capsys):
    result = run_json(capsys, str(EXAMPLES / "ridge.toml"), "--out", str(tmp_path / "r"))
    assert result["n_candidates"] == 20 and result["n_fits"] == 100
    assert 1e-4 <= result["best_params"]["alpha"] <= 1e2

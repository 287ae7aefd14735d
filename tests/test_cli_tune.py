"""``daskcloud tune``: a real search on a local cluster, the run directory, --json and resume."""

from __future__ import annotations

import json
import re
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
    run_json.stderr = captured.err  # type: ignore[attr-defined]
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
    # the Dask dashboard is announced on stderr as the search starts, and kept in the summary
    links = re.findall(r"^dashboard: (http://\S+/status)$", run_json.stderr, re.M)
    assert len(links) == 1
    assert json.loads((out / "summary.json").read_text())["dashboard_link"] == links[0]
    assert f'href="{links[0]}"' in (out / "report.html").read_text()
    assert "plotly" in (out / "report.html").read_text()
    frame = pd.read_csv(EXAMPLES / "diabetes.csv")
    reference = GridSearchCV(
        Ridge(),
        {"alpha": [0.01, 0.1, 1.0], "fit_intercept": [True, False]},
        cv=KFold(3),
        scoring="neg_mean_squared_error",
    ).fit(frame.drop(columns="target"), frame["target"])
    assert first["best_params"] == reference.best_params_
    assert first["best_score"] == pytest.approx(reference.best_score_)
    # the signed score stays; its companion reads in the metric's own terms
    assert first["best_metric"] == {
        "name": "MSE",
        "value": pytest.approx(-reference.best_score_),
        "lower_is_better": True,
    }

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
    assert "Top 6 of 6 candidates by MSE (lower is better)" in text
    assert "best MSE " in text and "best MSE -" not in text
    assert "run directory:" in text and "human" in text


def test_tune_both_scheduler_and_workers_is_an_input_error(spec, capsys):
    assert main(["tune", str(spec), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "give only one of" in capsys.readouterr().err


def test_tune_example_spec(tmp_path, capsys):
    result = run_json(capsys, str(EXAMPLES / "ridge.toml"), "--out", str(tmp_path / "r"))
    assert result["n_candidates"] == 20 and result["n_fits"] == 100
    assert 1e-4 <= result["best_params"]["alpha"] <= 1e2


def test_budget_table_stops_after_max_trials(spec, tmp_path, capsys):
    spec.write_text(SPEC + "[budget]\nmax_trials = 3\n")
    out = tmp_path / "budget"
    result = run_json(capsys, str(spec), "--out", str(out), "--workers", "2")
    # fits of trials in flight at the stop may finish too (n_fits >= 9); only 3 trials count
    assert result["n_candidates"] == 3 and result["n_fits"] >= 9
    assert len(pd.read_parquet(out / "results.parquet")) == 3
    assert result["stop_reason"] == "stopped by the budget max_trials=3 (used 3 trials)"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stop_reason"] == result["stop_reason"]


def test_budget_flags_override_the_spec_and_no_budget_means_null(spec, tmp_path, capsys):
    spec.write_text(SPEC + "[budget]\nmax_trials = 3\n")
    flagged = run_json(capsys, str(spec), "--out", str(tmp_path / "a"), "--workers", "2",
                       "--max-trials", "2", "--max-time", "10m", "--max-cost", "5",
                       "--fit-timeout", "5m")  # fmt: skip
    assert flagged["n_candidates"] == 2
    assert flagged["stop_reason"].startswith("stopped by the budget max_trials=2")
    spec.write_text(SPEC)
    full = run_json(capsys, str(spec), "--out", str(tmp_path / "b"), "--workers", "2")
    assert full["n_candidates"] == 6 and full["stop_reason"] is None


@pytest.mark.parametrize(
    ("change", "flags", "message"),
    [
        ("[budget]\nmax_time = -1\n", [], "max_time must be a positive number, got -1"),
        ("[budget]\nmax_cost = 1\nprice_per_hour = -2\n", [], "price_per_hour must be"),
        ("", ["--max-time", "soon"], "max_time 'soon' is not a duration"),
        ("", ["--max-cost", "0"], "max_cost must be a positive number, got 0.0"),
        ("", ["--fit-timeout", "soon"], "fit_timeout 'soon' is not a duration"),
    ],
)
def test_bad_budget_is_exit_2_before_any_cluster(spec, tmp_path, capsys, monkeypatch, change,
                                                 flags, message):  # fmt: skip
    import daskcloud.cluster

    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started for a bad budget")

    monkeypatch.setattr(daskcloud.cluster, "open_client", no_cluster)
    spec.write_text(SPEC + change)
    out = tmp_path / "run"
    assert main(["tune", str(spec), "--out", str(out), "--json", *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and message in captured.err
    assert not out.exists()


def test_detach_checks_budget_flags_before_kubernetes(spec, capsys, monkeypatch):
    import daskcloud.cluster.kubernetes._lifecycle as lifecycle

    def no_kube(*args, **kwargs):
        raise AssertionError("Kubernetes was contacted for a bad budget")

    monkeypatch.setattr(lifecycle, "kube_api", no_kube)
    code = main(["tune", str(spec), "--cluster", "hpo", "--detach", "--max-time", "soon"])
    assert code == 2 and "max_time 'soon' is not a duration" in capsys.readouterr().err


def test_install_missing_is_a_flag_for_this_run_only(spec, tmp_path, capsys):
    from daskcloud import config

    result = run_json(capsys, str(spec), "--workers", "1", "--install-missing",
                      "--out", str(tmp_path / "im"))  # fmt: skip
    assert result["n_fits"] > 0  # nothing lacks on a local cluster: nothing is installed
    assert config.get("packages.install-missing") is False  # the setting ends with the run
    code = main(["tune", str(spec), "--cluster", "hpo", "--detach", "--install-missing"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--install-missing is for a search driven from here" in err


def test_wrong_strategy_option_is_one_line_and_exit_2(spec, tmp_path):
    """A misspelt [strategy] option: one line naming it and the valid ones, no traceback."""
    import subprocess
    import sys

    spec.write_text(SPEC + '[strategy]\nname = "halving"\nmin_resources = 10\n')
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "daskcloud.cli", "tune", str(spec), "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"error: {spec}: strategy: unknown option 'min_resources' for strategy 'halving' "
        "(did you mean min_resource?); its options are resource, min_resource, max_resource, eta"
    )
    assert not out.exists()  # checked before any cluster or run directory

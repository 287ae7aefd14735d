"""write_report on real run directories: one self-contained HTML file, the right sections."""

from __future__ import annotations

import re

import pytest
from plotly.offline import get_plotlyjs

from daskcloud.cli import main
from daskcloud.exceptions import DataError
from daskcloud.report import REPORT_FILE, load_run, render_report, write_report

EXTERNAL = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//"
)


def _titles(html: str) -> list[str]:
    return re.findall(r"<section><h2>([^<]+)</h2>", html)


def test_report_is_one_self_contained_file(dask_run):
    path = write_report(dask_run)
    assert path == dask_run / REPORT_FILE
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert html.count(get_plotlyjs()[:500]) == 1  # plotly.js inlined exactly once
    assert not EXTERNAL.search(html), "the report must not load anything from the network"
    assert "cdn.plot.ly" not in html.replace(get_plotlyjs(), "")
    assert sorted(p.name for p in dask_run.iterdir() if p.name.startswith(".")) == []


def test_journaled_rossmann_run_has_every_section(dask_run):
    html = write_report(dask_run).read_text(encoding="utf-8")
    assert _titles(html) == [
        "Summary",
        "Leaderboard (top 10)",
        "Holdout RMSPE",
        "Predicted vs actual",
        "Optimization history",
        "Parallel coordinates",
        "Parameter slices",
        "Parameter importances",
        "Fit times",
        "Worker timeline",
    ]
    assert html.count("Plotly.newPlot(") == 8
    run = load_run(dask_run)
    assert len(run.fits) == 20 * 3 and run.fits["worker"].notna().all()
    assert run.holdout == {"baseline": 0.14, "default": 0.11, "tuned": 0.098, "oracle": 0.085}
    assert "busy)" in html  # worker lanes carry their busy share


def test_scikit_learn_run_without_journal(sklearn_run):
    html = render_report(load_run(sklearn_run))
    titles = _titles(html)
    assert "Worker timeline" not in titles and "Holdout RMSPE" not in titles
    assert "Optimization history" in titles and "Parameter slices" in titles


def test_halving_run_shows_rungs(halving_run):
    html = write_report(halving_run).read_text(encoding="utf-8")
    assert "Successive halving" in _titles(html)
    run = load_run(halving_run)
    assert run.results["iter"].nunique() >= 2
    assert run.fits["resource"].notna().any()


def test_missing_or_incomplete_run_dir_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="run directory not found"):
        write_report(tmp_path / "nope")
    with pytest.raises(DataError, match=r"no results\.parquet or cv_results\.csv"):
        write_report(tmp_path)
    assert not (tmp_path / REPORT_FILE).exists()


def test_cli_report(sklearn_run, tmp_path, capsys):
    assert main(["report", str(sklearn_run)]) == 0
    assert str(sklearn_run / REPORT_FILE) in capsys.readouterr().out.replace("\n", "")
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "run directory not found" in capsys.readouterr().err


def test_public_api_is_exactly_this():
    import daskcloud.report as report

    assert sorted(report.__all__) == [
        "REPORT_FILE",
        "RunData",
        "export_study",
        "fit_time_figure",
        "holdout_figure",
        "leaderboard_frame",
        "load_run",
        "predictions_figure",
        "render_report",
        "run_study",
        "study_trials",
        "worker_timeline_figure",
        "write_report",
    ]

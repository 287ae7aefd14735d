"""The benchmark harness runs end to end (tiny sizes), so it cannot rot unnoticed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ lives next to src/, not inside the package
    sys.path.insert(0, str(ROOT))

from benchmarks import dispatch, scale_sim  # noqa: E402
from benchmarks._common import write_result  # noqa: E402


def test_dispatch_and_scale_simulation_run_and_write_results(dask_client, tmp_path):
    result = dispatch.run(
        quick=True, n=30, rounds=1, contenders=("daskcloud", "dask"), client=dask_client
    )
    summary = result["summary"]
    assert summary["daskcloud"]["n"] == 30
    assert summary["daskcloud"]["trials_per_s"] > 0
    assert summary["dask"]["ratio_to_daskcloud"] > 0
    assert "| daskcloud | 30 |" in dispatch.tables(result)

    sim = scale_sim.run(dispatch_result=result, n_trials=200, n_workers=10)
    scenario = sim["scenarios"]["daskcloud (driver + scheduler)"]
    assert scenario["makespan_s"] >= sim["ideal_s"]  # overhead never makes it faster than ideal
    assert scale_sim.tables(sim).startswith("Simulation:")

    path = write_result("dispatch", result, results_dir=tmp_path)
    assert json.loads(path.read_text())["summary"]["daskcloud"]["n"] == 30


def test_simulation_without_overhead_meets_the_ideal():
    assert scale_sim.simulate(100, 10, 60.0, d=0.0, o=0.0) == 600.0
    # a dispatcher slower than the workers sets the pace: 100 trials x 1 s each
    assert scale_sim.simulate(100, 10, 1.0, d=1.0, o=0.0) >= 100.0


def test_scale_measures_both_contenders_and_calibrates_the_simulation():
    from benchmarks import scale

    result = scale.run(quick=True, n=24, fit_seconds=(0.05,), shapes=((1, 4),), rounds=1)
    (point,) = result["points"]
    assert point["slots"] == 4 and point["ideal_s"] == pytest.approx(24 * 0.05 / 4)
    for name in ("dask", "daskcloud"):
        assert point[name]["makespan_s"] >= point["ideal_s"]  # sleeping fits cannot beat ideal
    assert point["daskcloud_over_dask"] > 0
    (check,) = result["calibration"]["checks"]
    assert abs(check["error"]) < 0.01  # the anchor point is fitted exactly
    assert "daskcloud / dask" in scale.tables(result)


def test_main_job_benchmark_reads_the_jobs_json_and_journal():
    """The real command (``--quick``: 2 candidates) in a subprocess, as ``make bench`` runs it."""
    from benchmarks import main_job

    result = main_job.run(job_args=["--quick"])
    assert result["n_candidates"] == 2 and result["n_fits"] >= 4  # 2 candidates x 2 folds
    assert 0 < result["search_s"] < result["wall_s"]
    assert result["first_scored_s"] is not None and 0 <= result["first_scored_s"] < result["wall_s"]
    h = result["holdout_rmspe"]
    assert result["tuned_over_default"] == h["tuned"] / h["default"]
    assert "| wall s" in main_job.tables(result)

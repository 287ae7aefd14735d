"""Progress display: rich bar, plain log lines, silence."""

from __future__ import annotations

import io

import pytest

from daskcloud.search._progress import SearchProgress, make_progress
from daskcloud.search._trials import RunStats


def test_log_lines_show_done_total_best_eta_and_workers():
    out = io.StringIO()
    progress = SearchProgress(10, 2, mode="log", stream=out, log_every_s=0)
    stats = RunStats(n_fits=4, n_fits_skipped=1, best_score=0.25)
    progress.update(stats)
    line = out.getvalue().strip()
    assert line.startswith("[daskcloud] fits 5/10 best 0.25") and "eta" in line
    assert line.endswith("workers 2")


def test_bar_runs_without_a_terminal_and_closes_twice(capsys):
    progress = SearchProgress(4, 2, mode="bar")
    progress.update(RunStats(n_fits=3, n_fits_skipped=1, best_score=0.25))
    progress.close()
    final = capsys.readouterr().out  # off a terminal, rich prints the bar once, when stopped
    assert "search" in final and "4/4" in final
    assert "best 0.25" in final and "workers 2" in final
    progress.close()
    assert capsys.readouterr().out == ""


def test_make_progress_normalises():
    assert make_progress(False, 10, 2) is None
    assert make_progress(True, 10, 2).mode == "log"  # pytest's stdout is not a terminal
    with pytest.raises(ValueError, match="progress must be"):
        make_progress("loud", 10, 2)

"""The run report: one self-contained HTML file of a search's results (plotly, offline).

:func:`write_report` reads a run directory and writes ``report.html`` into it;
:func:`load_run` and :func:`render_report` are its two halves. The chart
builders (``history_figure``, ``worker_timeline_figure``, ...) are pure functions
of the tables in :class:`RunData` and return plotly figures, for notebooks.

Example:
    >>> from daskcloud.report import load_run, history_figure, write_report
    >>> write_report("runs/20261128-170000-rossmann")  # doctest: +SKIP
    >>> run = load_run("runs/20261128-170000-rossmann")  # doctest: +SKIP
    >>> history_figure(run.results, run.fits, run.metric).show()  # doctest: +SKIP
"""

from daskcloud.report._figures import (
    fit_time_figure,
    history_figure,
    holdout_figure,
    leaderboard_frame,
    parallel_coordinates_figure,
    param_effects_figure,
    predictions_figure,
    rung_figure,
    worker_timeline_figure,
)
from daskcloud.report._html import REPORT_FILE, render_report, write_report
from daskcloud.report._load import RunData, load_run

__all__ = [
    "REPORT_FILE",
    "RunData",
    "fit_time_figure",
    "history_figure",
    "holdout_figure",
    "leaderboard_frame",
    "load_run",
    "parallel_coordinates_figure",
    "param_effects_figure",
    "predictions_figure",
    "render_report",
    "rung_figure",
    "worker_timeline_figure",
    "write_report",
]

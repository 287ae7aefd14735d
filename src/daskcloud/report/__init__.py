"""The run report: one self-contained HTML file of a search's results (plotly, offline).

:func:`write_report` reads a run directory and writes ``report.html`` into it;
:func:`load_run` and :func:`render_report` are its two halves. The chart
builders (``worker_timeline_figure``, ...) are pure functions of the tables in
:class:`RunData` and return plotly figures, for notebooks; the search's own charts are
Optuna's, drawn on the run as a study (:func:`run_study`).

Example:
    >>> import optuna
    >>> from daskcloud.report import run_study, write_report
    >>> write_report("runs/20261128-170000-rossmann")  # doctest: +SKIP
    >>> study = run_study("runs/20261128-170000-rossmann")  # doctest: +SKIP
    >>> optuna.visualization.plot_optimization_history(study).show()  # doctest: +SKIP
"""

from daskcloud.report._figures import (
    fit_time_figure,
    holdout_figure,
    leaderboard_frame,
    predictions_figure,
    worker_timeline_figure,
)
from daskcloud.report._html import REPORT_FILE, render_report, write_report
from daskcloud.report._load import RunData, load_run
from daskcloud.report._study import export_study, run_study, study_trials

__all__ = [
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

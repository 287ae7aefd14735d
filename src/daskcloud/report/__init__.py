"""The run report: one self-contained HTML file of a search's results (plotly, offline).

:func:`write_report` reads a run directory and writes ``report.html`` into it;
:func:`load_run` and :func:`render_report` are its two halves, and the chart
builders in ``daskcloud.report._figures`` are pure functions of the tables.

Example:
    >>> from daskcloud.report import write_report
    >>> write_report("runs/20261128-170000-rossmann")  # doctest: +SKIP
"""

from daskcloud.report._html import REPORT_FILE, render_report, write_report
from daskcloud.report._load import RunData, load_run

__all__ = ["REPORT_FILE", "RunData", "load_run", "render_report", "write_report"]

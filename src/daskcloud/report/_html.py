"""Assemble the report: one self-contained HTML file, plotly.js inlined once, no network.

:func:`render_report` turns a :class:`~daskcloud.report._load.RunData` into HTML
text (pure); :func:`write_report` reads a run directory and writes
``report.html`` into it atomically.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from daskcloud.core.files import atomic_write
from daskcloud.report import _figures as figures
from daskcloud.report._load import RunData, load_run
from daskcloud.search._terms import ScoreTerms

__all__ = ["REPORT_FILE", "render_report", "write_report"]

REPORT_FILE = "report.html"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1f2933; background: #f5f7fa; }
header { background: #243b53; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 1.5em; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 32px 48px; }
section { background: white; border-radius: 6px; padding: 12px 20px; margin: 16px 0;
          box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h2 { font-size: 1.15em; margin: 6px 0 10px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: #f0f4f8; border-radius: 4px; padding: 8px 14px; min-width: 120px; }
.card .v { font-size: 1.3em; font-weight: 600; }
.card .k { font-size: .8em; color: #52606d; }
table { border-collapse: collapse; font-size: .85em; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e4e7eb; text-align: right; }
th { background: #f0f4f8; }
td:first-child, th:first-child { text-align: center; }
pre { background: #f0f4f8; padding: 8px; overflow-x: auto; font-size: .85em; }
.note { color: #52606d; font-size: .85em; }
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cards(summary: dict[str, Any], metric: str) -> str:
    wall, cpu = summary.get("wall_s"), summary.get("fit_cpu_s")
    terms = ScoreTerms.from_json(summary.get("score_terms"), metric)
    best = summary.get("best_score")
    items = [
        (f"best {terms.label}", None if best is None else terms.value(best)),
        ("candidates", summary.get("n_candidates")),
        ("fits run", summary.get("n_fits")),
        ("fits from the journal", summary.get("n_fits_skipped")),
        ("wall seconds", wall),
        ("fit CPU seconds", cpu),
    ]
    if isinstance(wall, int | float) and isinstance(cpu, int | float) and wall > 0:
        items.append(("CPU / wall", cpu / wall))
    cells = "".join(
        f'<div class="card"><div class="v">{html.escape(_fmt(v))}</div>'
        f'<div class="k">{html.escape(k)}</div></div>'
        for k, v in items
        if v is not None
    )
    return f'<div class="cards">{cells}</div>'


def _summary_section(run: RunData) -> str:
    s = run.summary
    best = json.dumps(s.get("best_params"), indent=2, sort_keys=True, default=str)
    versions = ", ".join(f"{k} {v}" for k, v in (s.get("versions") or {}).items())
    return (
        "<section><h2>Summary</h2>"
        + _cards(s, run.metric)
        + f"<h3>Best parameters</h3><pre>{html.escape(best)}</pre>"
        + (f'<p class="note">{html.escape(versions)}</p>' if versions else "")
        + "</section>"
    )


def _leaderboard_section(run: RunData) -> str:
    terms = ScoreTerms.from_json(run.summary.get("score_terms"), run.metric)
    board = figures.leaderboard_frame(run.results, run.metric, terms=terms)
    table = board.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}", na_rep="")
    return f"<section><h2>Leaderboard (top {len(board)})</h2>{table}</section>"


def _figure_section(title: str, fig: go.Figure | None, div_id: str, note: str = "") -> str:
    if fig is None:
        return ""
    body = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )
    extra = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return f"<section><h2>{html.escape(title)}</h2>{extra}{body}</section>"


def _study_charts(run: RunData) -> list[tuple[str, str, Callable[[], go.Figure | None], str]]:
    """Optuna's charts of the run as a study; none when the run cannot become one."""
    from daskcloud.report._charts import STUDY_CHARTS, study_figure
    from daskcloud.report._study import run_study

    try:
        study = run_study(run)
    except (ValueError, KeyError):  # results without params or scores: nothing to draw
        return []
    name = study.user_attrs.get("metric", run.metric)
    return [
        (title, div_id, lambda f=function: study_figure(study, f, name), note)
        for title, div_id, function, note in STUDY_CHARTS
    ]


def _chart_builders(run: RunData) -> list[tuple[str, str, Callable[[], go.Figure | None], str]]:
    """(section title, div id, builder, note) of every chart, in page order."""
    charts = [
        ("Holdout RMSPE", "holdout", lambda: figures.holdout_figure(run.holdout), ""),
        ("Predicted vs actual", "predictions",
         lambda: figures.predictions_figure(run.predictions), ""),
    ]  # fmt: skip
    charts += _study_charts(run)
    charts += [
        ("Fit times", "fit-times", lambda: figures.fit_time_figure(run.results, run.fits), ""),
        ("Worker timeline", "timeline",
         lambda: figures.worker_timeline_figure(run.fits, run.tasks), ""),
    ]  # fmt: skip
    return charts


def _dashboard(link: Any) -> str:
    """A link to the run's Dask dashboard (it answers while the cluster lives)."""
    if not isinstance(link, str) or not link.startswith(("http://", "https://")):
        return ""
    url = html.escape(link, quote=True)
    return (
        f'<div>Dask dashboard: <a style="color:#9fb3c8" href="{url}">{url}</a> '
        "(live while the cluster runs)</div>"
    )


def render_report(run: RunData) -> str:
    """The whole report as one HTML document (plotly.js inlined; it loads nothing)."""
    title = f"daskcloud report: {run.summary.get('name') or run.run_dir.name}"
    created = run.summary.get("created") or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    sections = [_summary_section(run), _leaderboard_section(run)]
    sections += [
        _figure_section(name, build(), f"chart-{div_id}", note)
        for name, div_id, build, note in _chart_builders(run)
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        # plotly.js, inlined once for every chart: the file works offline
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>{html.escape(title)}</h1>"
        f"<div>{html.escape(str(run.run_dir))} · {html.escape(str(created))}</div>"
        f"{_dashboard(run.summary.get('dashboard_link'))}</header>"
        f"<main>{''.join(sections)}</main></body></html>\n"
    )


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` into ``run_dir`` from the files there; return its path.

    Reads only the run directory (``summary.json``, ``results.parquet`` or
    ``cv_results.csv``, ``journal.sqlite``, holdout scores and predictions when
    present). The file is written to a temporary name and renamed.

    Raises:
        DataError: if the run directory or its results are missing.

    Example:
        >>> write_report("runs/20261128-170000-rossmann")  # doctest: +SKIP
        PosixPath('runs/20261128-170000-rossmann/report.html')
    """
    run = load_run(run_dir)
    path = run.run_dir / REPORT_FILE
    with atomic_write(path) as part:
        part.write_text(render_report(run), encoding="utf-8")
    return path

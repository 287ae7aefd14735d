"""The report's charts: pure functions from tables to plotly figures (no files, no network).

Every builder takes the tables of :class:`~daskcloud.report._load.RunData` —
``results`` (``cv_results_`` as a DataFrame, scikit-learn's column names), the
journal's ``fits`` and ``tasks`` — and returns a ``plotly.graph_objects.Figure``,
or None when the run has nothing to show for it (no journal, no halving, ...).
The charts of the search itself (history, parallel coordinates, slices, importances,
halving rungs) are Optuna's, drawn on the run as a study (:mod:`._charts`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from daskcloud.search._terms import ScoreTerms

__all__ = [
    "fit_time_figure",
    "holdout_figure",
    "leaderboard_frame",
    "param_columns",
    "predictions_figure",
    "worker_timeline_figure",
]

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 30, "t": 50, "b": 50}}


def _score_column(results: pd.DataFrame, metric: str) -> str:
    column = f"mean_test_{metric}"
    return column if column in results.columns else "mean_test_score"


def param_columns(results: pd.DataFrame) -> list[str]:
    """The ``param_<name>`` columns that vary across candidates (constant ones say nothing)."""
    return [
        c
        for c in results.columns
        if c.startswith("param_") and results[c].astype(str).nunique(dropna=False) > 1
    ]


def _short(column: str) -> str:
    """``param_mlp__alpha`` -> ``mlp__alpha``."""
    return column.removeprefix("param_")


def leaderboard_frame(
    results: pd.DataFrame, metric: str = "score", top: int = 10, terms: ScoreTerms | None = None
) -> pd.DataFrame:
    """The ``top`` candidates by rank: rank, mean and std score, fit time, varying parameters.

    With ``terms`` the score column is the metric's own (``RMSPE``, positive for a loss).
    """
    terms = terms or ScoreTerms("score")
    score = _score_column(results, metric)
    rank = f"rank_test_{metric}" if f"rank_test_{metric}" in results else None
    order = results.sort_values(rank or score, ascending=rank is not None, kind="stable")
    columns = {
        "rank": order[rank] if rank else np.arange(1, len(order) + 1),
        terms.name: terms.value(order[score]),
    }
    std = score.replace("mean_", "std_")
    if std in order:
        columns["± std"] = order[std]
    for extra in ("iter", "n_resources"):
        if extra in order:
            columns[extra] = order[extra]
    if "mean_fit_time" in order:
        columns["fit time (s)"] = order["mean_fit_time"]
    for c in param_columns(results):
        columns[_short(c)] = order[c]
    return pd.DataFrame(columns).head(top).reset_index(drop=True)


def fit_time_figure(results: pd.DataFrame, fits: pd.DataFrame | None = None) -> go.Figure:
    """Histogram of fit times: every journaled fit, else each candidate's mean."""
    if fits is not None and len(fits) and fits["fit_time"].notna().any():
        times, what = fits.loc[fits["status"] == "ok", "fit_time"], "fits"
    else:
        times, what = results["mean_fit_time"], "candidates (mean over folds)"
    fig = go.Figure(go.Histogram(x=times, nbinsx=30, marker={"color": "#2ca02c"}))
    fig.update_layout(title=f"Fit time distribution ({len(times)} {what})",
                      xaxis_title="fit time (s)", yaxis_title="count", **_LAYOUT)  # fmt: skip
    return fig


def _busy_share(intervals: np.ndarray) -> float:
    """Fraction of [first start, last end] covered by the union of ``intervals``."""
    order = intervals[np.argsort(intervals[:, 0])]
    busy, cur_start, cur_end = 0.0, order[0, 0], order[0, 1]
    for s, e in order[1:]:
        if s > cur_end:
            busy += cur_end - cur_start
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    busy += cur_end - cur_start
    span = order[:, 1].max() - order[:, 0].min()
    return busy / span if span > 0 else 1.0


def _hover(row: Mapping[str, Any]) -> str:
    params = json.loads(row["params"]) if isinstance(row.get("params"), str) else {}
    text = "<br>".join(f"{k}={v}" for k, v in params.items())
    score = row.get("score")
    score_text = "n/a" if score is None or pd.isna(score) else f"{score:.4g}"
    return f"fold {row.get('fold')} · score {score_text} · {row['duration']:.2f}s<br>{text}"


def worker_timeline_figure(
    fits: pd.DataFrame, tasks: pd.DataFrame | None = None
) -> go.Figure | None:
    """Gantt chart of fits (and shared prefix fits) per worker; gaps are idle time."""
    if fits is None or not len(fits) or fits[["start", "end"]].isna().all().all():
        return None
    rows = fits.dropna(subset=["start", "end"]).copy()
    rows["kind"] = np.where(rows["status"] == "ok", "fit", "fit (" + rows["status"] + ")")
    if tasks is not None and len(tasks):
        prefix = tasks[tasks["kind"] == "prefix"].dropna(subset=["start", "end"])
        rows = pd.concat([rows, prefix.assign(kind="shared prefix fit")], ignore_index=True)
    rows["worker"] = rows["worker"].fillna("unknown").astype(str)
    t0 = float(rows["start"].min())
    rows["duration"] = rows["end"] - rows["start"]
    share = {
        w: _busy_share(g[["start", "end"]].to_numpy(dtype=float)) for w, g in rows.groupby("worker")
    }
    rows["lane"] = rows["worker"].map(lambda w: f"{w} ({share[w]:.0%} busy)")
    colors = {"fit": "#1f77b4", "shared prefix fit": "#ff7f0e"}
    fig = go.Figure()
    for kind, group in rows.groupby("kind", sort=False):
        fig.add_trace(
            go.Bar(
                y=group["lane"], x=group["duration"], base=group["start"] - t0, orientation="h",
                name=kind, marker={"color": colors.get(kind, "#d62728"), "line": {"width": 0.5}},
                hovertext=[_hover(r) for r in group.to_dict("records")], hoverinfo="text",
            )
        )  # fmt: skip
    fig.update_layout(
        title="Worker timeline (one bar per fit; gaps are idle time)", barmode="overlay",
        xaxis_title="seconds since the first fit started", yaxis={"type": "category"},
        height=180 + 40 * rows["worker"].nunique(), **_LAYOUT,
    )  # fmt: skip
    return fig


_HOLDOUT_ORDER = ("baseline", "default", "tuned", "oracle")


def holdout_figure(holdout: Mapping[str, float] | None) -> go.Figure | None:
    """Holdout RMSPE per model (lower is better), the oracle as the floor."""
    if not holdout:
        return None
    names = [n for n in _HOLDOUT_ORDER if n in holdout] + [
        n for n in holdout if n not in _HOLDOUT_ORDER
    ]
    values = [holdout[n] for n in names]
    colors = ["#7f7f7f" if n == "oracle" else "#d62728" if n == "tuned" else "#1f77b4"
              for n in names]  # fmt: skip
    fig = go.Figure(go.Bar(x=names, y=values, marker={"color": colors},
                           text=[f"{v:.4f}" for v in values], textposition="outside"))  # fmt: skip
    fig.update_layout(title="Holdout RMSPE (lower is better)", yaxis_title="RMSPE", **_LAYOUT)
    return fig


def predictions_figure(predictions: pd.DataFrame | None, n_stores: int = 3) -> go.Figure | None:
    """Predicted against actual daily sales on the holdout, for a few stores."""
    if predictions is None or not len(predictions):
        return None
    models = [c for c in predictions.columns if c not in ("Store", "Date", "Sales", "Open")]
    stores = sorted(predictions["Store"].unique())[:n_stores]
    fig = make_subplots(rows=len(stores), cols=1, shared_xaxes=True,
                        subplot_titles=[f"store {s}" for s in stores])  # fmt: skip
    palette = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b")
    for i, store in enumerate(stores, start=1):
        part = predictions[predictions["Store"] == store].sort_values("Date")
        fig.add_trace(go.Scatter(x=part["Date"], y=part["Sales"], name="actual",
                                 line={"color": "black", "width": 2}, showlegend=i == 1),
                      row=i, col=1)  # fmt: skip
        for j, model in enumerate(models):
            fig.add_trace(go.Scatter(x=part["Date"], y=part[model], name=model,
                                     line={"color": palette[j % len(palette)], "dash": "dot"},
                                     showlegend=i == 1), row=i, col=1)  # fmt: skip
    fig.update_layout(title="Holdout: predicted and actual sales", height=260 * len(stores),
                      **_LAYOUT)  # fmt: skip
    return fig

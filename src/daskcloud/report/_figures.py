"""The report's charts: pure functions from tables to plotly figures (no files, no network).

Every builder takes the tables of :class:`~daskcloud.report._load.RunData` —
``results`` (``cv_results_`` as a DataFrame, scikit-learn's column names), the
journal's ``fits`` and ``tasks`` — and returns a ``plotly.graph_objects.Figure``,
or None when the run has nothing to show for it (no journal, no halving, ...).
Scores follow scikit-learn: higher is better (RMSPE appears negated).
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
    "history_figure",
    "holdout_figure",
    "leaderboard_frame",
    "parallel_coordinates_figure",
    "param_columns",
    "param_effects_figure",
    "predictions_figure",
    "rung_figure",
    "worker_timeline_figure",
]

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 30, "t": 50, "b": 50}}
_MAX_CATEGORIES = 12  # more distinct values than this: treat a parameter as continuous


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


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _log_scale(values: pd.Series) -> bool:
    """Positive numbers spanning at least two decades read best on a log axis."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(v)) and bool((v > 0).all()) and float(v.max() / v.min()) >= 100


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


def _candidate_history(fits: pd.DataFrame) -> pd.DataFrame:
    """One row per finished candidate (and resource): when its last fold ended, its mean score."""
    done = fits[fits["status"] != "cancelled"].copy()
    done["resource"] = done["resource"].fillna(-1)
    grouped = done.groupby(["search", "params", "resource"], dropna=False)
    cand = grouped.agg(end=("end", "max"), score=("score", "mean")).reset_index()
    cand = cand.sort_values("end", kind="stable").reset_index(drop=True)
    ends = np.sort(done["end"].to_numpy(dtype=float))
    cand["n_fits"] = np.searchsorted(ends, cand["end"].to_numpy(dtype=float), side="right")
    cand["elapsed"] = cand["end"] - float(done["start"].min())
    return cand


def history_figure(
    results: pd.DataFrame, fits: pd.DataFrame | None = None, metric: str = "score"
) -> go.Figure:
    """Best score so far against elapsed time and against fits done.

    With a journal the x-axes are real: seconds since the first fit started, and
    fits finished. Without one (a scikit-learn search) candidates are taken in
    ``cv_results_`` order and time is the cumulative fit time.
    """
    if fits is not None and len(fits) and fits["end"].notna().any():
        cand = _candidate_history(fits)
        x_time, x_fits, scores = cand["elapsed"], cand["n_fits"], cand["score"]
        time_title = "seconds since the search started"
    else:
        n_splits = sum(1 for c in results.columns if c.startswith("split") and "_test_" in c)
        n_splits = max(1, n_splits // max(1, _n_metrics(results)))
        scores = results[_score_column(results, metric)].reset_index(drop=True)
        x_fits = pd.Series(np.arange(1, len(results) + 1) * n_splits)
        fit_time = results.get("mean_fit_time", pd.Series(np.zeros(len(results))))
        x_time = pd.Series(np.cumsum(fit_time.to_numpy(dtype=float) * n_splits))
        time_title = "cumulative fit seconds (no journal)"
    best = pd.Series(scores, dtype=float).cummax()
    fig = make_subplots(rows=1, cols=2, subplot_titles=("against time", "against fits done"))
    for col, x in ((1, x_time), (2, x_fits)):
        fig.add_trace(
            go.Scatter(
                x=x, y=scores, mode="markers", name="candidate", showlegend=col == 1,
                marker={"color": "#9aa5b1", "size": 6},
            ),
            row=1, col=col,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=x, y=best, mode="lines", line={"shape": "hv", "color": "#d62728", "width": 3},
                name="best so far", showlegend=col == 1,
            ),
            row=1, col=col,
        )  # fmt: skip
    fig.update_xaxes(title_text=time_title, row=1, col=1)
    fig.update_xaxes(title_text="fits finished", row=1, col=2)
    fig.update_yaxes(title_text=f"mean test {metric}")
    fig.update_layout(title="Optimization history", **_LAYOUT)
    return fig


def _n_metrics(results: pd.DataFrame) -> int:
    return max(1, sum(1 for c in results.columns if c.startswith("mean_test_")))


def _axis_values(values: pd.Series) -> tuple[np.ndarray, dict[str, Any]]:
    """Numbers for a parallel-coordinates axis, with tick labels for categorical values."""
    if _is_numeric(values):
        v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if _log_scale(values):
            return np.log10(v), {"label_suffix": " (log10)"}
        return v, {}
    labels = values.astype(str).fillna("none")
    categories = sorted(labels.unique())
    codes = labels.map({c: i for i, c in enumerate(categories)}).to_numpy(dtype=float)
    return codes, {"tickvals": list(range(len(categories))), "ticktext": categories}


def parallel_coordinates_figure(results: pd.DataFrame, metric: str = "score") -> go.Figure | None:
    """One axis per varying parameter and one for the score; lines coloured by score."""
    params = param_columns(results)
    if not params:
        return None
    score = results[_score_column(results, metric)].to_numpy(dtype=float)
    dims = []
    for c in params:
        values, extra = _axis_values(results[c])
        label = _short(c) + extra.pop("label_suffix", "")
        dims.append({"label": label, "values": values, **extra})
    dims.append({"label": f"mean test {metric}", "values": score})
    fig = go.Figure(
        go.Parcoords(
            line={"color": np.nan_to_num(score, nan=np.nanmin(score) if len(score) else 0),
                  "colorscale": "Viridis", "showscale": True},
            dimensions=dims,
        )
    )  # fmt: skip
    fig.update_layout(title="Parameters and score (parallel coordinates)", **_LAYOUT)
    fig.update_layout(margin={"l": 80, "r": 80, "t": 80, "b": 40})
    return fig


def param_effects_figure(results: pd.DataFrame, metric: str = "score") -> go.Figure | None:
    """Each varying parameter's values against the score: box plots or a scatter."""
    params = param_columns(results)
    if not params:
        return None
    score = results[_score_column(results, metric)]
    fig = make_subplots(rows=1, cols=len(params), shared_yaxes=True,
                        subplot_titles=[_short(c) for c in params])  # fmt: skip
    for i, c in enumerate(params, start=1):
        values = results[c]
        if _is_numeric(values) and values.nunique() > _MAX_CATEGORIES:
            fig.add_trace(go.Scatter(x=values, y=score, mode="markers", showlegend=False,
                                     marker={"color": "#1f77b4"}), row=1, col=i)  # fmt: skip
            if _log_scale(values):
                fig.update_xaxes(type="log", row=1, col=i)
        else:
            labels = values.astype(str).fillna("none")
            fig.add_trace(go.Box(x=labels, y=score, boxpoints="all", jitter=0.3,
                                 showlegend=False, marker={"color": "#1f77b4"}),
                          row=1, col=i)  # fmt: skip
            fig.update_xaxes(type="category", row=1, col=i)
    fig.update_yaxes(title_text=f"mean test {metric}", row=1, col=1)
    fig.update_layout(title="Effect of each parameter on the score", **_LAYOUT)
    return fig


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


def rung_figure(results: pd.DataFrame, metric: str = "score") -> go.Figure | None:
    """Successive halving: each candidate's score per rung, linked across promotions."""
    if "iter" not in results or "n_resources" not in results or results["iter"].nunique() < 2:
        return None
    score = _score_column(results, metric)
    key = "params" if "params" in results else results.index.astype(str)
    fig = go.Figure()
    for _, group in results.groupby(key, sort=False):
        group = group.sort_values("iter")
        promoted = len(group) > 1
        color = "#1f77b4" if promoted else "#9aa5b1"
        fig.add_trace(
            go.Scatter(
                x=group["iter"], y=group[score], mode="lines+markers" if promoted else "markers",
                line={"width": 1.5 if promoted else 0, "color": color},
                marker={"size": 7, "color": color}, showlegend=False,
                hovertext=group.get("params"), hoverinfo="text+y",
            )
        )  # fmt: skip
    rungs = results.groupby("iter")["n_resources"].first()
    counts = results.groupby("iter").size()
    fig.update_xaxes(
        tickvals=list(rungs.index),
        ticktext=[f"rung {i}<br>{rungs[i]} resource<br>{counts[i]} cand." for i in rungs.index],
    )
    fig.update_layout(title="Successive halving: promotions between rungs",
                      yaxis_title=f"mean test {metric}", **_LAYOUT)  # fmt: skip
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

"""The search's own charts, drawn by ``optuna.visualization`` on the run as an Optuna study.

Every run — grid, random, halving or Optuna — becomes a study (:func:`._study.run_study`),
so the history, parallel coordinates, slices, parameter importances and halving rungs are
Optuna's own plotly figures, in the metric's own terms (``RMSPE``, minimised).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go

__all__ = ["STUDY_CHARTS", "study_figure"]

#: (section title, div id, optuna.visualization function name, note), in page order
STUDY_CHARTS: tuple[tuple[str, str, str, str], ...] = (
    ("Optimization history", "history", "plot_optimization_history",
     "Each candidate's score in the order candidates finished, and the best so far."),
    ("Parallel coordinates", "parcoords", "plot_parallel_coordinate", ""),
    ("Parameter slices", "slices", "plot_slice", "Each parameter's values against the score."),
    ("Parameter importances", "importances", "plot_param_importances",
     "Optuna's default importance evaluator on the finished candidates."),
    ("Successive halving", "rungs", "plot_intermediate_values",
     "Each candidate's score per rung (x: resource); lines end where a candidate stopped."),
)  # fmt: skip


def _has_data(fig: go.Figure) -> bool:
    for trace in fig.data:
        if trace.type == "parcoords":
            return bool(trace.dimensions)
        if getattr(trace, "x", None) is not None and len(trace.x):
            return True
    return False


def study_figure(study: Any, function: str, target_name: str = "score") -> go.Figure | None:
    """``optuna.visualization.<function>(study)``, or None when it has nothing to draw."""
    import optuna
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    plot: Callable[..., go.Figure] = getattr(optuna.visualization, function)
    kwargs: dict[str, Any] = {}
    if function == "plot_intermediate_values":
        if not any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
            return None
    elif len(complete) < 2 or not any(t.distributions for t in complete):
        return None  # one finished candidate (a halving top rung) is no chart
    else:
        kwargs["target_name"] = target_name
    with warnings.catch_warnings():
        # Optuna warns (experimental API, too few trials) where we already decided to draw
        warnings.simplefilter("ignore")
        try:
            fig = plot(study, **kwargs)
        except (ValueError, RuntimeError):  # e.g. importances of parameters that never vary
            return None
    if not fig.data or not _has_data(fig):
        return None
    fig.update_layout(template="plotly_white", title=None)
    return fig

"""Holdout scoring: the reference models, RMSPE of every model, and the one table that shows it.

Both ``daskcloud rossmann`` (the main job) and ``daskcloud rossmann baseline`` score
models on the last weeks of train: the median baseline and the default pipeline
(:func:`reference_predictions`), the tuned model (main job only) and, on synthetic
data, the oracle. :func:`holdout_scores` turns predictions into RMSPE and
:func:`holdout_table` renders them, with each model's ratio to the oracle.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from daskcloud.rossmann.baseline import MedianBaseline
from daskcloud.rossmann.metric import rmspe
from daskcloud.rossmann.model import make_pipeline

__all__ = ["MODEL_LABELS", "holdout_scores", "holdout_table", "reference_predictions"]

#: the models of a holdout table, in the order shown
MODEL_LABELS = {
    "baseline": "median baseline (Store, DayOfWeek, Promo)",
    "default": "MLP, default parameters",
    "tuned": "tuned (best of the search)",
    "oracle": "oracle (the generator's truth.csv)",
}


def reference_predictions(
    X_train: Any,
    y_train: Any,
    X_holdout: Any,
    *,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Fit the median baseline and the default pipeline on train; predict the holdout.

    Returns:
        ``({"baseline": ..., "default": ...}, info)`` where ``info`` has the default
        pipeline's ``fit_s``, ``cpu_s`` (both models), ``iterations`` and ``correction``.
    """
    cpu0 = time.process_time()
    baseline = MedianBaseline().fit(X_train, y_train)
    default = make_pipeline(mlp__random_state=seed, **dict(params or {}))
    started = time.perf_counter()
    default.fit(X_train, y_train)
    fit_s = time.perf_counter() - started
    mlp = default.named_steps["mlp"]
    predictions = {"baseline": baseline.predict(X_holdout), "default": default.predict(X_holdout)}
    info = {
        "fit_s": fit_s,
        "cpu_s": time.process_time() - cpu0,
        "iterations": int(mlp.n_iter_),
        "correction": float(mlp.correction_),
    }
    return predictions, info


def holdout_scores(
    y_holdout: Any, predictions: Mapping[str, Any], oracle: Any = None
) -> dict[str, float | None]:
    """RMSPE of every model's predictions, in :data:`MODEL_LABELS` order; ``oracle`` None
    (real data: no truth.csv) scores None."""
    scores: dict[str, float | None] = {
        name: rmspe(y_holdout, predictions[name]) for name in MODEL_LABELS if name in predictions
    }
    scores["oracle"] = None if oracle is None else rmspe(y_holdout, oracle)
    return scores


def holdout_table(scores: Mapping[str, float | None], title: str) -> Any:
    """The scores as a rich Table: model, RMSPE, ratio to the oracle (models without a
    score are left out)."""
    from rich.table import Table

    oracle = scores.get("oracle")
    table = Table(title=title)
    table.add_column("model")
    table.add_column("RMSPE", justify="right")
    table.add_column("x oracle", justify="right")
    for key, label in MODEL_LABELS.items():
        value = scores.get(key)
        if value is None:
            continue
        table.add_row(label, f"{value:.4f}", f"{value / oracle:.2f}" if oracle else "-")
    return table

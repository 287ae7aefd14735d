"""Continue a fitted estimator at a larger resource instead of refitting it (warm start).

With a parameter resource (``"mlp__max_iter"``), successive halving evaluates
the same candidate on the same fold at growing values. When the resource's
owner is the final estimator and it has ``warm_start`` (or ``partial_fit``),
the runner keeps each fold's fitted estimator on a worker and the next rung
trains only the difference. :func:`continuation_mode` decides, once, in the
driver; :func:`continue_fit` runs on the worker.

Modes (what the resource parameter is set to on a continued fit):

``"difference"``
    scikit-learn's iterative models (``MLPRegressor``/``MLPClassifier``, the
    ``SGD*`` family, ``Perceptron``): with ``warm_start=True`` each ``fit``
    runs ``max_iter`` *more* epochs, so it is set to ``new - previous``.
``"total"``
    every other ``warm_start`` estimator: the parameter is the total to reach
    (scikit-learn's ensembles' ``n_estimators``, ``HistGradientBoosting*``'s
    ``max_iter``, daskcloud's ``LogTargetMLP`` and ``EntityEmbeddingRegressor``).
``"partial_fit"``
    no ``warm_start`` but ``partial_fit``: ``new - previous`` calls of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Fitted", "Resume", "continuation_mode", "continue_fit"]

Mode = Literal["difference", "total", "partial_fit"]


@dataclass(frozen=True)
class Resume:
    """Continue a unit's fit from ``previous`` to ``resource`` of parameter ``param``."""

    mode: Mode
    param: str
    previous: int
    resource: int


@dataclass
class Fitted:
    """A fitted estimator kept on a worker: the pipeline from step ``depth`` on (0: all of it)."""

    estimator: Any
    depth: int


def _final(estimator: Any) -> Any:
    while hasattr(estimator, "steps") and estimator.steps:
        estimator = estimator.steps[-1][1]
    return estimator


def _counts_additional(owner: Any) -> bool:
    """True for scikit-learn models whose ``max_iter`` counts epochs per ``fit`` call."""
    from sklearn.linear_model._stochastic_gradient import BaseSGD
    from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron

    return isinstance(owner, BaseSGD | BaseMultilayerPerceptron)


def continuation_mode(estimator: Any, resource: str | None) -> Mode | None:
    """How fits of ``estimator`` can continue along ``resource``; None: refit every rung."""
    if resource in (None, "n_samples"):
        return None
    owner_path, _, _leaf = resource.rpartition("__")
    owner = estimator.get_params(deep=True).get(owner_path) if owner_path else estimator
    if owner is None or owner is not _final(estimator) or not hasattr(owner, "get_params"):
        return None  # a transformer's parameter: its output changes, nothing to continue
    if "warm_start" in owner.get_params(deep=False):
        return "difference" if _counts_additional(owner) else "total"
    if hasattr(owner, "partial_fit"):
        return "partial_fit"
    return None


def continue_fit(estimator: Any, X: Any, y: Any, resume: Resume) -> None:
    """Train the fitted ``estimator`` (a pipeline or a model) on to ``resume.resource``.

    Only the final step trains; earlier steps of the pipeline, already fitted on
    the same rows, just transform.
    """
    final = estimator
    while hasattr(final, "steps") and final.steps:
        if len(final.steps) > 1:
            X = final[:-1].transform(X)
        final = final.steps[-1][1]
    leaf = resume.param.rpartition("__")[2]
    more = resume.resource - resume.previous
    if more <= 0 and resume.mode != "total":
        return  # two rungs with the same value: nothing to add
    if resume.mode == "partial_fit":
        for _ in range(more):
            final.partial_fit(X, y)
        return
    value = more if resume.mode == "difference" else resume.resource
    final.set_params(**{leaf: value, "warm_start": True})
    final.fit(X, y) if y is not None else final.fit(X)
    # the model's parameters then say what it was trained to, as a refit's would
    final.set_params(**{leaf: resume.resource})

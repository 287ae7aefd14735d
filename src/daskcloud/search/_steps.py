"""Fit and apply a slice of a ``Pipeline``'s steps exactly as the whole ``Pipeline`` would.

A shared prefix is steps ``[start, stop)`` of a pipeline fitted on their own; the
rest of the pipeline (its tail) is then fitted on the prefix's output. Every step
must see what it sees inside the whole pipeline, for any pipeline ``GridSearchCV``
runs:

- :func:`fit_steps` fits the prefix as ``Pipeline.fit`` fits its non-final steps
  (``fit_transform``, or ``fit`` then ``transform``; ``None`` and ``"passthrough"``
  skipped; the pipeline's ``memory`` and ``verbose``), by handing them to a
  ``Pipeline`` that ends in ``"passthrough"``;
- :func:`transform_steps` applies the fitted prefix to new data step by step, as
  ``Pipeline.transform`` does, without its fitted check: that check looks only at the
  last step, and a step whose ``fit`` stores nothing (many users' own transformers)
  reads as unfitted although its pipeline fitted it;
- :func:`params_for` gives each part the fit parameters of its own steps:
  ``step__param`` ones without metadata routing, the ones its steps request with it.

Pipelines with ``transform_input`` (metadata transformed by the steps before the one
that takes it) are not split: the runner fits them whole.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sklearn
from sklearn.pipeline import Pipeline

__all__ = ["can_split", "fit_steps", "params_for", "transform_steps"]


def can_split(estimator: Any) -> bool:
    """True for a pipeline whose steps can be fitted in parts (prefix sharing applies)."""
    return (
        isinstance(estimator, Pipeline)
        and len(estimator.steps) >= 2
        and getattr(estimator, "transform_input", None) is None
    )


def params_for(
    part: Any, params: Mapping[str, Any], all_steps: Collection[str], method: str = "fit"
) -> dict[str, Any]:
    """The fit parameters ``part`` (a slice of a pipeline with steps ``all_steps``) takes.

    Without metadata routing, a ``step__param`` of a step outside the slice is left out
    and any other parameter kept (an unknown one then fails as in the whole pipeline);
    with routing, the parameters the slice's steps request for ``method``.
    """
    if not params or not isinstance(part, Pipeline):
        return dict(params)
    if sklearn.get_config().get("enable_metadata_routing", False):
        used = part.get_metadata_routing().consumes(method=method, params=list(params))
        return {k: v for k, v in params.items() if k in used}
    own = {name for name, _ in part.steps}
    return {
        k: v
        for k, v in params.items()
        if k.split("__", 1)[0] in own or k.split("__", 1)[0] not in all_steps
    }


def fit_steps(
    pipeline: Pipeline, start: int, stop: int, X: Any, y: Any, params: Mapping[str, Any]
) -> tuple[Any, list[tuple[str, Any]]]:
    """Fit steps ``[start, stop)`` of ``pipeline`` on ``X, y``: (transformed X, fitted steps)."""
    names = [name for name, _ in pipeline.steps]
    end = next(f"end{i}" for i in range(len(names) + 1) if f"end{i}" not in names)
    part = Pipeline(
        [*pipeline.steps[start:stop], (end, "passthrough")],
        memory=pipeline.memory,
        verbose=pipeline.verbose,
    )
    Xt = part.fit_transform(X, y, **params_for(part, params, names, "fit_transform"))
    return Xt, part.steps[:-1]


def transform_steps(steps: Sequence[tuple[str, Any]], X: Any) -> Any:
    """Apply fitted ``(name, step)`` pairs to ``X`` as ``Pipeline.transform`` does."""
    for _, step in steps:
        if step is not None and not (isinstance(step, str) and step == "passthrough"):
            X = step.transform(X)
    return X

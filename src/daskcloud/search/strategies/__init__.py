"""Search strategies: grid, random (here) and the adaptive ones (halving, Optuna samplers).

See :mod:`daskcloud.search.strategies._base` for the ask/tell protocol every
strategy follows. :func:`resolve_strategy` turns a name or an instance into a
:class:`Strategy`, once, at the entry point.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from daskcloud.exceptions import ConfigError
from daskcloud.search.space import resolve_space
from daskcloud.search.strategies._base import SearchContext, Strategy, Trial, TrialResult
from daskcloud.search.strategies._grid import FixedCandidates, GridStrategy
from daskcloud.search.strategies._halving import Halving
from daskcloud.search.strategies._optuna import OptunaStrategy
from daskcloud.search.strategies._random import RandomStrategy

__all__ = [
    "FixedCandidates",
    "GridStrategy",
    "Halving",
    "OptunaStrategy",
    "RandomStrategy",
    "SearchContext",
    "Strategy",
    "Trial",
    "TrialResult",
    "resolve_strategy",
    "strategy_names",
]

# name -> ("module:Class", fixed constructor options); adaptive ones load lazily (Optuna is heavy).
_REGISTRY: dict[str, tuple[str, Mapping[str, Any]]] = {
    "grid": ("daskcloud.search.strategies._grid:GridStrategy", {}),
    "random": ("daskcloud.search.strategies._random:RandomStrategy", {}),
    "halving": ("daskcloud.search.strategies._halving:Halving", {}),
    **{
        name: ("daskcloud.search.strategies._optuna:OptunaStrategy", {"sampler": name})
        for name in ("tpe", "cmaes", "gp", "qmc", "optuna-random")
    },
}


def strategy_names() -> list[str]:
    """The names :func:`resolve_strategy` accepts."""
    return sorted(_REGISTRY)


def resolve_strategy(
    strategy: str | Strategy,
    space: Any,
    *,
    n_candidates: int | None = None,
    random_state: Any = None,
    **options: Any,
) -> Strategy:
    """Return a :class:`Strategy` for a name (built from ``space``) or the instance itself.

    A named strategy gets the space through :func:`~daskcloud.search.space.resolve_space`, so
    every strategy accepts the same forms: lists, scipy.stats distributions and strings such
    as ``"loguniform(1e-4, 1e-1)"``.
    """
    if isinstance(strategy, Strategy):
        return strategy
    if not isinstance(strategy, str) or strategy not in _REGISTRY:
        raise ConfigError(
            f"unknown strategy {strategy!r}; use one of {', '.join(strategy_names())} "
            "or a daskcloud.search.strategies.Strategy instance"
        )
    target, fixed = _REGISTRY[strategy]
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"strategy {strategy!r} is not available: {e}") from e
    space = resolve_space(space)  # once, for every strategy
    return cls(space, n_candidates=n_candidates, random_state=random_state, **fixed, **options)

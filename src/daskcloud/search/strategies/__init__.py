"""Search strategies: grid, random (here) and the adaptive ones (halving, Optuna samplers).

See :mod:`daskcloud.search.strategies._base` for the ask/tell protocol every
strategy follows. :func:`resolve_strategy` turns a name or an instance into a
:class:`Strategy`, once, at the entry point.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
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
    options: Mapping[str, Any] | None = None,
    **more_options: Any,
) -> Strategy:
    """Return a :class:`Strategy` for a name (built from ``space``) or the instance itself.

    A named strategy gets the space through :func:`~daskcloud.search.space.resolve_space`, so
    every strategy accepts the same forms: lists, scipy.stats distributions and strings such
    as ``"loguniform(1e-4, 1e-1)"``. The strategy's own options come as keywords or as the
    mapping ``options`` (a spec's ``[strategy]`` table, ``DaskSearchCV(strategy_options=)``);
    one the strategy's constructor does not take is a :class:`ConfigError` naming it and the
    valid ones, before anything is built. Options apply to a name only.
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
    options = {**(options or {}), **more_options}
    _check_options(strategy, cls, options)
    space = resolve_space(space)  # once, for every strategy
    # a fixed option is the name's default: tpe with strategy_options={"sampler": a sampler}
    options = {**fixed, **options}
    return cls(space, n_candidates=n_candidates, random_state=random_state, **options)


#: constructor parameters resolve_strategy fills itself: never strategy options
_OWN = ("space", "n_candidates", "random_state")


def _check_options(name: str, cls: type, options: Mapping[str, Any]) -> None:
    """ConfigError (one line) for an option ``cls`` does not take, listing the valid ones."""
    params = inspect.signature(cls).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return  # takes any keyword: its constructor checks them
    keywords = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    valid = [p.name for p in params if p.kind in keywords and p.name not in _OWN]
    for option in options:
        if option in valid:
            continue
        if option in _OWN:
            hint = f" ({option} is a parameter of the search itself, not a strategy option)"
        else:
            close = difflib.get_close_matches(str(option), valid, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
        takes = f"its options are {', '.join(valid)}" if valid else "it takes no options"
        raise ConfigError(f"unknown option {option!r} for strategy {name!r}{hint}; {takes}")

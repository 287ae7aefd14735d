"""What the Rossmann main job searches: the model, its space and the strategy, checked up front.

:func:`plan_search` turns the job's options (``--model``, ``--strategy``, ``--quick``,
``--n-candidates``, a budget) into a frozen :class:`RossmannPlan` before any data are
read or any cluster starts, so a bad option is one line and exit code 2.

By default the job runs successive halving over :func:`default_search_space` (72
candidates) with training epochs of the MLP as the resource (``mlp__max_iter``, each rung
continuing the last one's fit by warm start): ``eta`` 3 and three rungs of 1, 3 and 9 epochs
on the whole training fold. Every candidate is scored after one epoch, within seconds of the
start, and the low rungs rank candidates on all of a fold's rows (a subsample of rows as the
resource ranked them on a few hundred rows, which picked worse models than the default).
``--model embedding`` keeps training rows as the resource (five rungs, 1/81 of a fold up to
all of it); ``--strategy grid`` fits every candidate on every fold instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from daskcloud.exceptions import ConfigError
from daskcloud.jobs._run import SearchOptions
from daskcloud.rossmann.metric import rmspe_scorer
from daskcloud.rossmann.model import default_search_space, make_pipeline
from daskcloud.search._budget import resolve_budget

__all__ = [
    "HALVING_RUNGS",
    "MODELS",
    "QUICK_EMBEDDING_SPACE",
    "QUICK_SPACE",
    "STRATEGIES",
    "RossmannPlan",
    "plan_search",
    "random_space",
]

#: ``--strategy`` names; grid and halving search ``default_search_space()``, random and tpe
#: ``random_space()``
STRATEGIES = ("halving", "grid", "random", "tpe")
_GRID_STRATEGIES = ("grid", "halving")
DEFAULT_STRATEGY = "halving"
#: random/tpe: number of candidates
DEFAULT_N_CANDIDATES = 24
HALVING_ETA = 3
#: halving of the MLP: training epochs (``mlp__max_iter``, continued by warm start) are the
#: resource, from 1 epoch on the whole training fold up to HALVING_MAX_EPOCHS
HALVING_MIN_EPOCHS = 1
HALVING_MAX_EPOCHS = 9
#: halving of the embedding net: rungs from 1/eta**(HALVING_RUNGS - 1) of a training fold
HALVING_RUNGS = 5

#: ``--model`` names: the scikit-learn MLP pipeline, or the PyTorch entity-embedding net
MODELS = ("mlp", "embedding")
#: ``--model embedding`` with random or tpe: candidates drawn from its 16-point grid
_EMBEDDING_N_CANDIDATES = 8

#: ``--quick``: 2 candidates, short training; a smoke test of the whole job
QUICK_SPACE: dict[str, list[Any]] = {
    "features__store_aggregates": [True],
    "mlp__hidden_layer_sizes": [(32,)],
    "mlp__alpha": [1e-4, 1e-2],
    "mlp__max_iter": [8],
}
#: ``--quick --model embedding``: 2 candidates, 2 epochs
QUICK_EMBEDDING_SPACE: dict[str, list[Any]] = {
    "net__hidden_layer_sizes": [(32,)],
    "net__learning_rate_init": [1e-3, 3e-3],
    "net__max_epochs": [2],
}


@dataclass(frozen=True)
class RossmannPlan:
    """The search of one job: estimator, space, CV folds, search options and run name."""

    model: str
    estimator: Any
    space: Mapping[str, Any]
    n_splits: int
    options: SearchOptions
    #: halving's lowest rung is 1/``min_resource_divisor`` of the smallest training fold
    min_resource_divisor: int | None = None

    def strategy_options(self, n_train: int) -> dict[str, Any] | None:
        """Options of the strategy once the smallest training fold's size is known."""
        options = dict(self.options.strategy_options or {})
        if self.min_resource_divisor is not None:
            options["min_resource"] = max(1, n_train // self.min_resource_divisor)
        return options or None


def random_space() -> dict[str, Any]:
    """The default space with alpha and learning rate as log-uniform ranges (random, tpe)."""
    space: dict[str, Any] = dict(default_search_space())
    space["mlp__alpha"] = "loguniform(1e-5, 1e-1)"
    space["mlp__learning_rate_init"] = "loguniform(3e-4, 1e-2)"
    return space


def plan_search(
    *,
    model: str = "mlp",
    strategy: str = DEFAULT_STRATEGY,
    quick: bool = False,
    space: Mapping[str, Any] | None = None,
    n_candidates: int | None = None,
    n_splits: int = 3,
    seed: int = 0,
    budget: Any = None,
) -> RossmannPlan:
    """Check the options and choose estimator, space and strategy; see the module docstring.

    ``quick`` is a smoke test of the whole job: 2 small candidates, 2 folds, whatever
    ``space`` and ``n_splits`` say.

    Raises:
        ConfigError: an unknown model or strategy, or a bad budget.
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    budget = resolve_budget(budget)
    grid_like = strategy in _GRID_STRATEGIES
    if model == "embedding":
        from daskcloud.rossmann.embedding import default_embedding_space, make_embedding_pipeline

        estimator = make_embedding_pipeline()  # ConfigError naming the extra without torch
        default_space, quick_space = default_embedding_space(), QUICK_EMBEDDING_SPACE
        sampled = _EMBEDDING_N_CANDIDATES
    else:
        estimator = make_pipeline()
        default_space = default_search_space() if grid_like else random_space()
        quick_space, sampled = QUICK_SPACE, DEFAULT_N_CANDIDATES
    if quick:
        space, n_splits = quick_space, 2
    elif space is None:
        space = default_space
    if not grid_like and n_candidates is None:
        n_candidates = 2 if quick else sampled
    divisor = None
    strategy_options = None
    if strategy == "halving" and quick:  # 2 candidates make one rung
        strategy_options = {"resource": "n_samples", "eta": HALVING_ETA}
    elif strategy == "halving" and model == "mlp":
        strategy_options = {
            "resource": "mlp__max_iter",
            "min_resource": HALVING_MIN_EPOCHS,
            "max_resource": HALVING_MAX_EPOCHS,
            "eta": HALVING_ETA,
        }
    elif strategy == "halving":  # the embedding net: training rows, five rungs
        strategy_options = {"resource": "n_samples", "eta": HALVING_ETA}
        divisor = HALVING_ETA ** (HALVING_RUNGS - 1)
    options = SearchOptions(
        strategy=strategy,
        strategy_options=strategy_options,
        n_candidates=n_candidates,
        scoring=rmspe_scorer,
        seed=seed,
        budget=budget,
    )
    return RossmannPlan(
        model=model,
        estimator=estimator,
        space=space,
        n_splits=n_splits,
        options=options,
        min_resource_divisor=divisor,
    )

"""One contract every strategy follows (ask/tell); grid and random here, others may join.

Adaptive strategies can reuse ``check_strategy_contract`` from this module.
"""

from __future__ import annotations

import math

import pytest
import scipy.stats as st
from sklearn.model_selection import ParameterGrid, ParameterSampler

from daskcloud.exceptions import ConfigError
from daskcloud.search.strategies import (
    GridStrategy,
    RandomStrategy,
    SearchContext,
    Strategy,
    TrialResult,
    resolve_strategy,
    strategy_names,
)

SPACE = {"alpha": [0.1, 1.0, 10.0], "fit_intercept": [True, False]}
CONTEXT = SearchContext(n_splits=3, n_train=100, n_workers=2, random_state=0)


def drive(strategy: Strategy, n_free: int = 2, max_steps: int = 10_000) -> list:
    """Run the ask/tell loop with a fake objective; return the asked trials in order."""
    strategy.bind(CONTEXT)
    asked, pending = [], []
    for _ in range(max_steps):
        if strategy.is_finished():
            break
        new = strategy.ask(n_free)
        asked.extend(new)
        pending.extend(new)
        if not pending:
            break
        trial = pending.pop(0)
        score = -abs(math.log10(trial.params.get("alpha", 1.0)))
        strategy.tell(TrialResult(trial=trial, score=score))
    return asked


def check_strategy_contract(make: callable) -> None:
    """What every strategy must do, whatever it proposes."""
    asked = drive(make())
    assert asked, "a strategy must propose something"
    ids = [t.id for t in asked]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    keys = {tuple(sorted(t.extra)) for t in asked}
    assert len(keys) == 1, "every trial carries the same extra columns"
    again = drive(make())
    assert [(t.params, t.resource) for t in again] == [(t.params, t.resource) for t in asked]
    one_at_a_time = drive(make(), n_free=1)
    assert [(t.params, t.resource) for t in one_at_a_time] == [
        (t.params, t.resource) for t in asked
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda: GridStrategy(SPACE),
        lambda: RandomStrategy({"alpha": st.loguniform(1e-3, 1e3)}, n_candidates=5, random_state=1),
        lambda: resolve_strategy("random", SPACE, n_candidates=4, random_state=2),
    ],
    ids=["grid", "random", "random-by-name"],
)
def test_contract(make):
    check_strategy_contract(make)


def test_grid_and_random_propose_scikit_learns_candidates():
    assert [t.params for t in drive(GridStrategy(SPACE))] == list(ParameterGrid(SPACE))
    space = {"alpha": st.uniform(0, 1), "k": [1, 2, 3]}
    got = [t.params for t in drive(RandomStrategy(space, n_candidates=6, random_state=7))]
    assert got == list(ParameterSampler(space, n_iter=6, random_state=7))


def test_fixed_candidates_are_asked_all_at_once():
    s = GridStrategy(SPACE)
    s.bind(CONTEXT)
    assert len(s.ask(1)) == 6 and s.ask(5) == [] and not s.is_finished()
    assert s.n_trials_hint() == 6


def test_bad_names_and_options_say_what_to_do():
    with pytest.raises(ConfigError, match=r"unknown strategy 'bogus'.*grid"):
        resolve_strategy("bogus", SPACE)
    with pytest.raises(ConfigError, match="does not apply to strategy='grid'"):
        resolve_strategy("grid", SPACE, n_candidates=3)
    with pytest.raises(ConfigError, match="n_candidates must be a positive integer"):
        RandomStrategy(SPACE, n_candidates=0)
    with pytest.raises(ConfigError, match="invalid grid"):
        GridStrategy({"alpha": 1.0})
    assert {"grid", "random", "halving", "tpe"} <= set(strategy_names())
    instance = GridStrategy(SPACE)
    assert resolve_strategy(instance, None) is instance

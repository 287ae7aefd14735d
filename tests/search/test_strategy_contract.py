"""One contract, every strategy: the ask/tell protocol of ``strategies._base``.

Each strategy is driven by the same small fake runner (``n_workers`` slots,
results told in completion order) on the same space; the checks are the
protocol's promises, not any strategy's particular choices.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from daskcloud.search.space import resolve_space
from daskcloud.search.strategies import (
    SearchContext,
    Strategy,
    TrialResult,
    resolve_strategy,
)

GRID = {"alpha": [1e-3, 1e-2, 1e-1, 1.0], "fit_intercept": [True, False], "tol": [1e-4, 1e-3]}
SPACE = {"alpha": "loguniform(1e-3, 1.0)", "fit_intercept": [True, False], "tol": [1e-4, 1e-3]}

STRATEGIES = {
    "grid": lambda seed: resolve_strategy("grid", GRID, random_state=seed),
    "random": lambda seed: resolve_strategy("random", SPACE, n_candidates=12, random_state=seed),
    "halving": lambda seed: resolve_strategy("halving", GRID, random_state=seed),
    "halving-sampled": lambda seed: resolve_strategy(
        "halving", SPACE, n_candidates=18, random_state=seed, eta=2
    ),
    "halving-max_iter": lambda seed: resolve_strategy(
        "halving", GRID, random_state=seed, resource="max_iter", min_resource=2, max_resource=18
    ),
    "tpe": lambda seed: resolve_strategy("tpe", SPACE, n_candidates=12, random_state=seed),
    "optuna-random": lambda seed: resolve_strategy(
        "optuna-random", SPACE, n_candidates=12, random_state=seed
    ),
    "tpe-halving": lambda seed: resolve_strategy(
        "tpe", SPACE, n_candidates=12, random_state=seed, resource="n_samples"
    ),
}


def score(trial):
    """A deterministic objective of params and resource, higher is better."""
    text = json.dumps(dict(trial.params), sort_keys=True, default=repr)
    noise = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 16**8
    resource = trial.extra.get("n_resources", 1)
    return -abs(np.log10(trial.params["alpha"]) + 1.5) - 0.1 * noise - 1.0 / resource


def drive(strategy, n_workers=2, *, replay=None, cancel_first=0, max_steps=10_000):
    """The fake runner: returns the trials in ask order and the results in tell order.

    ``cancel_first``: the first trials asked are told cancelled (as a budget cancels them).
    """
    strategy.bind(SearchContext(n_splits=3, n_train=900, n_workers=n_workers, random_state=None))
    if replay is not None:
        strategy.replay(replay)
    asked, told, in_flight = [], [], []
    if cancel_first:
        asked = strategy.ask(cancel_first)
        told = [TrialResult(trial=t, score=float("nan"), status="cancelled") for t in asked]
        for result in told:
            strategy.tell(result)
    for _ in range(max_steps):
        if strategy.is_finished():
            break
        free = max(0, n_workers - len(in_flight))
        new = strategy.ask(free)
        assert isinstance(new, list)
        asked += new
        in_flight += new
        assert in_flight, "not finished, nothing running and nothing asked: the search hangs"
        trial = in_flight.pop(0)
        result = TrialResult(trial=trial, score=score(trial))
        strategy.tell(result)
        told.append(result)
    else:
        pytest.fail("the strategy never finished")
    assert not in_flight
    return asked, told


def identity(trial):
    return json.dumps(dict(trial.params), sort_keys=True, default=repr), trial.resource


@pytest.fixture(params=sorted(STRATEGIES))
def make(request):
    return STRATEGIES[request.param]


def test_is_a_strategy_and_finishes(make):
    strategy = make(0)
    assert isinstance(strategy, Strategy)
    asked, told = drive(strategy)
    assert asked and len(told) == len(asked)
    assert strategy.is_finished()
    assert strategy.ask(4) == []  # nothing more once finished


def test_ask_respects_n_unless_it_hands_out_everything(make):
    strategy = make(0)
    strategy.bind(SearchContext(n_splits=3, n_train=900, n_workers=2))
    first = strategy.ask(1)
    assert len(first) >= 1
    if len(first) > 1:  # grid and random may return all their trials at once
        assert strategy.n_trials_hint() == len(first)
    assert strategy.ask(0) == [] or len(first) == 1


def test_ids_are_unique_and_increase_in_ask_order(make):
    asked, _ = drive(make(0))
    ids = [t.id for t in asked]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_never_reasks_a_finished_trial(make):
    asked, _ = drive(make(0), n_workers=3)
    keys = [identity(t) for t in asked]
    assert len(set(keys)) == len(keys)


def test_every_trial_carries_the_same_extra_columns(make):
    asked, _ = drive(make(0))
    assert len({tuple(sorted(t.extra)) for t in asked}) == 1
    strategy = make(0)
    if strategy.resource is None:
        assert all(t.resource is None for t in asked)


@pytest.mark.parametrize("n_workers", [1, 3])
def test_a_seed_gives_the_same_trials(make, n_workers):
    runs = [[identity(t) for t in drive(make(7), n_workers)[0]] for _ in range(2)]
    assert runs[0] == runs[1]


def test_resume_by_replay_asks_only_journaled_trials(make):
    _, told = drive(make(3))
    # the runner replays journaled trials with id -1 and without extra columns
    from daskcloud.search.strategies import Trial

    journal = [
        TrialResult(trial=Trial(-1, r.trial.params, r.trial.resource), score=r.score) for r in told
    ]
    asked, _ = drive(make(3), replay=journal)
    assert {identity(t) for t in asked} <= {identity(r.trial) for r in told}


def test_best_mask_and_hint_have_the_promised_types(make):
    strategy = make(0)
    asked, told = drive(strategy)
    columns = {"mean_test_score": np.array([r.score for r in told])}
    for name in asked[0].extra:
        columns[name] = np.array([t.extra[name] for t in asked])
    mask = strategy.best_mask(columns)
    assert mask is None or (mask.dtype == bool and mask.shape == (len(asked),) and mask.any())
    hint = strategy.n_trials_hint()
    assert hint is None or (isinstance(hint, int) and hint > 0)


def test_cancelled_trials_do_not_block_finishing(make):
    strategy = make(0)
    asked, told = drive(strategy, cancel_first=2)  # fails if the search hangs or never ends
    assert strategy.is_finished()
    assert strategy.ask(2) == []
    assert [r.status for r in told[:2]] == ["cancelled", "cancelled"]
    assert len(told) > 2 or len(asked) == 2  # the rest still ran, unless all was cancelled
    assert len({t.id for t in asked}) == len(asked)  # a cancelled trial is not asked again


def test_random_takes_distribution_strings_like_every_strategy():
    """resolve_strategy resolves the space once: random sees strings as halving and tpe do."""
    from daskcloud.search.strategies import RandomStrategy

    from_strings = resolve_strategy("random", SPACE, n_candidates=12, random_state=0)
    from_objects = RandomStrategy(resolve_space(SPACE), n_candidates=12, random_state=0)
    params = [dict(t.params) for t in drive(from_strings)[0]]
    assert params == [dict(t.params) for t in drive(from_objects)[0]]
    assert len(params) == 12 and len({p["alpha"] for p in params}) == 12
    assert all(1e-3 <= p["alpha"] <= 1.0 for p in params)


def test_grid_takes_numpy_arrays_as_scikit_learn_does():
    strategy = resolve_strategy("grid", {"alpha": np.logspace(-2, 0, 3), "tol": range(1, 3)})
    assert len(drive(strategy)[0]) == 6

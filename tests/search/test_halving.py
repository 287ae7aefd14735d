"""Asynchronous successive halving: promotion rules on a synthetic objective with a known ranking.

No Dask here: a tiny event simulation plays the runner (``n_workers`` slots, a
trial takes time proportional to its resource), so the rules are checked exactly.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest

from daskcloud.exceptions import ConfigError
from daskcloud.search.strategies import SearchContext, Trial, TrialResult, resolve_strategy
from daskcloud.search.strategies._asha import (
    AshaPromotions,
    exhaust_min_resource,
    resource_ladder,
)
from daskcloud.search.strategies._halving import Halving

GRID = {"a": list(range(9)), "b": list(range(9))}  # 81 candidates


def quality(params):
    """Known ranking: best at a=6, b=2; every resource keeps the same order."""
    return -((params["a"] - 6) ** 2) - 0.5 * (params.get("b", 2) - 2) ** 2


def objective(trial, noise=0.0, rng=None):
    resource = trial.extra.get("n_resources", 1)
    score = quality(trial.params) - 10.0 / resource
    if noise:
        score += rng.normal(scale=noise)
    return score


def simulate(strategy, n_workers, *, n_train=810, noise=0.0, seed=0, stop_after=None, log=None):
    """Play the runner: ask on free slots, tell in completion order. Returns told trials."""
    rng = np.random.default_rng(seed)
    if getattr(strategy, "_asha", None) is None:
        strategy.bind(SearchContext(n_splits=3, n_train=n_train, n_workers=n_workers))
    running, told, clock = [], [], 0.0
    while not strategy.is_finished():
        free = n_workers - len(running)
        trials = strategy.ask(free) if free else []
        if log is not None:
            log.append((clock, len(running), free, trials))
        for t in trials:
            cost = t.extra.get("n_resources", 1) * (1 + 0.3 * rng.random())
            heapq.heappush(running, (clock + cost, t.id, t))
        assert running, "nothing runs and nothing to ask, but not finished"
        clock, _, trial = heapq.heappop(running)
        strategy.tell(TrialResult(trial=trial, score=objective(trial, noise, rng)))
        told.append(trial)
        if stop_after is not None and len(told) >= stop_after:
            break
    return told


def test_resource_ladder():
    assert resource_ladder(3, 243, 3) == (3, 9, 27, 81, 243)
    assert resource_ladder(100, 1000, 3) == (111, 333, 1000)
    assert resource_ladder(5, 5, 2) == (5,)
    assert resource_ladder(1, 16, 2) == (1, 2, 4, 8, 16)
    # scikit-learn's 'exhaust': 1 + floor(log_eta(n_candidates)) rungs
    assert exhaust_min_resource(81, 810, 3) == 10
    assert exhaust_min_resource(64, 810, 3) == 30
    assert exhaust_min_resource(1, 810, 3) == 810


@pytest.mark.parametrize(
    ("args", "match"),
    [((10, 5, 3), "min_resource=10 is larger"), ((1, 10, 1), "eta"), ((0, 10, 3), "min_resource")],
)
def test_resource_ladder_errors(args, match):
    with pytest.raises(ConfigError, match=match):
        resource_ladder(*args)


def test_promotion_is_immediate_and_only_from_the_top():
    asha = AshaPromotions(n_rungs=3, eta=3)
    for c, s in [(0, 0.5), (1, 0.9)]:
        asha.start(c, 0)
        asha.record(c, 0, s)
    assert asha.next_promotion() is None  # 2 results: top 1/3 is nobody
    asha.start(2, 0)
    asha.record(2, 0, 0.1)
    assert asha.next_promotion() == (1, 1)  # the best of 3, while rung 0 is far from complete
    asha.start(1, 1)
    assert asha.next_promotion() is None  # one promotion per 3 results
    for c, s in [(3, 0.95), (4, 0.2), (5, 0.3)]:
        asha.start(c, 0)
        asha.record(c, 0, s)
    assert asha.next_promotion() == (3, 1)
    assert asha.is_promotable(3, 0) and not asha.is_promotable(0, 0)


def test_ties_break_by_lower_index_and_nan_ranks_last():
    asha = AshaPromotions(n_rungs=2, eta=2)
    for c, s in [(5, float("nan")), (3, 1.0), (1, 1.0), (4, 0.0)]:
        asha.start(c, 0)
        asha.record(c, 0, s)
    assert asha.next_promotion() == (1, 1)
    asha.start(1, 1)
    assert asha.next_promotion() == (3, 1)
    asha.start(3, 1)
    assert asha.next_promotion() is None


def test_start_rejects_jobs_that_break_the_rules():
    asha = AshaPromotions(n_rungs=2, eta=2)
    asha.start(0, 0)
    with pytest.raises(ValueError, match="already ran"):
        asha.start(0, 0)
    with pytest.raises(ValueError, match="no result on rung 0"):
        asha.start(1, 1)


@pytest.mark.parametrize("n_workers", [1, 4])
def test_known_ranking_best_reaches_the_top_rung(n_workers):
    strategy = Halving(GRID, random_state=0)
    told = simulate(strategy, n_workers)
    assert strategy.ladder == (10, 30, 90, 270, 810)
    assert strategy.best_candidates()[0] == {"a": 6, "b": 2}
    per_rung = np.bincount([t.extra["iter"] for t in told])
    assert per_rung[0] == 81  # every candidate starts
    assert all(per_rung[k + 1] <= per_rung[k] for k in range(len(per_rung) - 1))
    # far cheaper than every candidate at full resource
    spent = sum(t.extra["n_resources"] for t in told)
    assert spent < 0.25 * 81 * 810
    # nothing is evaluated twice on a rung
    assert len({(tuple(t.params.values()), t.extra["iter"]) for t in told}) == len(told)


def test_every_promotion_was_in_the_top_fraction_when_made():
    strategy = Halving(GRID, random_state=1)
    strategy.bind(SearchContext(n_splits=3, n_train=810, n_workers=3))
    asha = strategy.asha
    original_start = asha.start

    def checked_start(candidate, rung):
        if rung > 0:
            scores = asha.scores(rung - 1)
            better = sum(
                1
                for c, s in scores.items()
                if s > scores[candidate] or (s == scores[candidate] and c < candidate)
            )
            assert better < len(scores) // asha.eta, "promoted from outside the top 1/eta"
        original_start(candidate, rung)

    asha.start = checked_start
    simulate(strategy, 3, noise=2.0)
    assert asha.scores(asha.n_rungs - 1)  # someone reached the top rung


def test_asynchronous_no_waiting_for_whole_rounds():
    strategy = Halving(GRID, random_state=0)
    log = []
    told = simulate(strategy, 4, log=log)
    first_promoted = next(i for i, t in enumerate(told) if t.extra["iter"] == 1)
    n_rung0_before = sum(1 for t in told[:first_promoted] if t.extra["iter"] == 0)
    assert n_rung0_before < 20, "the first promotion waited for most of rung 0"
    # a free slot stays empty only when nothing at all can run
    for _, _, free, trials in log:
        if free and len(trials) < free:
            assert not strategy._candidates_left()
            assert strategy.asha.next_promotion() is None


def test_one_worker_and_a_seed_are_deterministic():
    runs = [
        [(t.id, t.params, t.resource) for t in simulate(Halving(GRID, random_state=7), 1)]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    other = [(t.id, t.params, t.resource) for t in simulate(Halving(GRID, random_state=8), 1)]
    assert other != runs[0]


def test_top_rung_uses_the_whole_training_fold():
    strategy = Halving(GRID, random_state=0)
    told = simulate(strategy, 2)
    top = [t for t in told if t.extra["iter"] == len(strategy.ladder) - 1]
    assert top and all(t.resource is None and t.extra["n_resources"] == 810 for t in top)
    assert all(t.resource == t.extra["n_resources"] for t in told if t not in top)


def test_parameter_resource_needs_max_and_sets_it_on_every_rung():
    with pytest.raises(ConfigError, match="needs max_resource"):
        Halving(GRID, resource="est__max_iter").bind(SearchContext(3, 100, 1))
    with pytest.raises(ConfigError, match="also a parameter of the space"):
        Halving(GRID, resource="a", max_resource=9)
    strategy = Halving(
        GRID, resource="est__max_iter", min_resource=3, max_resource=81, random_state=0
    )
    told = simulate(strategy, 2)
    assert strategy.ladder == (3, 9, 27, 81)
    assert {t.resource for t in told} == {3, 9, 27, 81}


def test_n_candidates_samples_the_space():
    strategy = resolve_strategy("halving", {"a": list(range(100))}, n_candidates=27, random_state=3)
    assert isinstance(strategy, Halving) and len(strategy.candidates) == 27
    simulate(strategy, 2, n_train=270)
    assert strategy.ladder == (10, 30, 90, 270)


def test_best_mask_keeps_the_highest_rung_reached():
    strategy = Halving(GRID, random_state=0)
    assert strategy.best_mask({"iter": np.array([0, 0, 1, 2, 2, 1])}).tolist() == [
        False, False, False, True, True, False,
    ]  # fmt: skip


def job(trial):
    return tuple(trial.params.values()), trial.extra["iter"]


def test_replay_rebuilds_the_state_and_never_refits():
    reference = simulate(Halving(GRID, random_state=5), 1)
    part = simulate(Halving(GRID, random_state=5), 1, stop_after=60)
    resumed = Halving(GRID, random_state=5)
    resumed.bind(SearchContext(n_splits=3, n_train=810, n_workers=1))
    # the runner replays journaled trials with id -1 and no extra columns
    journaled = [Trial(-1, t.params, t.resource) for t in part]
    resumed.replay([TrialResult(trial=t, score=objective(u), from_journal=True)
                    for t, u in zip(journaled, part, strict=True)])  # fmt: skip
    rest = simulate(resumed, 1)
    # journaled jobs are asked again first (served from the journal), then new work only
    assert sorted(map(job, rest[: len(part)])) == sorted(map(job, part))
    new = rest[len(part) :]
    assert not {job(t) for t in part} & {job(t) for t in new}
    assert [(t.params, t.resource) for t in new] == [
        (t.params, t.resource) for t in reference[len(part) :]
    ]
    assert resumed.best_candidates()[0] == {"a": 6, "b": 2}


def test_rows_do_not_depend_on_resuming_or_timing():
    """cv_results_ rows by (rung, candidate's place in the grid), not by when they were asked."""
    fresh = Halving(GRID, random_state=5)
    reference = simulate(fresh, 1)
    part = simulate(Halving(GRID, random_state=5), 1, stop_after=60)
    resumed = Halving(GRID, random_state=5)
    resumed.bind(SearchContext(n_splits=3, n_train=810, n_workers=1))
    resumed.replay([TrialResult(trial=Trial(-1, t.params, t.resource), score=objective(t))
                    for t in part])  # fmt: skip
    rest = simulate(resumed, 1)

    def rows(trials, key):
        return [job(t) for t in sorted(trials, key=key)]

    by_id = lambda t: t.id  # noqa: E731
    assert rows(reference, by_id) != rows(rest, by_id)  # ask order differs once resumed
    assert rows(reference, fresh.row_key) == rows(rest, resumed.row_key)
    grid_order = [tuple(c.values()) for c in resumed.candidates]
    ranked = [(rung, grid_order.index(values)) for values, rung in rows(rest, resumed.row_key)]
    assert ranked == sorted(ranked) and len(set(ranked)) == len(ranked)
    # several workers interleave rungs in ask order; the rows stay grouped by rung
    several = Halving(GRID, random_state=5)
    rungs = [t.extra["iter"] for t in sorted(simulate(several, 4), key=several.row_key)]
    assert rungs == sorted(rungs)


def test_cancelled_trials_are_forgotten():
    strategy = Halving({"a": [1, 2, 3]}, random_state=0)
    strategy.bind(SearchContext(n_splits=2, n_train=90, n_workers=3))
    trials = strategy.ask(3)
    for t in trials:
        strategy.tell(TrialResult(trial=t, score=math.nan, status="cancelled"))
    assert not strategy.asha.running
    assert strategy.is_finished()


# -- through DaskSearchCV on the shared LocalCluster --------------------------------------


def test_dask_search_cv_halving_end_to_end(tmp_path, dask_client):
    from sklearn.datasets import make_regression
    from sklearn.linear_model import Ridge

    from daskcloud.search import DaskSearchCV

    X, y = make_regression(n_samples=540, n_features=5, noise=10.0, random_state=0)
    grid = {"alpha": [float(a) for a in np.logspace(-2, 3, 27)]}
    journal = tmp_path / "j.sqlite"
    kw = {"cv": 3, "client": dask_client, "progress": False, "journal": journal}
    halving = DaskSearchCV(Ridge(), grid, strategy="halving", random_state=0, **kw).fit(X, y)
    results = halving.cv_results_
    assert {"iter", "n_resources"} <= set(results)
    rungs = np.asarray(results["iter"])
    assert (rungs == 0).sum() == 27 and rungs.max() == 3
    assert sorted(set(results["n_resources"])) == [13, 40, 120, 360]
    assert rungs[halving.best_index_] == 3  # best_* come from the top rung
    # rows by rung, then by the candidate's place in the grid, as HalvingGridSearchCV's
    places = [grid["alpha"].index(p["alpha"]) for p in results["params"]]
    order = list(zip(rungs.tolist(), places, strict=True))
    assert order == sorted(order)
    # the top rung fits the whole training folds: a grid over the same journal reuses them
    full = DaskSearchCV(Ridge(), grid, **kw).fit(X, y)
    assert halving.best_score_ >= full.best_score_ - 1e-3  # as good as the grid's best
    n_top = int((rungs == 3).sum())
    assert full.search_stats_["n_fits_skipped"] == 3 * n_top
    top = rungs == 3
    for params, score in zip(np.asarray(results["params"])[top],
                             np.asarray(results["mean_test_score"])[top], strict=True):  # fmt: skip
        i = full.cv_results_["params"].index(params)
        assert full.cv_results_["mean_test_score"][i] == score

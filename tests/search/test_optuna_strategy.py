"""Optuna samplers behind the ask/tell protocol (no Dask: the test plays the runner)."""

from __future__ import annotations

import math
import sys

import optuna
import pytest
from optuna.trial import TrialState

from daskcloud.exceptions import ConfigError
from daskcloud.search.strategies import SearchContext, TrialResult, resolve_strategy
from daskcloud.search.strategies._optuna import OptunaStrategy, make_sampler

SPACE = {
    "x": "uniform(-3, 3)",
    "lr": "loguniform(1e-4, 1e-1)",
    "n": "randint(1, 4)",
    "layers": [(8,), (16, 8)],
}


def score_of(params):
    return (
        -((params.get("x", 1) - 1) ** 2)
        - 0.1 * params.get("n", 0)
        - 0.01 * len(params.get("layers", ()))
    )


def run(strategy, n_workers=1, *, n_train=900, results=None, stop_after=None):
    """Play the runner with ``n_workers`` slots; completion order = ask order."""
    if getattr(strategy, "_asha", None) is None:
        strategy.bind(SearchContext(n_splits=3, n_train=n_train, n_workers=n_workers))
    told = [] if results is None else results
    in_flight = []
    while not strategy.is_finished():
        in_flight += strategy.ask(n_workers - len(in_flight))
        trial = in_flight.pop(0)
        score = score_of(trial.params) - 1.0 / trial.extra.get("n_resources", 1)
        strategy.tell(TrialResult(trial=trial, score=score))
        told.append((trial, score))
        if stop_after is not None and len(told) >= stop_after:
            break
    return told


@pytest.mark.parametrize("name", ["tpe", "cmaes", "qmc", "optuna-random", "gp"])
def test_every_sampler_by_name_is_seeded(name):
    runs = []
    for _ in range(2):
        strategy = resolve_strategy(name, SPACE, n_candidates=12, random_state=3)
        told = run(strategy, n_workers=1)
        assert len(told) == 12
        runs.append([t.params for t, _ in told])
    assert runs[0] == runs[1]
    assert all(p["layers"] in [(8,), (16, 8)] for p in runs[0])  # decoded back to tuples
    assert all(1 <= p["n"] <= 4 and 1e-4 <= p["lr"] <= 1e-1 for p in runs[0])


def test_tpe_keeps_trials_in_flight_and_they_differ():
    strategy = resolve_strategy("tpe", SPACE, n_candidates=30, random_state=0)
    strategy.bind(SearchContext(n_splits=3, n_train=900, n_workers=4))
    first = strategy.ask(4)
    assert len(first) == 4
    assert len({t.params["x"] for t in first}) == 4
    assert strategy.ask(0) == []


def test_tpe_beats_its_random_startup():
    strategy = resolve_strategy("tpe", {"x": "uniform(-10, 10)"}, n_candidates=40, random_state=0)
    told = run(strategy, n_workers=2)
    best = max(score for _, score in told)
    assert best > -1.1  # x within ~0.3 of the optimum (1.0 is the resource offset)
    assert strategy.study.best_value == pytest.approx(best)
    assert [t.id for t, _ in told] == sorted(t.id for t, _ in told)


def test_failed_trials_are_failed_in_the_study():
    strategy = OptunaStrategy({"x": "uniform(0, 1)"}, n_candidates=3, random_state=0)
    strategy.bind(SearchContext(n_splits=2, n_train=10, n_workers=3))
    for t in strategy.ask(3):
        strategy.tell(TrialResult(trial=t, score=math.nan, status="error"))
    assert {t.state for t in strategy.study.trials} == {TrialState.FAIL}
    assert strategy.is_finished()


def test_with_a_resource_trials_are_promoted_by_halving():
    strategy = resolve_strategy(
        "tpe", SPACE, n_candidates=27, random_state=0, resource="n_samples", eta=3
    )
    told = run(strategy, n_workers=3)
    assert strategy.ladder == (33, 100, 300, 900)
    rungs = [t.extra["iter"] for t, _ in told]
    assert rungs.count(0) == 27 and 0 < rungs.count(3) < 27
    states = [t.state for t in strategy.study.trials]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    complete = [t for t in strategy.study.trials if t.state == TrialState.COMPLETE]
    top_scores = [s for t, s in told if t.extra["iter"] == 3]
    assert strategy.study.best_value == pytest.approx(max(top_scores))
    assert len(complete) == rungs.count(3)
    pruned = [t for t in strategy.study.trials if t.state == TrialState.PRUNED]
    assert all(t.intermediate_values for t in pruned)


@pytest.mark.parametrize("resource", [None, "n_samples"])
def test_replay_into_the_study_and_never_reask(resource):
    options = {"resource": resource} if resource else {}
    first = resolve_strategy("tpe", SPACE, n_candidates=20, random_state=1, **options)
    part = run(first, n_workers=2, stop_after=11)
    resumed = resolve_strategy("tpe", SPACE, n_candidates=20, random_state=1, **options)
    resumed.bind(SearchContext(n_splits=3, n_train=900, n_workers=2))
    resumed.replay([TrialResult(trial=t, score=s, from_journal=True) for t, s in part[:10]])
    replayed = {t.params["x"] for t, _ in part[:10]}
    assert {t.params["x"] for t in resumed.study.trials} == replayed
    finished = [t for t in resumed.study.trials if t.state != TrialState.RUNNING]
    assert len(finished) == len(replayed)
    n_study = len(resumed.study.trials)
    rest = run(resumed, n_workers=2)
    done = {(t.params["x"], t.extra.get("iter")) for t, _ in part[:10]}
    # journaled trials come back first (the runner serves them unfitted), then new work
    assert {(t.params["x"], t.extra.get("iter")) for t, _ in rest[:10]} == done
    assert not done & {(t.params["x"], t.extra.get("iter")) for t, _ in rest[10:]}
    n_candidates = len({t.params["x"] for t, _ in part[:10] + rest})
    assert n_candidates == 20
    # served trials are not added to the study a second time (with a resource, a candidate
    # promoted after its Optuna trial was pruned adds one COMPLETE trial at the top rung)
    top = len(resumed.ladder) - 1
    n_late = sum(1 for t, _ in rest[10:] if t.extra.get("iter") == top) if resource else 0
    expected = n_study + 20 - len(replayed)
    assert expected <= len(resumed.study.trials) <= expected + n_late


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="unknown Optuna sampler 'nope'"):
        make_sampler("nope", 0)
    with pytest.raises(ConfigError, match="single table"):
        OptunaStrategy([{"x": [1]}, {"y": [2]}])
    with pytest.raises(ConfigError, match="n_candidates"):
        OptunaStrategy({"x": [1, 2]}, n_candidates=0)
    with pytest.raises(ConfigError, match="unknown strategy"):
        resolve_strategy("hyperopt", {"x": [1]})


def test_cmaes_without_its_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cmaes", None)  # import cmaes now fails as if absent
    with pytest.raises(ConfigError, match=r"pip install 'daskcloud\[cmaes\]'"):
        make_sampler("cmaes", 0)


def test_a_sampler_instance_is_used_as_is():
    sampler = optuna.samplers.RandomSampler(seed=0)
    strategy = OptunaStrategy({"x": [1, 2, 3]}, sampler=sampler, n_candidates=3)
    assert strategy.study.sampler is sampler


def test_a_small_space_is_used_up_without_refitting_duplicates():
    strategy = resolve_strategy("tpe", {"k": [1, 2, 3]}, n_candidates=10, random_state=0)
    told = run(strategy, n_workers=2)
    assert sorted(t.params["k"] for t, _ in told) == [1, 2, 3]
    assert strategy.is_finished()


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_named_storage_holds_the_study_and_resume_adds_nothing_twice(tmp_path, kind):
    from daskcloud.search.strategies._optuna import open_storage

    url = (
        f"sqlite:///{tmp_path}/study.db" if kind == "sqlite" else f"journal://{tmp_path}/study.log"
    )
    options = {"storage": url, "study_name": "hpo"}
    first = resolve_strategy("tpe", SPACE, n_candidates=12, random_state=1, **options)
    part = run(first, n_workers=2, stop_after=7)  # one trial is left in flight
    # read back by Optuna itself, from the storage alone
    stored = optuna.load_study(study_name="hpo", storage=open_storage(url))
    states = [t.state for t in stored.trials]
    assert states.count(TrialState.COMPLETE) == 7 and states.count(TrialState.RUNNING) == 1
    assert stored.best_value == pytest.approx(max(s for _, s in part))

    resumed = resolve_strategy("tpe", SPACE, n_candidates=12, random_state=1, **options)
    resumed.bind(SearchContext(n_splits=3, n_train=900, n_workers=2))
    resumed.replay([TrialResult(trial=t, score=s, from_journal=True) for t, s in part])
    run(resumed, n_workers=2)
    study = optuna.load_study(study_name="hpo", storage=open_storage(url))
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 12  # the 7 journaled trials were not added a second time
    assert len({t.params["x"] for t in complete}) == 12
    assert [t.state for t in study.trials].count(TrialState.FAIL) == 1  # the stale RUNNING one
    assert TrialState.RUNNING not in [t.state for t in study.trials]
    # and Optuna can continue it
    study.optimize(lambda t: -((t.suggest_float("x", -3, 3) - 1) ** 2), n_trials=2)
    assert len(study.trials) == 15


def test_an_unusable_storage_is_a_config_error(tmp_path):
    from daskcloud.search.strategies._optuna import open_storage

    with pytest.raises(ConfigError, match="cannot open the Optuna storage 'nosuchdb://x'"):
        open_storage("nosuchdb://x")
    with pytest.raises(ConfigError, match="is not an Optuna storage"):
        open_storage(42)

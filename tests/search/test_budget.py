"""Budget: a pure 'should we stop, and why' object (the runner's use is tested with the engine)."""

from __future__ import annotations

import time

import pytest

from daskcloud.exceptions import ConfigError, SearchError
from daskcloud.search._budget import Budget, StopReason, Usage, resolve_budget


def test_unlimited_budget_never_stops():
    budget = Budget()
    assert not budget.limited
    assert budget.exceeded(Usage(n_trials=10**6, elapsed_s=1e9, cpu_s=1e9)) is None
    assert budget.describe(Usage()) == ""
    assert budget.seconds_left(5.0) is None


@pytest.mark.parametrize(
    ("budget", "usage", "name", "used"),
    [
        (Budget(max_trials=4), Usage(n_trials=4), "max_trials", 4.0),
        (Budget(max_time=10), Usage(elapsed_s=10.5), "max_time", 10.5),
        (Budget(max_cpu_hours=0.5), Usage(cpu_s=1800), "max_cpu_hours", 0.5),
        (Budget(max_cost=2.0, price_per_hour=4.0), Usage(elapsed_s=1800), "max_cost", 2.0),
    ],
)
def test_each_budget_stops_and_says_which(budget, usage, name, used):
    reason = budget.exceeded(usage)
    assert reason == StopReason(name, getattr(budget, name), used)
    assert name in reason.message
    assert reason.to_dict()["budget"] == name


def test_below_every_limit_does_not_stop():
    budget = Budget(max_trials=4, max_time=10, max_cpu_hours=1, max_cost=1, price_per_hour=1)
    assert budget.exceeded(Usage(n_trials=3, elapsed_s=9, cpu_s=3599)) is None
    assert budget.used(Usage(n_trials=2, elapsed_s=5, cpu_s=0)) == {
        "max_trials": 2.0,
        "max_time": 5.0,
        "max_cpu_hours": 0.0,
        "max_cost": pytest.approx(5 / 3600),
    }


def test_local_cluster_costs_nothing():
    budget = Budget(max_cost=0.01).with_price(None)
    assert budget.price_per_hour == 0
    assert budget.exceeded(Usage(elapsed_s=1e7)) is None
    assert budget.with_price(36.0).exceeded(Usage(elapsed_s=1.0)).budget == "max_cost"


def test_time_left():
    budget = Budget(max_trials=5, max_time=60, max_cost=1.0, price_per_hour=120.0)
    assert budget.seconds_left(10) == pytest.approx(20.0)  # cost runs out at 30 s
    assert "max_time 10/60 s" in budget.describe(Usage(elapsed_s=10))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_trials": 0},
        {"max_trials": 2.5},
        {"max_trials": True},
        {"max_time": -1},
        {"max_cpu_hours": float("nan")},
        {"max_cost": "10"},
        {"price_per_hour": -1},
    ],
)
def test_bad_values_are_config_errors(kwargs):
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        Budget(**kwargs)


def test_resolve_budget_forms():
    assert resolve_budget(None) == Budget()
    assert resolve_budget({"max_time": 5}) == Budget(max_time=5)
    assert resolve_budget(Budget(max_trials=3), max_time=2) == Budget(max_trials=3, max_time=2)
    assert resolve_budget(None, max_time=None) == Budget()
    with pytest.raises(ConfigError, match="unknown budget key 'max_hours'"):
        resolve_budget({"max_hours": 1})
    with pytest.raises(ConfigError, match="Budget or a mapping"):
        resolve_budget(5)


# -- every budget stops a real search on the shared LocalCluster and is reported -------------


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import make_regression

    return make_regression(n_samples=60, n_features=4, noise=1.0, random_state=1)


def _search(client, budget, *, delay=0.0, strategy="grid", **kwargs):
    from _engine_estimators import SlowRidge

    from daskcloud.search import DaskSearchCV

    space = {"alpha": [float(a) for a in range(1, 21)]}
    return DaskSearchCV(
        SlowRidge(delay=delay), space, cv=2, strategy=strategy, client=client, budget=budget,
        refit=False, **{"progress": False, **kwargs},
    )  # fmt: skip


def test_max_trials_stops_the_search(data, dask_client):
    search = _search(dask_client, {"max_trials": 5}, strategy="tpe", n_candidates=20)
    search.fit(*data)
    assert "max_trials=5" in search.stop_reason_
    assert search.search_stats_["stop_reason"] == search.stop_reason_
    assert 5 <= len(search.cv_results_["params"]) < 20


def test_max_time_cancels_fits_in_flight_and_journals_them(tmp_path, data, dask_client):
    from daskcloud.search import Journal

    journal = tmp_path / "j.sqlite"
    search = _search(dask_client, Budget(max_time=1.5), delay=0.4, journal=journal)
    search.fit(*data)
    assert "max_time=1.5" in search.stop_reason_
    assert 0 < len(search.cv_results_["params"]) < 20
    with Journal(journal) as j:
        rows = j.read(include_cancelled=True)
    assert any(r.status == "cancelled" for r in rows)
    assert all(r.status in ("ok", "cancelled") for r in rows)


def test_max_time_wakes_up_while_every_fit_still_runs(data, dask_client):
    with pytest.raises(SearchError, match=r"no candidate finished.*max_time=0\.3"):
        _search(dask_client, {"max_time": 0.3}, delay=30.0).fit(*data)
    # the search ended while its 30 s fits still ran: it did not wait for a result
    running = dask_client.run(lambda dask_worker: len(dask_worker.state.executing))
    assert sum(running.values()) > 0
    dask_client.restart()  # the cancelled fits cannot be interrupted: free the workers


def test_max_cpu_hours_stops_the_search(data, dask_client):
    full = _search(dask_client, None)
    full.fit(*data)
    half = full.search_stats_["fit_cpu_s"] / 2 / 3600
    search = _search(dask_client, {"max_cpu_hours": half})
    search.fit(*data)
    assert "max_cpu_hours" in search.stop_reason_
    assert 0 < len(search.cv_results_["params"]) < 20


def test_max_cost_stops_at_the_cluster_price(data, dask_client):
    # 3600 per hour = 1 per second: a cost of 1 is one second of cluster time
    # 3 s: room for a candidate to finish on loaded machines, less than the 6 s all need
    search = _search(dask_client, Budget(max_cost=3.0, price_per_hour=3600.0), delay=0.3)
    search.fit(*data)
    assert "max_cost=3" in search.stop_reason_
    assert len(search.cv_results_["params"]) < 20


def test_no_budget_runs_everything_and_says_nothing(data, dask_client):
    search = _search(dask_client, None)
    search.fit(*data)
    assert search.stop_reason_ is None
    assert len(search.cv_results_["params"]) == 20


def test_progress_lines_show_the_budget_used(capsys, data, dask_client):
    _search(dask_client, {"max_trials": 50}, progress="log").fit(*data)
    assert "budget: max_trials" in capsys.readouterr().out


def test_budget_time_is_monotonic_whatever_the_wall_clock_does():
    from types import SimpleNamespace

    from daskcloud.search._budget import BudgetStop

    ticks = iter([100.0, 104.0, 112.0])
    stop = BudgetStop(Budget(max_time=10), clock=lambda: next(ticks))
    stats = SimpleNamespace(n_trials_done=1, fit_cpu_s=0.0, elapsed=2.0)
    assert stop(stats) is None  # anchored: 2 s used at monotonic 100
    stats.elapsed = -3600.0  # the wall clock jumped back an hour
    assert stop.seconds_left(stats) == pytest.approx(4.0)  # 104 - 98 = 6 s used
    stats.elapsed = 1e6  # ... and forward
    assert stop(stats) == "stopped by the budget max_time=10 (used 14 s)"


def test_a_budget_leaves_complete_candidates_even_with_a_shared_prefix(data, dask_client):
    """Without a budget the fits of a shared prefix run fold by fold; under one they run
    candidate by candidate, so a stop part-way still leaves whole candidates to choose from."""
    from _engine_estimators import SlowRidge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from daskcloud.search import DaskSearchCV

    pipe = Pipeline([("scale", StandardScaler()), ("ridge", SlowRidge(delay=0.1))])
    space = {"ridge__alpha": [float(a) for a in range(1, 21)]}
    search = DaskSearchCV(
        pipe, space, cv=4, client=dask_client, budget={"max_time": 2.0}, refit=False,
        progress=False,
    )  # fmt: skip
    search.fit(*data)
    assert "max_time=2" in search.stop_reason_
    assert 0 < len(search.cv_results_["params"]) < 20
    time.sleep(0.5)  # let cancelled fits end before the next test uses the workers


def test_max_trials_keeps_exactly_that_many_trials_even_for_tiny_batched_fits(data, dask_client):
    # millisecond fits are batched; a batch must not finish a fourth trial with the third
    search = _search(dask_client, {"max_trials": 3})
    search.fit(*data)
    assert "max_trials=3" in search.stop_reason_
    assert len(search.cv_results_["params"]) == 3

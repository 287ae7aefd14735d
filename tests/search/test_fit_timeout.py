"""A fit hung past ``fit_timeout``: scored error_score, its worker restarted, the search goes on."""

from __future__ import annotations

import json
import sqlite3
import uuid

import dask
import numpy as np
import pytest
from _engine_estimators import SlowRidge, StepRidge
from sklearn.datasets import make_regression
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV

from daskcloud.exceptions import ConfigError
from daskcloud.search import DaskSearchCV

# a fit that would hold its thread for ten minutes: only giving it up ends the search
HANG = 600.0


def _search(client, journal, **kw):
    # the hung candidate first (a running cluster: no dry fit on the client)
    grid = [{"alpha": [5.0], "delay": [HANG]}, {"alpha": [0.1, 1.0, 10.0]}]
    return DaskSearchCV(SlowRidge(), grid, cv=2, fit_timeout="2s", client=client,
                        journal=journal, progress=False, **kw)  # fmt: skip


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_a_hung_fit_is_given_up_and_its_worker_restarted(tmp_path, dask_client):
    X, y = make_regression(n_samples=60, n_features=4, noise=1.0, random_state=0)
    journal = tmp_path / "journal.sqlite"
    client = dask_client  # a LocalCluster of 2 worker processes, each with a nanny
    before = set(client.scheduler_info()["workers"])
    with pytest.warns(FitFailedWarning):
        search = _search(client, journal).fit(X, y)
    after = set(client.scheduler_info()["workers"])
    # every worker runs a task again: no thread is held by the abandoned fit
    for address in after:
        assert client.submit(sum, [1, 2], workers=[address], pure=False).result(60) == 3
    assert after != before and len(after) == 2  # a worker was restarted (a new address)
    with sqlite3.connect(journal) as db:
        rows = db.execute("SELECT params, status, error FROM fits").fetchall()
    hung = [(status, error) for params, status, error in rows if '"delay"' in params]
    assert len(hung) == 2 and all(status == "error" for status, _ in hung)
    assert all("FitTimeout: fit_timeout=2s" in error for _, error in hung)
    assert sorted(status for _, status, _ in rows) == ["error"] * 2 + ["ok"] * 6
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[0]) and not np.isnan(scores[1:]).any()
    theirs = GridSearchCV(SlowRidge(), {"alpha": [0.1, 1.0, 10.0]}, cv=2).fit(X, y)
    np.testing.assert_array_equal(scores[1:], theirs.cv_results_["mean_test_score"])
    assert search.best_params_ == theirs.best_params_


@pytest.mark.parametrize("value", [0, -1, "soon", float("nan")])
def test_a_bad_fit_timeout_is_one_line_before_any_cluster(value):
    X, y = make_regression(n_samples=20, n_features=2, random_state=0)

    def no_cluster():
        pytest.fail("no cluster may start")

    search = DaskSearchCV(SlowRidge(), {"alpha": [1.0]}, cv=2, fit_timeout=value,
                          client=no_cluster, progress=False)  # fmt: skip
    with pytest.raises(ConfigError, match="fit_timeout"):
        search.fit(X, y)


@pytest.mark.slow  # a cluster of its own whose workers all hang and come back: 20-45 s
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_the_embedded_cluster_without_nannies_gets_its_workers_back():
    # every worker gets a hung fit first: only ending their processes (no nanny to restart
    # them; the embedded cluster starts them again) lets the other fits run at all
    X, y = make_regression(n_samples=60, n_features=4, noise=1.0, random_state=0)
    grid = {"delay": [HANG, 0.0], "alpha": [0.1, 1.0]}
    with pytest.warns(FitFailedWarning):
        search = DaskSearchCV(SlowRidge(), grid, cv=2, fit_timeout="2s", client=None,
                              progress=False).fit(X, y)  # fmt: skip
    hung = [p["delay"] == HANG for p in search.cv_results_["params"]]
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[hung]).all() and not np.isnan(scores[~np.array(hung)]).any()
    assert search.search_stats_["n_fits_failed"] == 4


# halving along max_iter (rungs 3, 9, 27) of a warm-startable model; the best candidate
# (the smallest alpha) is promoted and hangs on rung 1, the others continue their fits
WARM_ALPHAS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 2.0, 4.0]
WARM_OPTIONS = {"resource": "max_iter", "min_resource": 3, "max_resource": 27}


@pytest.fixture
def own_client():
    """A LocalCluster of 2 worker processes with nannies, for this test alone.

    LocalCluster closes a worker's nanny for good when, ``lost-worker-timeout`` after the
    worker left, no worker of its name is registered -- counted from *any* earlier removal,
    so a restart running at that moment loses the worker (seen when another test restarted
    the shared cluster's workers a few seconds before this one did).
    """
    from distributed import Client, LocalCluster

    with (
        dask.config.set({"distributed.deploy.lost-worker-timeout": "300s"}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,  # fmt: skip
        Client(cluster) as client,
    ):
        yield client


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_a_fit_hung_on_a_later_rung_is_given_up_and_warm_start_goes_on(tmp_path, own_client):
    X, y = make_regression(n_samples=60, n_features=4, noise=1.0, random_state=0)
    journal, log = tmp_path / "journal.sqlite", tmp_path / "fits.log"
    client = own_client  # a running cluster: no dry fit on the client
    hang = WARM_ALPHAS[0]
    model = StepRidge(hang_alpha=hang, hang_above=3, hang_s=HANG, path=str(log))
    with pytest.warns(FitFailedWarning):
        search = DaskSearchCV(model, {"alpha": WARM_ALPHAS}, strategy="halving", cv=2,
                              fit_timeout="2s", client=client, journal=journal,
                              progress=False, random_state=0, refit=False,
                              strategy_options=WARM_OPTIONS).fit(X, y)  # fmt: skip
    # every worker runs a task again: no thread is held by the abandoned fit
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    for address in workers:
        assert client.submit(sum, [1, 2], workers=[address], pure=False).result(60) == 3

    # the hung candidate's two folds on rung 1 were given up, journaled FitTimeout
    with sqlite3.connect(journal) as db:
        rows = db.execute("SELECT params, resource, status, error FROM fits").fetchall()
    failed = [(json.loads(p)["alpha"], r, e) for p, r, s, e in rows if s != "ok"]
    assert [(a, r) for a, r, _ in failed] == [(hang, 9)] * 2
    assert all("FitTimeout: fit_timeout=2s" in e for _, _, e in failed)
    assert search.search_stats_["n_fits_failed"] == 2

    # the other promoted candidates continued their fitted models rung after rung
    assert search.search_stats_["n_fits_continued"] > 0
    fits = [line.split() for line in log.read_text().splitlines()]
    assert any(int(before) > 0 for _, before, _, _ in fits)
    assert not any(float(a) == hang and int(after) > 3 for a, _, after, _ in fits)

    # halving's shape (asynchronous: how many are promoted depends on the order results
    # come in), and every score equals a fresh fit's (GridSearchCV's)
    res = search.cv_results_
    scores, hung = res["mean_test_score"], np.array([p["alpha"] == hang for p in res["params"]])
    at = np.array(res["n_resources"])
    assert (at == 3).sum() == 9 and (at == 27).any()
    assert sorted(at[hung]) == [3, 9] and np.isnan(scores[hung & (at == 9)]).all()
    done = ~(hung & (at == 9))
    assert not np.isnan(scores[done]).any()
    grid = [
        {"alpha": [p["alpha"]], "max_iter": [int(n)]}
        for p, n in zip(np.array(res["params"])[done], at[done], strict=True)
    ]
    theirs = GridSearchCV(StepRidge(), grid, cv=2).fit(X, y).cv_results_["mean_test_score"]
    np.testing.assert_array_equal(scores[done], theirs)


def test_a_fit_done_in_time_is_not_late_while_the_task_after_it_waits(dask_client):
    """With warm start the runner waits on a small task after the fit, which may queue
    behind another fit on that worker's thread: the deadline is the fit's, not that task's."""
    from distributed import Event

    from daskcloud.search._deadline import Deadlines

    release = f"release-{uuid.uuid4()}"

    def fit(wait):  # announces its start as a fit does; returns when released, or at once
        from distributed import Event

        from daskcloud.search._deadline import announce_start

        announce_start()
        return Event(wait).wait(60) if wait else True

    def result_of(fitted, wait):  # what the runner waits on: queued behind a hung fit
        from distributed import Event

        return Event(wait).wait(60) and fitted

    client = dask_client
    deadlines = Deadlines(client, 0.2)
    try:
        fitting = client.submit(fit, None, pure=False)
        waited_on = client.submit(result_of, fitting, release, pure=False)
        deadlines.watch(waited_on, fitting)
        assert fitting.result(60)
        hung = client.submit(fit, release, pure=False)  # starts after `fitting` ended
        deadlines.watch(hung)
        late: list = []
        for _ in range(600):  # until the later fit is past its deadline (0.1 s a look)
            late = deadlines.expired()
            if late:
                break
            Event(release).wait(0.1)  # not set yet: a pause
        assert [future for future, _ in late] == [hung]
        assert not waited_on.done()  # still waiting, yet its fit was in time
    finally:
        Event(release, client=client).set()
        deadlines.close()
    assert waited_on.result(60) and hung.result(60)

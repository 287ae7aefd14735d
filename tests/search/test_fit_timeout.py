"""A fit hung past ``fit_timeout``: scored error_score, its worker restarted, the search goes on."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from _engine_estimators import SlowRidge
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

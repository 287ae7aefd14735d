"""Execution on a real cluster: prefix sharing, data placement, batching, failures, threads."""

from __future__ import annotations

import gc
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from _engine_estimators import CountingScaler, FailingRidge, ThreadProbe, count_lines
from sklearn.datasets import make_regression
from sklearn.dummy import DummyRegressor
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from daskcloud.exceptions import SearchError
from daskcloud.search import DaskSearchCV, Journal


@pytest.fixture(scope="module")
def data():
    return make_regression(n_samples=60, n_features=4, noise=1.0, random_state=1)


def test_shared_prefix_is_fitted_once_per_fold_and_setting(tmp_path, data, dask_client):
    X, y = data
    counts = str(tmp_path / "fits.txt")
    pipe = Pipeline([("count", CountingScaler(path=counts)), ("ridge", Ridge())])
    grid = {"count__scale": [0.5, 1.0, 2.0, 4.0], "ridge__alpha": [0.01, 0.1, 1.0, 10.0, 100.0]}
    search = DaskSearchCV(pipe, grid, cv=3, refit=False, client=dask_client, progress=False)
    search.fit(X, y)
    # 4 settings x 3 folds, not 60 (a running cluster: no dry fit on the client)
    assert count_lines(counts) == 12
    assert search.search_stats_["n_prefix_fits"] == 12
    assert search.search_stats_["n_fits"] == 60

    sk_counts = tmp_path / "sk.txt"
    sk = GridSearchCV(pipe.set_params(count__path=str(sk_counts)), grid, cv=3, refit=False)
    sk.fit(X, y)
    assert count_lines(sk_counts) == 60
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], sk.cv_results_["mean_test_score"]
    )


class CountedArray(np.ndarray):
    """An array that appends a line to a file each time it is unpickled."""

    def __reduce__(self):
        return (_restore, (np.asarray(self), self.count_path))


def _restore(array, path):
    with open(path, "a") as f:
        f.write("unpickled\n")
    return array


def test_data_reaches_each_worker_once(tmp_path, data, dask_client):
    X, y = data
    counted = X.view(CountedArray)
    counted.count_path = str(tmp_path / "unpickled.txt")
    grid = {"alpha": list(np.logspace(-3, 3, 40))}
    search = DaskSearchCV(Ridge(), grid, cv=3, client=dask_client, progress=False).fit(counted, y)
    assert search.search_stats_["n_tasks"] >= 4
    n_workers = len(dask_client.scheduler_info()["workers"])
    assert 1 <= count_lines(counted.count_path) <= n_workers


def test_tiny_fits_are_batched(data, dask_client):
    X, y = data
    grid = {"strategy": ["mean", "median"], "constant": list(range(150))}
    search = DaskSearchCV(
        DummyRegressor(), grid, cv=2, refit=False, client=dask_client, progress=False
    )
    search.fit(X, y)
    stats = search.search_stats_
    assert stats["n_fits"] == 600
    # ~1 ms fits are grouped so a task runs ~100 ms (fewer groups when the CPUs are busy)
    assert stats["n_tasks"] < stats["n_fits"] / 3, stats


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite:UserWarning")
def test_failing_candidates_score_error_score_and_are_journaled(tmp_path, data, dask_client):
    X, y = data
    grid = {"alpha": [0.1, 1.0, 2.0]}
    journal = tmp_path / "j.sqlite"
    est = FailingRidge(fail_alpha=1.0)
    with pytest.warns(FitFailedWarning):
        ours = DaskSearchCV(est, grid, cv=3, client=dask_client, journal=journal, progress=False)
        ours.fit(X, y)
    with pytest.warns(FitFailedWarning):
        theirs = GridSearchCV(est, grid, cv=3).fit(X, y)
    np.testing.assert_array_equal(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"]
    )
    assert np.isnan(ours.cv_results_["mean_test_score"][1])
    assert ours.best_params_ == theirs.best_params_
    with Journal(journal) as j:
        rows = j.read()
    failed = [r for r in rows if r.status == "error"]
    assert len(rows) == 9 and len(failed) == 3
    assert all("cursed" in r.error for r in failed)
    # numeric error_score, as scikit-learn
    with pytest.warns(FitFailedWarning):
        zero = DaskSearchCV(est, grid, cv=3, error_score=0.0, client=dask_client, progress=False)
        zero.fit(X, y)
    assert zero.cv_results_["mean_test_score"][1] == 0.0


def test_error_score_raise_stops_with_the_original_error(data, dask_client):
    X, y = data
    search = DaskSearchCV(FailingRidge(fail_alpha=1.0), {"alpha": [0.1, 1.0]}, cv=3,
                          error_score="raise", client=dask_client, progress=False)  # fmt: skip
    with pytest.raises(SearchError, match="cursed") as info:
        search.fit(X, y)
    assert isinstance(info.value.__cause__, ValueError)


def test_blas_threads_limited_inside_fits(tmp_path, data, dask_client):
    X, y = data
    workers = list(dask_client.scheduler_info()["workers"])

    def on_each_worker(fn, *args):  # in the worker's task thread, where fits run
        futures = [dask_client.submit(fn, *args, workers=[w], pure=False) for w in workers]
        return [f.result() for f in futures]

    on_each_worker(_set_blas_threads, 4)  # workers whose BLAS would oversubscribe
    try:
        assert on_each_worker(_max_blas_threads) == [4] * len(workers)
        probe = str(tmp_path / "threads.txt")
        grid = {"alpha": [0.1, 1.0, 10.0]}
        DaskSearchCV(ThreadProbe(path=probe), grid, cv=2, refit=False, client=dask_client,
                     progress=False).fit(X, y)  # fmt: skip
        seen = {int(line) for line in Path(probe).read_text().split()}
        assert seen == {1}  # one BLAS/OpenMP thread per worker thread
        assert on_each_worker(_max_blas_threads) == [4] * len(workers)  # restored afterwards
    finally:
        on_each_worker(_set_blas_threads, 1)


def _set_blas_threads(n):
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)


def _max_blas_threads():
    from threadpoolctl import threadpool_info

    return max((i["num_threads"] for i in threadpool_info()), default=0)


def test_progress_log_lines(capsys, data, dask_client):
    X, y = data
    DaskSearchCV(Ridge(), {"alpha": [1.0, 2.0]}, cv=2, refit=False, client=dask_client,
                 progress="log").fit(X, y)  # fmt: skip
    out = capsys.readouterr().out
    assert "[daskcloud] fits 4/4" in out and "best" in out
    DaskSearchCV(Ridge(), {"alpha": [1.0]}, cv=2, refit=False, client=dask_client,
                 progress=False).fit(X, y)  # fmt: skip
    assert capsys.readouterr().out == ""


@pytest.mark.slow  # starts a cluster of one process per core
def test_embedded_local_cluster_starts_and_closes(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        search = DaskSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=2, progress=False).fit(X, y)
    assert search.search_stats_["n_workers"] >= 1
    assert search.best_params_ in ({"alpha": 0.1}, {"alpha": 1.0})


def test_fit_params_are_routed_and_split_and_nothing_stays_on_the_cluster(data, dask_client):
    X, y = data
    weights = np.linspace(0.1, 2.0, len(y))
    pipe = Pipeline([("count", CountingScaler()), ("ridge", Ridge())])
    grid = {"count__scale": [1.0, 2.0], "ridge__alpha": [0.1, 10.0]}
    gc.collect()  # futures of earlier tests' tracebacks
    before = set(dask_client.futures)
    ours = DaskSearchCV(pipe, grid, cv=3, client=dask_client, progress=False)
    ours.fit(X, y, ridge__sample_weight=weights)
    theirs = GridSearchCV(pipe, grid, cv=3).fit(X, y, ridge__sample_weight=weights)
    np.testing.assert_array_equal(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"]
    )
    unweighted = DaskSearchCV(pipe, grid, cv=3, client=dask_client, progress=False).fit(X, y)
    assert not np.array_equal(
        unweighted.cv_results_["mean_test_score"], ours.cv_results_["mean_test_score"]
    )
    # data, prefix outputs and results are all released: memory does not grow with candidates
    deadline = time.time() + 10
    while set(dask_client.futures) - before and time.time() < deadline:
        time.sleep(0.05)
    assert not set(dask_client.futures) - before


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite:UserWarning")
def test_a_journaled_failure_raises_on_resume_with_error_score_raise(tmp_path, data, dask_client):
    X, y = data
    journal = tmp_path / "j.sqlite"
    kw = {"cv": 3, "client": dask_client, "journal": journal, "progress": False}
    with pytest.warns(FitFailedWarning):
        DaskSearchCV(FailingRidge(fail_alpha=1.0), {"alpha": [0.1, 1.0]}, **kw).fit(X, y)
    again = DaskSearchCV(
        FailingRidge(fail_alpha=1.0), {"alpha": [0.1, 1.0]}, error_score="raise", **kw
    )
    with pytest.raises(SearchError, match=r"journal holds a failed fit(.|\n)*cursed"):
        again.fit(X, y)

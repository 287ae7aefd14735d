"""Nothing is lost: resume from the journal, a SIGKILLed driver, a SIGKILLed worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from _engine_estimators import SlowRidge, count_lines
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV

from daskcloud.search import DaskSearchCV, Journal
from driver_journal import journal_rows, kill_once_journaled, wait_until

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def data():
    return make_regression(n_samples=60, n_features=4, noise=1.0, random_state=2)


def test_rerun_with_the_same_journal_skips_every_fit(tmp_path, data, dask_client):
    X, y = data
    journal = tmp_path / "journal.sqlite"
    kw = {"cv": 3, "client": dask_client, "journal": journal, "progress": False}
    first = DaskSearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, **kw).fit(X, y)
    assert first.search_stats_["n_fits"] == 9 and first.journal_path_ == str(journal)
    again = DaskSearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, **kw).fit(X, y)
    assert (again.search_stats_["n_fits"], again.search_stats_["n_fits_skipped"]) == (0, 9)
    for key in first.cv_results_:
        np.testing.assert_array_equal(np.asarray(first.cv_results_[key], dtype=object),
                                      np.asarray(again.cv_results_[key], dtype=object))  # fmt: skip
    more = DaskSearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0, 100.0]}, **kw).fit(X, y)
    assert (more.search_stats_["n_fits"], more.search_stats_["n_fits_skipped"]) == (3, 9)
    fresh = DaskSearchCV(Ridge(), {"alpha": [0.1]}, resume=False, **kw).fit(X, y)
    assert fresh.search_stats_["n_fits"] == 3
    other_data = DaskSearchCV(Ridge(), {"alpha": [0.1]}, **kw).fit(X, y + 1.0)
    assert other_data.search_stats_["n_fits"] == 3
    other_cv = DaskSearchCV(Ridge(), {"alpha": [0.1]}, **{**kw, "cv": 4}).fit(X, y)
    assert other_cv.search_stats_["n_fits"] == 4
    with Journal(journal) as j:
        assert len(j) == 9 + 3 + 3 + 3 + 4


DRIVER = """
import sys
sys.path.insert(0, {here!r})
from _engine_estimators import SlowRidge
from sklearn.datasets import make_regression
from daskcloud.search import DaskSearchCV

X, y = make_regression(n_samples=60, n_features=4, noise=1.0, random_state=2)
grid = {{"alpha": [float(a) for a in range(1, 21)]}}
DaskSearchCV(SlowRidge(delay=0.05, path={count!r}), grid, cv=3, refit=False,
             client={address!r}, journal={journal!r}, progress=False).fit(X, y)
print("finished")
"""


def test_driver_killed_half_way_resumes_with_exactly_the_rest(tmp_path, data, dask_client):
    X, y = data
    journal, count = tmp_path / "journal.sqlite", str(tmp_path / "fits.txt")
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER).format(
        here=str(HERE), count=count, journal=str(journal), address=dask_client.scheduler.address
    ))  # fmt: skip
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    kill_once_journaled(proc, journal, 24, every=0.02)
    done = journal_rows(journal)
    assert 24 <= done < 60, "the driver must die half way"
    # the dead driver's running fits may still finish on the workers; wait for quiet
    assert wait_until(lambda: not any(dask_client.processing().values()), timeout=30)
    time.sleep(0.3)
    before = count_lines(count)

    grid = {"alpha": [float(a) for a in range(1, 21)]}
    est = SlowRidge(delay=0.05, path=count)
    resumed = DaskSearchCV(est, grid, cv=3, refit=False, client=dask_client, journal=journal,
                           progress=False).fit(X, y)  # fmt: skip
    assert resumed.search_stats_["n_fits_skipped"] == done
    assert resumed.search_stats_["n_fits"] == 60 - done
    assert count_lines(count) - before == 60 - done  # fitted exactly the rest
    with Journal(journal) as j:
        rows = j.read()
    assert len(rows) == 60 and len({(r.trial, r.fold) for r in rows}) == 60

    plain = DaskSearchCV(SlowRidge(), grid, cv=3, refit=False, client=dask_client,
                         progress=False).fit(X, y)  # fmt: skip
    for key in ("mean_test_score", "split0_test_score", "split2_test_score", "rank_test_score"):
        np.testing.assert_array_equal(resumed.cv_results_[key], plain.cv_results_[key])


@pytest.mark.slow  # its own cluster, a worker restart: ~10-40 s on 2 busy cores
def test_worker_killed_mid_search_loses_nothing_and_duplicates_nothing(tmp_path, data):
    from distributed import Client, LocalCluster

    X, y = data
    journal = tmp_path / "journal.sqlite"
    grid = {"alpha": [0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]}
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                     silence_logs=50) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        pids = client.run(os.getpid)
        killed = []

        def killer():
            if wait_until(lambda: journal_rows(journal) >= 6, timeout=60):
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append((victim, journal_rows(journal)))

        thread = threading.Thread(target=killer)
        thread.start()
        search = DaskSearchCV(SlowRidge(delay=0.15), grid, cv=3, client=client, journal=journal,
                              progress=False).fit(X, y)  # fmt: skip
        thread.join()
        assert killed and killed[0][1] < 30, "the worker must die mid-search"
        assert wait_until(lambda: len(client.scheduler_info()["workers"]) == 2, timeout=30)
        assert killed[0][0] not in client.run(os.getpid).values()

        undisturbed = DaskSearchCV(SlowRidge(), grid, cv=3, client=client, progress=False)
        undisturbed.fit(X, y)
    with Journal(journal) as j:
        rows = j.read(include_cancelled=True)
    assert len(rows) == 30 and len({(r.trial, r.fold) for r in rows}) == 30
    assert all(r.status == "ok" for r in rows)
    assert search.best_params_ == undisturbed.best_params_
    assert search.best_score_ == undisturbed.best_score_
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  undisturbed.cv_results_["mean_test_score"])  # fmt: skip


@pytest.mark.slow  # its own cluster, two worker restarts
def test_every_worker_killed_the_data_is_scattered_again(tmp_path, data):
    from distributed import Client, LocalCluster

    X, y = data
    journal = tmp_path / "journal.sqlite"
    grid = {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]}
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0",
                     silence_logs=50) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        pids = client.run(os.getpid)
        killed = []

        def killer():
            if wait_until(lambda: journal_rows(journal) >= 3, timeout=60):
                for pid in pids.values():  # every copy of the scattered data dies
                    os.kill(pid, signal.SIGKILL)
                killed.append(journal_rows(journal))

        thread = threading.Thread(target=killer)
        thread.start()
        search = DaskSearchCV(SlowRidge(delay=0.2), grid, cv=3, client=client, journal=journal,
                              progress=False).fit(X, y)  # fmt: skip
        thread.join()
    assert killed and killed[0] < 18
    assert search.search_stats_["n_retries"] >= 1
    with Journal(journal) as j:
        rows = j.read()
    assert len(rows) == 18 and all(r.status == "ok" for r in rows)
    plain = GridSearchCV(Ridge(), grid, cv=3).fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  plain.cv_results_["mean_test_score"])  # fmt: skip

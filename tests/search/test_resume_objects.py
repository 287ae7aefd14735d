"""Candidates whose values are objects, not JSON: a SIGKILLed driver resumes exactly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from _engine_estimators import SlowRidge, count_lines
from sklearn.datasets import make_regression

from daskcloud.search import Journal
from driver_journal import journal_rows, kill_once_journaled, wait_until

HERE = Path(__file__).parent

SEARCH = """
import sys
sys.path.insert(0, {here!r})
from _engine_estimators import SlowRidge
from sklearn.datasets import make_regression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from daskcloud.search import DaskSearchCV


def make_search(client, journal, count, strategy):
    pipe = Pipeline([("scale", StandardScaler()), ("model", SlowRidge())])
    space = {{
        "model": [SlowRidge(alpha=float(a), delay=0.05, path=count) for a in range(1, 9)],
        "scale": [StandardScaler(), StandardScaler(with_mean=False)],
    }}
    options = {{"resource": "n_samples", "min_resource": 10}} if strategy == "halving" else None
    return DaskSearchCV(pipe, space, strategy=strategy, strategy_options=options, cv=3,
                        refit=False, client=client, journal=journal, progress=False,
                        random_state=0)


if __name__ == "__main__":
    X, y = make_regression(n_samples=90, n_features=4, noise=1.0, random_state=2)
    make_search(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]).fit(X, y)
    print("finished")
"""


@pytest.mark.parametrize("strategy", ["grid", pytest.param("halving", marks=pytest.mark.slow)])
def test_object_valued_candidates_resume_after_sigkill_with_nothing_refitted(tmp_path,
                                                                             dask_client,
                                                                             strategy):  # fmt: skip
    journal, count = tmp_path / "journal.sqlite", str(tmp_path / "fits.txt")
    script = tmp_path / "objects_driver.py"
    script.write_text(textwrap.dedent(SEARCH).format(here=str(HERE)))
    address = dask_client.scheduler.address
    proc = subprocess.Popen([sys.executable, str(script), address, str(journal), count, strategy],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    kill_once_journaled(proc, journal, 12, every=0.02)
    done = journal_rows(journal)
    assert wait_until(lambda: not any(dask_client.processing().values()), timeout=30)
    time.sleep(0.3)
    before = count_lines(count)

    sys.path.insert(0, str(tmp_path))
    try:
        from objects_driver import make_search
    finally:
        sys.path.remove(str(tmp_path))
    X, y = make_regression(n_samples=90, n_features=4, noise=1.0, random_state=2)
    resumed = make_search(dask_client, journal, count, strategy).fit(X, y)
    stats = resumed.search_stats_
    assert stats["n_fits_skipped"] == done, "every journaled fit is found again"
    assert count_lines(count) - before == stats["n_fits"]  # fitted: only what was missing
    with Journal(journal) as j:
        rows = j.read()
    assert len({r.key for r in rows}) == len(rows)  # nothing journaled twice

    fresh = make_search(dask_client, None, None, strategy).fit(X, y)
    np.testing.assert_array_equal(resumed.cv_results_["mean_test_score"],
                                  fresh.cv_results_["mean_test_score"])  # fmt: skip

    def described(params):
        return [(p["model"].alpha, repr(p["scale"])) for p in params]

    assert described(resumed.cv_results_["params"]) == described(fresh.cv_results_["params"])
    assert isinstance(resumed.cv_results_["params"][0]["model"], SlowRidge)

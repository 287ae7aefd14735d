"""Adaptive searches survive a SIGKILLed driver: the journal is replayed, nothing refitted.

The driver runs in a subprocess against the shared LocalCluster and is killed
once part of the search is journaled; a resumed run in this process replays the
journal into the halving promotion state or the Optuna study, serves every
journaled fit from the journal, and fits only new work.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from _engine_estimators import SlowRidge, count_lines
from sklearn.datasets import make_regression

from daskcloud.search import DaskSearchCV, Journal
from driver_journal import journal_rows, kill_once_journaled, wait_until

HERE = Path(__file__).parent
GRID = {"alpha": [float(a) for a in range(1, 28)]}  # 27 candidates: 4 rungs at eta 3
SPACE = {"alpha": "loguniform(0.01, 100.0)"}

DRIVER = """
import sys
sys.path.insert(0, {here!r})
from _engine_estimators import SlowRidge
from sklearn.datasets import make_regression
from daskcloud.search import DaskSearchCV

X, y = make_regression(n_samples=270, n_features=4, noise=5.0, random_state=2)
DaskSearchCV(SlowRidge(delay=0.05, path={count!r}), {space!r}, cv=3, refit=False,
             client={address!r}, journal={journal!r}, progress=False,
             **{options!r}).fit(X, y)
print("finished")
"""


def _search(space, options, **kwargs):
    return DaskSearchCV(SlowRidge(delay=0.05, **kwargs.pop("est", {})), space, cv=3,
                        refit=False, progress=False, **options, **kwargs)  # fmt: skip


def _complete_trials(journal: Path) -> int:
    with Journal(journal) as j:
        folds = Counter((repr(sorted(r.params.items())), r.resource) for r in j.read())
    return sum(1 for n in folds.values() if n == 3)


@pytest.mark.parametrize(
    ("space", "options", "kill_at"),
    [
        # the default suite keeps tpe-halving, which resumes a sampler and rungs at once
        pytest.param(GRID, {"strategy": "halving", "random_state": 0}, 45, marks=pytest.mark.slow),
        pytest.param(
            SPACE,
            {"strategy": "tpe", "n_candidates": 24, "random_state": 0},
            30,
            marks=pytest.mark.slow,
        ),
        (
            SPACE,
            {
                "strategy": "tpe",
                "n_candidates": 27,
                "random_state": 0,
                "strategy_options": {"resource": "n_samples"},
            },
            45,
        ),
    ],
    ids=["halving", "tpe", "tpe-halving"],
)
def test_killed_driver_resumes_from_the_journal(tmp_path, dask_client, space, options, kill_at):
    X, y = make_regression(n_samples=270, n_features=4, noise=5.0, random_state=2)
    journal, count = tmp_path / "journal.sqlite", str(tmp_path / "fits.txt")
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER).format(
        here=str(HERE), count=count, journal=str(journal), space=space, options=options,
        address=dask_client.scheduler.address,
    ))  # fmt: skip
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    kill_once_journaled(proc, journal, kill_at, status="ok", timeout=90.0, every=0.02)
    # the dead driver's running fits may still finish on the workers; wait for quiet
    assert wait_until(lambda: not any(dask_client.processing().values()), timeout=30, every=0.02)
    time.sleep(0.3)
    journaled, complete = journal_rows(journal, "ok"), _complete_trials(journal)
    before = count_lines(count)

    resumed = _search(space, options, est={"path": count}, client=dask_client, journal=journal)
    resumed.fit(X, y)
    stats = resumed.search_stats_
    # every complete journaled trial came back from the journal, unfitted
    assert stats["n_fits_skipped"] >= 3 * complete > 0
    assert count_lines(count) - before == stats["n_fits"]  # the only fits: new work
    n_rows = len(resumed.cv_results_["params"])
    assert stats["n_fits"] + stats["n_fits_skipped"] == 3 * n_rows
    with Journal(journal) as j:
        keys = [r.key for r in j.read()]
    assert len(keys) == len(set(keys)) >= journaled  # every fit journaled exactly once

    plain = _search(space, options, client=dask_client).fit(X, y)
    if options["strategy"] == "tpe":  # other samples after the resume; an as good result
        assert resumed.best_score_ == pytest.approx(plain.best_score_, abs=0.01)
        candidates = {repr(sorted(p.items())) for p in resumed.cv_results_["params"]}
        assert len(candidates) == options["n_candidates"]
    else:  # a clear ranking (smaller alpha is better): the same winner
        assert resumed.best_params_ == plain.best_params_
        assert set(resumed.cv_results_["iter"]) == {0, 1, 2, 3}

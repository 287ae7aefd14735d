"""The per-fit path's shortcuts keep results exact: shared fold splits, thread limits,
the journal writer thread, folds filed in this run served again."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.svm import SVR
from threadpoolctl import ThreadpoolController

from daskcloud.exceptions import JournalError
from daskcloud.search import DaskSearchCV, Journal, _threads
from daskcloud.search._fit import SearchData, run_units
from daskcloud.search._protocol import Unit
from daskcloud.search._writer import JournalWriter
from daskcloud.search.journal import FitRecord
from daskcloud.search.strategies import Strategy, Trial


class DoublesItsInput(RegressorMixin, BaseEstimator):
    """Doubles X in place when fitted (as ``copy=False`` transformers may), then predicts
    ``scale`` times the mean of what it saw."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def fit(self, X, y):
        X *= 2.0
        self.level_ = float(np.mean(X)) * self.scale
        return self

    def predict(self, X):
        return np.full(len(X), self.level_)


def _batch(estimator, X, y, cv, params, scoring=None):
    """Scores of one ``run_units`` batch: every params on every fold."""
    splits = [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(X, y)]
    data = SearchData(X=X, y=y, splits=splits, estimator=estimator,
                      scorer=check_scoring(estimator, scoring=scoring))  # fmt: skip
    units = [Unit((i, f), f, p) for i, p in enumerate(params) for f in range(len(splits))]
    out = run_units(data, None, units)
    assert [r.id for r in out.units] == [u.id for u in units]  # in the order asked
    return {r.id: r.test_scores for r in out.units}


@pytest.mark.parametrize("frame", [False, True])
def test_fits_sharing_a_fold_split_each_get_their_own_copy(frame):
    X, y = make_regression(n_samples=40, n_features=3, random_state=0)
    X = X + 5.0  # a mean far from zero: a second doubling shows in the scores
    if frame:
        X, y = pd.DataFrame(X), pd.Series(y)
    cv, params = KFold(3), [{"scale": s} for s in (1.0, 0.5, 2.0)]
    scores = _batch(DoublesItsInput(), X, y, cv, params)
    sk = GridSearchCV(DoublesItsInput(), {"scale": [1.0, 0.5, 2.0]}, cv=cv).fit(X, y)
    for i in range(3):
        got = [scores[(i, f)] for f in range(3)]
        expected = [sk.cv_results_[f"split{f}_test_score"][i] for f in range(3)]
        np.testing.assert_allclose(got, expected, rtol=0, atol=0)
    assert float(np.asarray(X).mean()) > 4  # the caller's data is untouched


def test_a_precomputed_kernel_and_features_in_one_batch_get_their_own_split():
    X, y = make_regression(n_samples=30, n_features=3, random_state=1)
    K = X @ X.T  # a precomputed kernel for one candidate, 30 features for the other
    cv, grid = KFold(3), {"kernel": ["precomputed", "linear"], "C": [1.0, 10.0]}
    sk = GridSearchCV(SVR(), grid, cv=cv).fit(K, y)
    scores = _batch(SVR(), K, y, cv, list(sk.cv_results_["params"]))
    for i in range(4):
        got = [scores[(i, f)] for f in range(3)]
        expected = [sk.cv_results_[f"split{f}_test_score"][i] for f in range(3)]
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def _num_threads() -> set[int]:
    return {lib["num_threads"] for lib in ThreadpoolController().info()}


def test_thread_limit_holds_in_the_block_and_is_then_restored():
    if not ThreadpoolController().info():
        pytest.skip("no BLAS/OpenMP library with a thread pool is loaded")
    before = _num_threads()
    for _ in range(2):  # the second time with the controller kept from the first
        with _threads.limited(1):
            assert _num_threads() == {1}
        assert _num_threads() == before


def _record(key: str, fold: int = 0) -> FitRecord:
    return FitRecord(key=key, search="s", params={"a": 1}, fold=fold, status="ok",
                     test_scores=0.5)  # fmt: skip


def test_journal_writer_commits_everything_put_before_flush_returns(tmp_path):
    with Journal(tmp_path / "j.sqlite") as journal:
        writer = JournalWriter(journal)
        for i in range(50):
            writer.put([_record(f"k{i}")])
        writer.flush()
        assert len(journal) == 50
        writer.put([_record("k50")])
        writer.close()
        writer.close()  # twice is fine
        assert len(journal) == 51


def test_journal_writer_raises_a_failed_append_in_the_callers_thread(tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    writer = JournalWriter(journal)
    journal.close()  # every append now fails
    writer.put([_record("k")])
    with pytest.raises(JournalError, match="closed"):
        writer.flush()
    writer.close()


class TwiceTheSame(Strategy):
    """Asks one candidate, then (once told) the same candidate again."""

    def __init__(self):
        self._asked, self._told = 0, 0

    def ask(self, n):
        if self._asked > self._told or self._asked == 2:
            return []
        self._asked += 1
        return [Trial(id=self._asked - 1, params={"alpha": 1.0})]

    def tell(self, result):
        self._told += 1

    def is_finished(self):
        return self._told == 2


def test_a_candidate_asked_again_in_the_same_run_is_served_not_refitted(dask_client):
    X, y = make_regression(n_samples=40, n_features=3, random_state=2)
    search = DaskSearchCV(Ridge(), {"alpha": [1.0]}, strategy=TwiceTheSame(), cv=3,
                          refit=False, client=dask_client, progress=False)  # fmt: skip
    search.fit(X, y)
    stats = search.search_stats_
    assert (stats["n_fits"], stats["n_fits_skipped"]) == (3, 3)
    first, second = (search.cv_results_["split0_test_score"][i] for i in range(2))
    assert first == second

"""Checks of a search's inputs that run on the client before any cluster starts (pure of Dask).

Whatever can fail the same way for every candidate is found here, in seconds, rather
than after the cluster started and every fit failed on the workers:

- :func:`cv_splits`: the splitter against the data (more folds than rows, too few groups
  or classes) -- scikit-learn's ``ValueError`` becomes a :class:`ConfigError`;
- :func:`dry_fit`: a few candidates fitted and scored on a few rows of the first fold
  (text columns for a numeric model, a scorer the estimator cannot serve). Only when
  *every* candidate tried fails on the sample, and the first one again on the whole
  first fold, is the search refused: one candidate that cannot fit is the business of
  ``error_score``, as in ``GridSearchCV``.

A search given a running cluster (``client=`` a connected Client) has no cluster start to
save: it makes no dry fit, and a search whose every fit fails ends, as ``GridSearchCV``
does, with one line naming the first error (:mod:`._failures`).
"""

from __future__ import annotations

import copy
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from threadpoolctl import threadpool_limits

from daskcloud.exceptions import ConfigError
from daskcloud.search import _sklearn
from daskcloud.search.strategies import SearchContext

__all__ = ["cv_splits", "dry_fit", "journal_has_fits"]

#: rows of the first fold's training (and test) set a dry fit uses
SAMPLE_ROWS = 50
#: candidates a dry fit tries at most before it concludes that none can fit
MAX_CANDIDATES = 8


def cv_splits(cv_param: Any, cv: Any, X: Any, y: Any, split_params: Mapping[str, Any]) -> list:
    """Every ``(train, test)`` pair of ``cv`` on ``X, y``; ConfigError when it cannot split."""
    try:
        splits = [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(X, y, **split_params)]
    except ValueError as e:
        raise ConfigError(
            f"cv={cv_param!r} cannot split these {_n_rows(X)} rows: {_first_line(e)}; use fewer "
            "folds or more data"
        ) from e
    if not splits:
        raise ConfigError(f"cv={cv_param!r} produced no splits; give at least 2 folds")
    return splits


def dry_fit(
    estimator: Any,
    strategy: Any,
    X: Any,
    y: Any,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    scorer: Any,
    fit_params: Mapping[str, Any],
    score_params: Mapping[str, Any],
    random_state: Any = None,
    fit_timeout: float | None = None,
) -> None:
    """Raise ConfigError when no candidate of ``strategy`` can fit and score this data.

    Candidates come from a copy of the strategy (the real one is not asked), chosen so
    that every value of every parameter among the first ones asked is tried once. A
    strategy that cannot be copied or asked here is not checked. With ``fit_timeout``, a
    candidate still fitting after that long ends the check undecided (the workers keep
    the deadline; the abandoned fit's daemon thread runs on in this process).
    """
    candidates = _candidates(strategy, splits, random_state)
    if not candidates:
        return
    train, test = splits[0]
    small_train, small_test = _sample(train, y, estimator), _sample(test, y, estimator)
    args = (estimator, X, y, fit_params, score_params, scorer)
    first_error = None
    # one BLAS thread, as a worker thread has; no warnings (convergence on a few rows ...)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for params in candidates:
            error = _within(fit_timeout, _fit_and_score, params, small_train, small_test, *args)
            if error is None or error is _LATE:
                return
            first_error = first_error or error
        # none fitted a few rows; a few rows may be the reason (PCA(n_components=60) ...)
        if _within(fit_timeout, _fit_and_score, candidates[0], train, test, *args) in (None, _LATE):
            return
    assert first_error is not None
    raise ConfigError(
        f"no candidate can be fitted on this data: {type(first_error).__name__}: "
        f"{_first_line(first_error)} (a dry fit of {len(candidates)} candidate(s) on fold 0 "
        "before any cluster started); check the data's columns and types against what "
        "the estimator accepts (e.g. encode text columns)"
    ) from first_error


#: what :func:`_within` returns for a call that did not end in time
_LATE = TimeoutError("fit_timeout")


def _within(seconds: float | None, fn: Any, *args: Any) -> Any:
    """``fn(*args)``, or :data:`_LATE` when it runs longer than ``seconds`` (None: no limit)."""
    if seconds is None:
        return fn(*args)
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    thread.start()
    thread.join(seconds)
    return out[0] if out else _LATE


def journal_has_fits(journal: Any, search: str) -> bool:
    """True when ``journal=`` (a Journal or an existing file) holds a good fit of ``search``.

    A search resumed after fitting once needs no dry fit; a missing file is not created.
    """
    from daskcloud.search.journal import Journal

    if isinstance(journal, Journal):
        return journal.count(search, "ok") > 0
    if isinstance(journal, str | os.PathLike) and Path(journal).is_file():
        with Journal(journal) as opened:
            return opened.count(search, "ok") > 0
    return False


def _candidates(strategy: Any, splits: Sequence[Any], random_state: Any) -> list[dict]:
    """Up to MAX_CANDIDATES parameter dicts from a copy of ``strategy``, covering values."""
    try:
        probe = copy.deepcopy(strategy)
        probe.bind(SearchContext(n_splits=len(splits), n_train=min(len(tr) for tr, _ in splits),
                                 n_workers=1, random_state=random_state))  # fmt: skip
        trials = probe.ask(64)
    except Exception:  # a strategy with state that cannot be copied: no dry fit
        return []
    resource = getattr(strategy, "resource", None)
    params = []
    for trial in trials:
        p = dict(trial.params)
        if resource not in (None, "n_samples") and trial.resource is not None:
            p[resource] = trial.resource
        params.append(p)
    chosen, seen = [], set()
    for p in params:  # greedy: a candidate that brings a value not tried yet
        values = {(name, repr(value)) for name, value in p.items()}
        if not chosen or values - seen:
            chosen.append(p)
            seen |= values
        if len(chosen) == MAX_CANDIDATES:
            break
    return chosen


def _sample(indices: np.ndarray, y: Any, estimator: Any) -> np.ndarray:
    """Up to SAMPLE_ROWS of ``indices``, spread evenly, with every class of a classifier."""
    if len(indices) <= SAMPLE_ROWS:
        return indices
    picked = set(np.linspace(0, len(indices) - 1, SAMPLE_ROWS).astype(int).tolist())
    if y is not None and is_classifier(estimator):
        labels = np.asarray(y)[indices]
        if labels.ndim == 1:
            picked |= set(np.unique(labels, return_index=True)[1].tolist())
    return indices[np.sort(np.fromiter(picked, dtype=int))]


def _fit_and_score(
    params: Mapping[str, Any],
    train: np.ndarray,
    test: np.ndarray,
    estimator: Any,
    X: Any,
    y: Any,
    fit_params: Mapping[str, Any],
    score_params: Mapping[str, Any],
    scorer: Any,
) -> Exception | None:
    """The exception fitting and scoring one candidate raised, or None."""
    try:
        est = clone(estimator).set_params(**clone(dict(params), safe=False))
        X_train, y_train = _sklearn.safe_split(est, X, y, train)
        X_test, y_test = _sklearn.safe_split(est, X, y, test, train)
        fp = _sklearn.split_params(X, dict(fit_params), train)
        est.fit(X_train, **fp) if y is None else est.fit(X_train, y_train, **fp)
        sp = _sklearn.split_params(X, dict(score_params), test)
        _sklearn.score(est, X_test, y_test, scorer, sp, "raise")
    except Exception as e:
        return e
    return None


def _n_rows(X: Any) -> Any:
    try:
        return len(X)
    except TypeError:
        return getattr(X, "shape", ["?"])[0]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0].rstrip(".") if text else type(error).__name__

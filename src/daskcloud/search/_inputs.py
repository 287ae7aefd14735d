"""The first step of ``DaskSearchCV.fit``: every input checked and resolved once, pure of Dask.

:func:`resolve_inputs` turns the search's parameters and ``fit``'s arguments into one frozen
:class:`FitInputs` -- the budget, the fit timeout, the scorers, the routed fit parameters, the
folds, the journal key and the strategy (resolved exactly once per fit; every later step gets
this instance). A bad input is a :class:`ConfigError` here, before any dry fit or cluster.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.model_selection import check_cv
from sklearn.utils import indexable

from daskcloud.exceptions import ConfigError
from daskcloud.search import _deadline, _keys, _precheck, _sklearn
from daskcloud.search._budget import Budget, resolve_budget
from daskcloud.search.strategies import Strategy, resolve_strategy

__all__ = ["FitInputs", "resolve_inputs"]


@dataclass(frozen=True)
class FitInputs:
    """What one fit runs on, checked: data, folds, scorers, routed parameters, strategy, key."""

    X: Any
    y: Any
    cv: Any
    splits: list[tuple[np.ndarray, np.ndarray]]
    scorers: Any
    refit_metric: Any
    #: scikit-learn's routed parameters: ``.estimator.fit``, ``.scorer.score``, ``.splitter``
    routed: Any
    strategy: Strategy
    budget: Budget
    fit_timeout: float | None
    #: the journal key of this search (a fresh one when not resuming)
    search: str
    fold_tokens: list[str]

    @property
    def fit_params(self) -> dict[str, Any]:
        return dict(self.routed.estimator.fit)

    @property
    def score_params(self) -> dict[str, Any]:
        return dict(self.routed.scorer.score)


def resolve_inputs(search: Any, X: Any, y: Any, groups: Any, fit_params: Any) -> FitInputs:
    """Check and resolve ``search``'s parameters and ``fit``'s arguments (a ``DaskSearchCV``).

    Raises:
        ConfigError: a bad budget, fit_timeout, error_score, scoring, splitter or strategy.
    """
    budget = resolve_budget(search.budget)
    fit_timeout = _deadline.resolve_fit_timeout(search.fit_timeout)
    error_score = search.error_score
    if not (isinstance(error_score, int | float) or error_score == "raise"):
        raise ConfigError(f"error_score must be a number or 'raise', got {error_score!r}")
    scorers, refit_metric = _sklearn.get_scorers(search)
    X, y, groups = indexable(X, y, groups)
    params = _sklearn.split_params(X, fit_params, None)
    routed = _sklearn.routed_fit_params(
        search, params if groups is None else {**params, "groups": groups}
    )
    cv = check_cv(search.cv, y, classifier=is_classifier(search.estimator))
    splits = _precheck.cv_splits(search.cv, cv, X, y, routed.splitter.split)
    strategy = resolve_strategy(
        search.strategy,
        search.space,
        n_candidates=search.n_candidates,
        random_state=search.random_state,
        options=search.strategy_options,
    )
    key = _keys.search_key(
        search.estimator,
        _keys.data_fingerprint(X, y, routed.estimator.fit),
        search.scoring,
        search.return_train_score,
    )
    if not search.resume:  # a fresh key: nothing is found, nothing old is overwritten
        key = _keys.token((key, uuid.uuid4().hex))
    return FitInputs(
        X=X,
        y=y,
        cv=cv,
        splits=splits,
        scorers=scorers,
        refit_metric=refit_metric,
        routed=routed,
        strategy=strategy,
        budget=budget,
        fit_timeout=fit_timeout,
        search=key,
        fold_tokens=_keys.splits_fingerprint(splits),
    )

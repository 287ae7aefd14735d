"""What runs on the workers: fit shared pipeline prefixes, fit and score batches of fits.

These functions are submitted by the runner and know nothing about Dask beyond
reading the worker's address and thread count. The search data (X, y, CV
indices, fit parameters, estimator, scorer) arrive once per worker as one
scattered :class:`SearchData`; a task receives only parameters and indices.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.base import clone

from daskcloud.search import _deadline, _sklearn, _steps, _threads
from daskcloud.search._continue import Fitted, continue_fit
from daskcloud.search._prefix import PrefixNode
from daskcloud.search._protocol import BatchResult, PrefixFit, Unit, UnitResult

__all__ = [
    "PrefixOutput",
    "SearchData",
    "fit_prefix",
    "model_at",
    "run_units",
    "train_indices",
    "without_models",
]


@dataclass
class SearchData:
    """Everything every fit of a search shares; scattered to each worker once."""

    X: Any
    y: Any
    splits: list[tuple[np.ndarray, np.ndarray]]
    estimator: Any
    scorer: Any
    fit_params: dict[str, Any] = field(default_factory=dict)
    score_params: dict[str, Any] = field(default_factory=dict)
    error_score: Any = np.nan
    return_train_score: bool = False
    subsample_seed: int = 0
    #: the driver's ``sklearn.get_config()`` (metadata routing, transform output ...),
    #: applied around every fit as joblib's workers do for ``GridSearchCV``
    sklearn_config: dict[str, Any] = field(default_factory=dict)
    #: seconds a fit may run (:mod:`._deadline`): each task then says when it started
    fit_timeout: float | None = None


@dataclass
class PrefixOutput:
    """A fitted pipeline prefix's transformed data on one fold, held on a worker."""

    depth: int
    train: np.ndarray
    Xt_train: Any
    y_train: Any
    Xt_test: Any
    y_test: Any
    fit_time: float
    chain: list[PrefixFit]
    error: str | None = None
    #: the training data through ``transform`` (not ``fit_transform``): what a fitted
    #: pipeline's predict sees, for train scores; None unless return_train_score
    Xt_train_eval: Any = None
    #: the fitted ``(name, step)`` pairs of steps ``[0, depth)``: a continued fit's pipeline
    steps: list[tuple[str, Any]] = field(default_factory=list)


@contextlib.contextmanager
def _worker_threads(data: SearchData) -> Iterator[str | None]:
    """Limit BLAS/OpenMP threads to the worker's thread count and apply the driver's
    scikit-learn config; yield the worker address."""
    import sklearn

    try:
        from distributed import get_worker

        worker = get_worker()
        n, address = worker.state.nthreads, worker.address
    except (ImportError, ValueError, AttributeError):
        n, address = 1, None
    if data.fit_timeout is not None:
        _deadline.announce_start()
    with _threads.limited(n), sklearn.config_context(**data.sklearn_config):
        yield address


def train_indices(data: SearchData, fold: int, n_samples: int | None) -> np.ndarray:
    """The fold's training indices, subsampled (seeded, order kept) to ``n_samples`` rows."""
    train = np.asarray(data.splits[fold][0])
    if n_samples is None or n_samples >= len(train):
        return train
    rng = np.random.default_rng([data.subsample_seed, fold, n_samples])
    return np.sort(rng.choice(train, size=n_samples, replace=False))


class _Folds:
    """The train/test split of the fold a batch is on, made once and copied for each fit.

    Splitting (``safe_split``: validation, then indexing) costs more than a small fit;
    copying the split is nearly free and gives every fit its own arrays, as
    ``GridSearchCV`` does (an estimator may change its input in place). Splits of
    other types than numpy arrays and pandas objects are made for each fit.
    """

    def __init__(self, data: SearchData) -> None:
        self.data = data
        self._key: tuple[Any, ...] | None = None
        self._split: tuple[Any, ...] = ()

    def split(self, est: Any, fold: int, n_samples: int | None) -> tuple[Any, ...]:
        """``(train, test, X_train, y_train, X_test, y_test)`` of ``fold`` for ``est``."""
        key = (fold, n_samples, _sklearn.is_pairwise(est))
        if key != self._key:
            self._key, self._split = None, ()  # the previous fold's copy goes first
            data = self.data
            train = train_indices(data, fold, n_samples)
            test = data.splits[fold][1]
            X_train, y_train = _sklearn.safe_split(est, data.X, data.y, train)
            X_test, y_test = _sklearn.safe_split(est, data.X, data.y, test, train)
            arrays = (X_train, y_train, X_test, y_test)
            if not all(map(_copyable, arrays)):
                return (train, test, *arrays)
            self._key, self._split = key, (train, test, *arrays)
        train, test, *arrays = self._split
        return (train, test, *(_copy(a) for a in arrays))


def _copyable(value: Any) -> bool:
    if value is None or type(value) is np.ndarray:
        return True
    # a pandas object here means pandas is imported; a plain worker may have none to import
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.DataFrame | pd.Series)


def _copy(value: Any) -> Any:
    if value is None:
        return None
    return value.copy(order="K") if isinstance(value, np.ndarray) else value.copy(deep=True)


def _with_params(data: SearchData, params: Mapping[str, Any]) -> Any:
    # params are cloned as GridSearchCV does: they may themselves be estimators
    return clone(data.estimator).set_params(**clone(dict(params), safe=False))


def _step_names(estimator: Any) -> list[str]:
    return [name for name, _ in getattr(estimator, "steps", [])]


def _fit(est: Any, X: Any, y: Any, params: Mapping[str, Any]) -> Any:
    return est.fit(X, **params) if y is None else est.fit(X, y, **params)


def fit_prefix(data: SearchData, parent: PrefixOutput | None, node: PrefixNode) -> PrefixOutput:
    """Fit pipeline steps ``[node.start, node.stop)`` on a fold; keep the transformed data."""
    if parent is not None and parent.error is not None:
        return PrefixOutput(node.stop, parent.train, None, None, None, None, parent.fit_time,
                            parent.chain, parent.error)  # fmt: skip
    with _worker_threads(data) as address:
        t0, cpu0 = time.time(), time.thread_time()
        est = _with_params(data, node.params)
        if parent is None:
            train = train_indices(data, node.fold, node.n_samples)
            test = data.splits[node.fold][1]
            X_train, y_train = _sklearn.safe_split(est, data.X, data.y, train)
            X_test, y_test = _sklearn.safe_split(est, data.X, data.y, test, train)
            X_eval = X_train
        else:
            train = parent.train
            X_train, y_train, X_test, y_test = (
                parent.Xt_train, parent.y_train, parent.Xt_test, parent.y_test
            )  # fmt: skip
            X_eval = parent.Xt_train_eval
        fit_params = _sklearn.split_params(data.X, data.fit_params, train)
        error = None
        Xt_train = Xt_test = Xt_eval = None
        fitted: list[tuple[str, Any]] = []
        try:
            Xt_train, fitted = _steps.fit_steps(
                est, node.start, node.stop, X_train, y_train, fit_params
            )
            Xt_test = _steps.transform_steps(fitted, X_test)
            # fit_transform may differ from fit().transform() in the last bits (e.g. PCA)
            Xt_eval = _steps.transform_steps(fitted, X_eval) if data.return_train_score else None
        except Exception:
            if data.error_score == "raise":
                raise
            error = traceback.format_exc()
        t1 = time.time()
        link = PrefixFit(node.key, t0, t1, address, time.thread_time() - cpu0)
    chain = [*(parent.chain if parent else []), link]
    fit_time = (parent.fit_time if parent else 0.0) + (t1 - t0)
    steps = [*(parent.steps if parent else []), *fitted]
    return PrefixOutput(
        node.stop, train, Xt_train, y_train, Xt_test, y_test, fit_time, chain, error, Xt_eval,
        steps,
    )  # fmt: skip


def run_units(
    data: SearchData,
    parent: PrefixOutput | None,
    units: Sequence[Unit],
    previous: Sequence[Fitted | None] | None = None,
    keep: bool = False,
) -> BatchResult:
    """Fit and score a batch of fits, continuing from ``parent`` (a fitted prefix) when given.

    ``previous[i]`` is unit ``i``'s estimator fitted at a lower resource, continued when
    the unit says ``resume``; with ``keep`` the fitted estimators come back in ``models``
    (the runner takes them apart with :func:`model_at` and :func:`without_models`).
    """
    results: list[Any] = [None] * len(units)
    models: list[Any] = [None] * len(units)
    folds = _Folds(data)
    t_batch = time.time()
    with _worker_threads(data) as address:
        # fold by fold: one fold's split at a time is made, shared and kept
        for i in sorted(range(len(units)), key=lambda i: (units[i].fold, units[i].n_samples or 0)):
            prev = previous[i] if previous is not None else None
            results[i], models[i] = _run_one(data, parent, units[i], address, prev, folds)
    return BatchResult(
        units=results, start=t_batch, end=time.time(), worker=address,
        prefix_chain=parent.chain if parent is not None else [],
        models=models if keep else None,
    )  # fmt: skip


def model_at(out: BatchResult, i: int) -> Fitted | None:
    """The ``i``-th fitted estimator of a :func:`run_units` result (kept on its worker)."""
    return None if out.models is None else out.models[i]


def without_models(out: BatchResult) -> BatchResult:
    """A :func:`run_units` result without its fitted estimators: what the driver receives."""
    return replace(out, models=None)


def _error_scores(data: SearchData) -> Any:
    if _sklearn.is_multimetric_scorer(data.scorer):
        return {name: data.error_score for name in _sklearn.scorer_names(data.scorer)}
    return data.error_score


def _run_one(
    data: SearchData,
    parent: PrefixOutput | None,
    unit: Unit,
    address: str | None,
    previous: Fitted | None = None,
    folds: _Folds | None = None,
) -> tuple[UnitResult, Fitted | None]:
    start, cpu0 = time.time(), time.thread_time()
    est = _with_params(data, unit.params)
    if parent is None:
        train, test, X_train, y_train, X_test, y_test = (folds or _Folds(data)).split(
            est, unit.fold, unit.n_samples
        )
        X_eval, prior_fit_time, depth = X_train, 0.0, 0
    else:
        train, test = parent.train, data.splits[unit.fold][1]
        est = est[parent.depth :]  # the tail of the pipeline, fitted on transformed data
        X_train, y_train, X_test, y_test = (
            parent.Xt_train, parent.y_train, parent.Xt_test, parent.y_test
        )  # fmt: skip
        X_eval, prior_fit_time, depth = parent.Xt_train_eval, parent.fit_time, parent.depth
    fit_params = _steps.params_for(
        est, _sklearn.split_params(data.X, data.fit_params, train), _step_names(data.estimator)
    )
    resume = unit.resume
    # continue only what was fitted from the same depth or above it (never with fit
    # params, which would need routing to the final step): else refit, as without one
    if resume is not None and (previous is None or previous.depth > depth or fit_params):
        resume = None
    if resume is not None:
        est = copy.deepcopy(previous.estimator)  # the held copy stays as it was
        if depth > previous.depth:
            est = est[depth - previous.depth :]
    fit_error = parent.error if parent is not None else None
    if fit_error is None:
        try:
            if resume is not None:
                continue_fit(est, X_train, y_train, resume)
            else:
                _fit(est, X_train, y_train, fit_params)
        except Exception:
            if data.error_score == "raise":
                raise
            fit_error = traceback.format_exc()
    fit_time = time.time() - start
    score_time = 0.0
    if fit_error is not None:
        test_scores = _error_scores(data)
        train_scores = test_scores if data.return_train_score else None
    else:
        test_scores = _sklearn.score(
            est, X_test, y_test, data.scorer,
            _sklearn.split_params(data.X, data.score_params, test), data.error_score,
        )  # fmt: skip
        score_time = time.time() - start - fit_time  # as scikit-learn: without train scores
        train_scores = None
        if data.return_train_score:
            train_scores = _sklearn.score(
                est, X_eval, y_train, data.scorer,
                _sklearn.split_params(data.X, data.score_params, train), data.error_score,
            )  # fmt: skip
    end = time.time()
    result = UnitResult(
        id=unit.id, status="ok" if fit_error is None else "error", test_scores=test_scores,
        train_scores=train_scores, error=fit_error, fit_time=prior_fit_time + fit_time,
        score_time=score_time,
        fit_cpu_s=time.thread_time() - cpu0, start=start, end=end, worker=address,
        n_test_samples=len(test), continued=resume is not None,
    )  # fmt: skip
    if fit_error is not None:
        return result, None
    if parent is not None:  # the whole pipeline, so a later rung can continue from any depth
        from sklearn.pipeline import Pipeline

        est = Pipeline([*parent.steps, *est.steps])
    return result, Fitted(est, 0)

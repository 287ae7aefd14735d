"""Estimators for the engine's tests: they count fits in a file, sleep, fail or probe threads.

Workers are separate processes, so counts go to a file (one line per fit, appended).
The module is pickled by value, so worker processes need not import it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cloudpickle
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.linear_model import Ridge

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _count(path: str | None, text: str = "fit") -> None:
    if path:
        with open(path, "a") as f:
            f.write(text + "\n")


def count_lines(path: str | Path) -> int:
    p = Path(path)
    return len(p.read_text().splitlines()) if p.exists() else 0


class CountingScaler(TransformerMixin, BaseEstimator):
    """Multiplies X by ``scale`` after centring; appends a line to ``path`` on every fit."""

    def __init__(self, scale=1.0, path=None):
        self.scale = scale
        self.path = path

    def fit(self, X, y=None):
        _count(self.path)
        self.mean_ = np.asarray(X).mean(axis=0)
        return self

    def transform(self, X):
        return (np.asarray(X) - self.mean_) * self.scale


class SlowRidge(RegressorMixin, BaseEstimator):
    """Ridge that sleeps ``delay`` seconds per fit and counts fits in ``path``."""

    def __init__(self, alpha=1.0, delay=0.0, path=None):
        self.alpha = alpha
        self.delay = delay
        self.path = path

    def fit(self, X, y):
        time.sleep(self.delay)
        self.ridge_ = Ridge(alpha=self.alpha).fit(X, y)
        _count(self.path)
        return self

    def predict(self, X):
        return self.ridge_.predict(X)


class FailingRidge(RegressorMixin, BaseEstimator):
    """Ridge whose fit raises ValueError for ``alpha == fail_alpha``."""

    def __init__(self, alpha=1.0, fail_alpha=-1.0):
        self.alpha = alpha
        self.fail_alpha = fail_alpha

    def fit(self, X, y):
        if self.alpha == self.fail_alpha:
            raise ValueError(f"alpha {self.alpha} is cursed")
        self.ridge_ = Ridge(alpha=self.alpha).fit(X, y)
        return self

    def predict(self, X):
        return self.ridge_.predict(X)


class ThreadProbe(RegressorMixin, BaseEstimator):
    """Records the largest BLAS/OpenMP thread count it sees during fit into ``path``."""

    def __init__(self, alpha=1.0, path=None):
        self.alpha = alpha
        self.path = path

    def fit(self, X, y):
        from threadpoolctl import threadpool_info

        n = max((info["num_threads"] for info in threadpool_info()), default=0)
        _count(self.path, str(n))
        self.ridge_ = Ridge(alpha=self.alpha).fit(X, y)
        return self

    def predict(self, X):
        return self.ridge_.predict(X)


class EpochMLP(RegressorMixin, BaseEstimator):
    """A small MLPRegressor trained to exactly ``max_iter`` epochs; logs each fit to ``path``.

    Each fit appends ``"<epochs before> <epochs after> <rows>"``. With ``warm_start`` it
    continues its network up to ``max_iter`` epochs in all (daskcloud's "total" mode).
    """

    def __init__(self, alpha=1e-4, max_iter=5, warm_start=False, path=None):
        self.alpha = alpha
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.path = path

    def fit(self, X, y):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        start = 0
        if getattr(self, "warm_start", False) and hasattr(self, "mlp_"):
            start = self.n_iter_
        else:
            # tol=0 with an unreachable n_iter_no_change: every epoch of max_iter runs
            self.mlp_ = MLPRegressor(hidden_layer_sizes=(64, 64), alpha=self.alpha, tol=0.0,
                                     n_iter_no_change=10**6, random_state=0)  # fmt: skip
        self.n_iter_ = start
        if self.max_iter > start:
            # scikit-learn's MLP counts max_iter (and n_iter_) per fit call, not in all
            self.mlp_.set_params(max_iter=self.max_iter - start, warm_start=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.mlp_.fit(X, y)
            self.n_iter_ += self.mlp_.n_iter_
        _count(self.path, f"{start} {self.n_iter_} {len(X)}")
        return self

    def predict(self, X):
        return self.mlp_.predict(X)


class StepRidge(RegressorMixin, BaseEstimator):
    """Ridge trained by ``max_iter`` steps of gradient descent from zero; logs each fit.

    With ``warm_start`` it continues its coefficients up to ``max_iter`` steps in all
    ("total" mode): a continued fit does the very arithmetic a fresh one does, so its
    scores equal a fresh fit's bit for bit. A fit of ``alpha == hang_alpha`` to more than
    ``hang_above`` steps sleeps ``hang_s`` seconds first (a fit that hangs on a later
    rung). Each fit appends ``"<alpha> <steps before> <steps after> <rows>"`` to ``path``.
    """

    def __init__(self, alpha=1.0, max_iter=5, warm_start=False, hang_alpha=None,
                 hang_above=0, hang_s=600.0, path=None):  # fmt: skip
        self.alpha = alpha
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.hang_alpha = hang_alpha
        self.hang_above = hang_above
        self.hang_s = hang_s
        self.path = path

    def fit(self, X, y):
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        start = self.n_iter_ if self.warm_start and hasattr(self, "coef_") else 0
        if start == 0:
            self.coef_ = np.zeros(X.shape[1])
        if self.alpha == self.hang_alpha and self.max_iter > self.hang_above:
            time.sleep(self.hang_s)
        for _ in range(start, self.max_iter):
            grad = X.T @ (X @ self.coef_ - y) / len(X) + self.alpha * self.coef_
            self.coef_ = self.coef_ - 0.1 * grad
        self.n_iter_ = max(start, self.max_iter)
        _count(self.path, f"{self.alpha} {start} {self.n_iter_} {len(X)}")
        return self

    def predict(self, X):
        return np.asarray(X, dtype=float) @ self.coef_


class ColdEpochMLP(EpochMLP):
    """:class:`EpochMLP` without a ``warm_start`` parameter: every fit starts anew."""

    def __init__(self, alpha=1e-4, max_iter=5, path=None):
        self.alpha = alpha
        self.max_iter = max_iter
        self.path = path


class Stateless(TransformerMixin, BaseEstimator):
    """Adds ``shift`` to X; its ``fit`` stores nothing (as many users' transformers do)."""

    def __init__(self, shift=1.0):
        self.shift = shift

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float) + self.shift


class FitOnlyScaler(BaseEstimator):
    """Scales X by its training standard deviation; has ``fit`` and ``transform`` only."""

    def fit(self, X, y=None):
        self.scale_ = np.asarray(X, dtype=float).std(axis=0) + 1.0
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float) / self.scale_


class WeightedCentre(TransformerMixin, BaseEstimator):
    """Centres X on its ``sample_weight``-weighted mean (a step that consumes fit metadata)."""

    def fit(self, X, y=None, sample_weight=None):
        self.mean_ = np.average(np.asarray(X, dtype=float), axis=0, weights=sample_weight)
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float) - self.mean_

"""The Rossmann model: features -> scaling -> an MLP on log(Sales) with an RMSPE correction.

:func:`make_pipeline` builds the scikit-learn ``Pipeline`` a search tunes;
:func:`default_search_space` is the grid the main job searches by default.
The pipeline fits on the raw joined train frame: every row goes through the
features, and the final step learns only from open rows with Sales > 0 and
predicts 0 for closed rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted, validate_data

from daskcloud.exceptions import ConfigError, DataError
from daskcloud.rossmann.features import RossmannFeatures

__all__ = ["LogTargetMLP", "default_search_space", "make_pipeline"]


def _checked_data(
    estimator: BaseEstimator, X: object, y: object = "no_validation", *, reset: bool
) -> Any:
    """scikit-learn's ``validate_data`` for a numeric model: a dense, finite float32/float64
    matrix (float32 kept, anything else made float64), ``n_features_in_`` learned (``reset``)
    or checked; given ``y`` (fitting, where None is an error), ``(X, y)`` with a numeric 1-d
    ``y`` and at least 2 rows.

    Raises:
        DataError: scikit-learn's ValueError, prefixed by the estimator's name (a TypeError,
            such as for an object that is no number, is left as it is).
    """
    checks: dict[str, Any] = {"reset": reset, "dtype": (np.float64, np.float32)}
    if not (isinstance(y, str) and y == "no_validation"):
        checks |= {"y": y, "y_numeric": True, "ensure_min_samples": 2}
    try:
        return validate_data(estimator, X, **checks)
    except ValueError as e:
        raise DataError(f"{type(estimator).__name__}: {e}") from e


def _rmspe_factor(y: np.ndarray, pred: np.ndarray) -> float:
    """The scalar c minimising RMSPE(y, c * pred): c = Σ(p/y) / Σ(p/y)² (closed form)."""
    ratio = pred / y
    denom = float(np.dot(ratio, ratio))
    return float(ratio.sum() / denom) if denom > 0 else 1.0


class LogTargetMLP(RegressorMixin, BaseEstimator):
    """``MLPRegressor`` on standardised log(Sales), back-transformed with an RMSPE correction.

    ``X`` is a numeric matrix whose column ``open_column`` holds ``Open``
    (1 open, 0 closed), as :class:`~daskcloud.rossmann.features.RossmannFeatures`
    and the ``scale`` step of :func:`make_pipeline` emit it. ``fit`` drops the
    closed rows and the rows with ``y <= 0``, fits the MLP on the standardised
    log of the rest, then — if ``correction`` — fits one factor ``c`` minimising
    RMSPE of ``c * exp(prediction)`` on those training rows (``exp`` of a log-scale
    fit over-predicts under RMSPE; see the facts file §3). ``predict`` returns 0
    for closed rows. The ``open_column`` itself is not an input of the MLP.

    Parameters other than ``correction`` and ``open_column`` are passed to
    ``MLPRegressor``; a run that stops at ``max_iter`` is expected (a budget),
    so its ``ConvergenceWarning`` is silenced and ``converged_`` records it.
    With ``warm_start=True`` a second ``fit`` continues ``mlp_`` up to ``max_iter``
    epochs in all (``n_iter_``), as successive halving's resource wants: raising
    ``max_iter`` from 9 to 27 trains 18 more epochs, not 27.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = np.c_[np.ones(400), rng.normal(size=(400, 2))]
        >>> y = np.exp(8 + 0.3 * X[:, 1])
        >>> model = LogTargetMLP(max_iter=50, early_stopping=False).fit(X, y)
        >>> bool(np.all(model.predict(np.c_[np.zeros(2), np.zeros((2, 2))]) == 0))
        True
    """

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (64, 32),
        activation: str = "relu",
        alpha: float = 1e-4,
        batch_size: int = 256,
        learning_rate_init: float = 3e-3,
        max_iter: int = 40,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        tol: float = 1e-4,
        random_state: int | None = 0,
        correction: bool = True,
        open_column: int = 0,
        warm_start: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.correction = correction
        self.open_column = open_column
        self.warm_start = warm_start

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True  # a model of log(y): rows with y <= 0 are dropped
        return tags

    def _split_open(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs without the Open column, open mask)`` of a validated matrix."""
        if X.shape[1] < 2 or not 0 <= self.open_column < X.shape[1]:
            raise DataError(
                f"LogTargetMLP needs an Open column at index {self.open_column} and at least one "
                f"input column, got n_features={X.shape[1]}; put RossmannFeatures before it"
            )
        is_open = X[:, self.open_column] != 0
        return np.delete(X, self.open_column, axis=1), is_open

    def fit(self, X: object, y: object) -> LogTargetMLP:
        """Fit the MLP on log(y) over open rows with ``y > 0``, then the correction factor."""
        continuing = self.warm_start and hasattr(self, "mlp_")
        X, target = _checked_data(self, X, y, reset=not continuing)
        inputs, is_open = self._split_open(X)
        target = target.astype(np.float64)
        keep = is_open & (target > 0)
        if keep.sum() < 2:
            raise DataError(
                "fewer than 2 open rows with Sales > 0 to train on; pass more training rows"
            )
        inputs, target = inputs[keep], target[keep]
        log_y = np.log(target)
        if not continuing:
            self.y_mean_ = float(log_y.mean())
            self.y_scale_ = float(log_y.std()) or 1.0
            self.n_iter_ = 0
        epochs = self.max_iter - self.n_iter_
        if epochs > 0:
            self._fit_mlp(inputs, log_y, epochs, continuing)
        self.correction_ = 1.0
        if self.correction:
            self.correction_ = _rmspe_factor(target, self._raw_predict(inputs))
        return self

    def _fit_mlp(
        self, inputs: np.ndarray, log_y: np.ndarray, epochs: int, continuing: bool
    ) -> None:
        """Train ``epochs`` more epochs (scikit-learn's MLP counts ``max_iter`` per call)."""
        if not continuing:
            self.mlp_ = MLPRegressor(
                hidden_layer_sizes=self.hidden_layer_sizes,
                activation=self.activation,
                alpha=self.alpha,
                batch_size=self.batch_size,
                learning_rate_init=self.learning_rate_init,
                max_iter=self.max_iter,
                early_stopping=self.early_stopping,
                validation_fraction=self.validation_fraction,
                n_iter_no_change=self.n_iter_no_change,
                tol=self.tol,
                random_state=self.random_state,
            )
        self.mlp_.set_params(max_iter=epochs, warm_start=continuing)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                # a halving rung's subsample can hold fewer rows than a batch: clipped, as meant
                warnings.filterwarnings("ignore", message="Got `batch_size` less than 1")
                self.mlp_.fit(inputs, ((log_y - self.y_mean_) / self.y_scale_).astype(inputs.dtype))
        except ValueError as e:
            raise ConfigError(f"MLPRegressor rejected its parameters: {e}") from e
        self.n_iter_ += self.mlp_.n_iter_
        self.converged_ = self.mlp_.n_iter_ < epochs

    def _raw_predict(self, inputs: np.ndarray) -> np.ndarray:
        z = self.mlp_.predict(inputs).astype(np.float64)
        # Clip to a generous range so an untrained net cannot overflow exp().
        return np.exp(np.clip(z * self.y_scale_ + self.y_mean_, -50.0, 50.0))

    def predict(self, X: object) -> np.ndarray:
        """Corrected sales predictions; 0 for closed rows."""
        check_is_fitted(self, "mlp_")
        inputs, is_open = self._split_open(_checked_data(self, X, reset=False))
        pred = np.zeros(inputs.shape[0])
        if is_open.any():
            pred[is_open] = self.correction_ * self._raw_predict(inputs[is_open])
        return pred


def _scaler() -> ColumnTransformer:
    """Standardise every column but the first (``Open``), which passes through unchanged first."""
    return ColumnTransformer(
        [("open", "passthrough", [0]), ("num", StandardScaler(), slice(1, None))],
        sparse_threshold=0.0,
    )


def make_pipeline(**params: Any) -> Pipeline:
    """The Rossmann pipeline ``features -> scale -> mlp``, with ``params`` set on it.

    ``params`` use pipeline names, as a search varies them: ``mlp__alpha``,
    ``mlp__hidden_layer_sizes``, ``mlp__learning_rate_init``, ``mlp__batch_size``,
    ``mlp__max_iter``, ``mlp__early_stopping``, ``features__store_aggregates``,
    ``features__event_window``, ``features__store_encoding``, ... (see
    ``make_pipeline().get_params()``).

    Raises:
        ConfigError: for a parameter the pipeline does not have.

    Example:
        >>> pipe = make_pipeline(mlp__alpha=1e-3, features__event_window=14)
        >>> pipe.get_params()["mlp__alpha"], list(pipe.named_steps)
        (0.001, ['features', 'scale', 'mlp'])
    """
    pipe = Pipeline(
        [("features", RossmannFeatures()), ("scale", _scaler()), ("mlp", LogTargetMLP())]
    )
    return set_pipeline_params(pipe, params, ("features", "mlp"))


def set_pipeline_params(
    pipe: Pipeline, params: Mapping[str, Any], hint_steps: tuple[str, ...]
) -> Pipeline:
    """``pipe.set_params(**params)``, with a ConfigError naming any unknown parameter and
    listing the valid ones of ``hint_steps`` (the steps a search usually varies)."""
    valid = pipe.get_params(deep=True)
    unknown = sorted(k for k in params if k not in valid)
    if unknown:
        prefixes = tuple(f"{step}__" for step in hint_steps)
        hint = ", ".join(k for k in valid if k.startswith(prefixes))
        raise ConfigError(f"unknown pipeline parameter(s) {unknown}; valid ones: {hint}")
    return pipe.set_params(**params)


def default_search_space() -> dict[str, list[Any]]:
    """The default space of the Rossmann search: a grid of 72 candidates around the default MLP.

    Four network sizes (the default 64-32 and three smaller ones, which fit the
    small preset as well for less CPU), three L2 penalties, two learning rates and
    three batch sizes; the default parameters are one of the candidates. The
    features stay at their defaults, so every candidate shares one fitted
    ``features`` step per fold. The main job runs successive halving over it with
    training epochs as the resource; a grid search fits all 72 on every fold.
    """
    return {
        "mlp__hidden_layer_sizes": [(16,), (32,), (64,), (64, 32)],
        "mlp__alpha": [1e-4, 1e-3, 1e-2],
        "mlp__learning_rate_init": [3e-3, 1e-2],
        "mlp__batch_size": [128, 256, 512],
    }

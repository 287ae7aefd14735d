"""Entity-embedding neural network for Rossmann (Guo & Berkhahn 2016), scikit-learn compatible.

The 3rd-place Rossmann solution gave every categorical input — store, day of
week, day of month, month, year, promo, state holiday, … — a small learned
embedding instead of a one-hot block, and fed the embeddings with the
continuous inputs through dense ReLU layers. :class:`EntityEmbeddingRegressor`
is that network as a scikit-learn regressor, trained with skorch on
log(Sales) of open days, with the same RMSPE back-transform correction as the
scikit-learn MLP. It fits in the same Pipeline, searches and halving: epochs
are its resource, and ``warm_start=True`` (or ``partial_fit``) continues
training instead of restarting.

torch and skorch are an optional extra, imported on first use::

    pip install 'daskcloud[torch]'
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.pipeline import Pipeline
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from daskcloud.exceptions import ConfigError, DataError
from daskcloud.rossmann._embedding_inputs import (
    DEFAULT_CATEGORICAL,
    GUO_EMBEDDING_DIMS,
    checked_frame,
    embedding_dim,
    find_categoricals,
)
from daskcloud.rossmann.features import RossmannFeatures
from daskcloud.rossmann.model import _rmspe_factor, set_pipeline_params

__all__ = [
    "DEFAULT_CATEGORICAL",
    "GUO_EMBEDDING_DIMS",
    "EntityEmbeddingRegressor",
    "default_embedding_space",
    "embedding_dim",
    "make_embedding_pipeline",
    "require_torch",
]

_INSTALL = "pip install 'daskcloud[torch]'"


def require_torch() -> tuple[Any, Any]:
    """``(torch, skorch)``, imported now; ConfigError with the install command when missing."""
    try:
        torch = importlib.import_module("torch")
        skorch = importlib.import_module("skorch")
    except ImportError as e:
        raise ConfigError(
            f"the entity-embedding model needs PyTorch and skorch ({e.name} is not installed); "
            f"install them with: {_INSTALL}"
        ) from e
    return torch, skorch


@contextlib.contextmanager
def _torch_threads(torch: Any, n_threads: int | None) -> Iterator[None]:
    """Run with ``n_threads`` torch CPU threads, then restore the previous setting."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(_check_positive_int("n_threads", n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class EntityEmbeddingRegressor(RegressorMixin, BaseEstimator):
    """Entity embeddings + MLP (PyTorch, trained by skorch) on log(Sales), RMSPE-corrected.

    ``X`` is a DataFrame of named features — :class:`~daskcloud.rossmann.features.RossmannFeatures`
    with ``set_output(transform="pandas")``, as :func:`make_embedding_pipeline` builds it.
    Each name in ``categorical`` becomes one embedding: a one-hot block
    ``<name>_<value>`` is read back as one code per row (``Store_1``, ``Store_2``, …
    → store code), a single discrete column is coded by its sorted training values;
    unseen values get a code of their own. All other columns are continuous inputs,
    standardised on the training rows. The ``open_column`` is no input: ``fit`` learns
    from open rows with ``y > 0`` only and ``predict`` returns 0 for closed rows.

    Training minimises the squared error of standardised log(y) with Adam for
    ``max_epochs`` epochs; afterwards one factor ``c`` minimising RMSPE of
    ``c * exp(prediction)`` on the training rows is fitted, the same correction as
    :class:`~daskcloud.rossmann.model.LogTargetMLP`.

    Epochs are the resource of successive halving: with ``warm_start=True`` a
    second ``fit`` keeps the network, encodings and optimizer state and trains
    ``max_epochs - n_epochs_`` more epochs (none when already there), so raising
    ``max_epochs`` from 3 to 9 costs 6 epochs, not 9. ``partial_fit`` trains one
    more epoch. Both assume the same training rows, as scikit-learn's warm start does.

    Args:
        categorical: feature names embedded rather than fed as numbers.
        embedding_dims: width per categorical name; default Guo & Berkhahn's
            (Store 10, DayOfWeek 6, DayOfMonth 10, Month 6, Year 2, Promo 1), else
            ``min(10, (n + 1) // 2)`` for ``n`` values.
        hidden_layer_sizes: dense ReLU layers (the paper used 1000 and 500).
        dropout: dropout after each dense layer.
        embedding_dropout: dropout on the concatenated embeddings.
        learning_rate_init: Adam's learning rate.
        weight_decay: Adam's L2 penalty.
        batch_size: rows per gradient step.
        max_epochs: total epochs of training.
        warm_start: continue training on the next ``fit`` instead of restarting.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        random_state: seed of the weights and batch order.
        open_column: name of the Open column, or None when every row is open.
        n_threads: CPU threads of torch during fit and predict; None leaves torch's
            default. One is fastest for nets this small, and the only sane value when
            other processes share the cores (torch's spinning threads then slow it ~10x).
        verbose: 1 prints skorch's per-epoch table.

    Attributes:
        net_: the fitted ``skorch.NeuralNetRegressor``.
        n_epochs_: epochs trained so far.
        device_: the device used.
        correction_: the RMSPE back-transform factor.
        cardinalities_, embedding_dims_: per categorical input, in ``categorical_names_`` order.

    Example:
        >>> pipe = make_embedding_pipeline(net__max_epochs=3)  # doctest: +SKIP
        >>> pipe.fit(X, y).predict(X_test)                      # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        categorical: Sequence[str] = DEFAULT_CATEGORICAL,
        embedding_dims: Mapping[str, int] | None = None,
        hidden_layer_sizes: Sequence[int] = (256, 128),
        dropout: float = 0.0,
        embedding_dropout: float = 0.0,
        learning_rate_init: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 512,
        max_epochs: int = 10,
        warm_start: bool = False,
        device: str = "auto",
        random_state: int = 0,
        open_column: str | None = "Open",
        n_threads: int | None = 1,
        verbose: int = 0,
    ) -> None:
        self.categorical = categorical
        self.embedding_dims = embedding_dims
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.embedding_dropout = embedding_dropout
        self.learning_rate_init = learning_rate_init
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.open_column = open_column
        self.n_threads = n_threads
        self.verbose = verbose

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # a missing category is unseen, a missing number 0
        tags.target_tags.positive_only = True  # a model of log(y): rows with y <= 0 are dropped
        return tags

    # --- validation -------------------------------------------------------------------------
    def _resolve_device(self, torch: Any) -> str:
        device = str(self.device)
        if device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu":
            return device
        if device == "cuda" or device.startswith("cuda:"):
            if not torch.cuda.is_available():
                raise ConfigError(
                    f"device={device!r} but PyTorch sees no CUDA device; use device='auto' or 'cpu'"
                )
            return device
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")

    def _check_params(self) -> None:
        _check_positive_int("max_epochs", self.max_epochs)
        _check_positive_int("batch_size", self.batch_size)
        if self.n_threads is not None:
            _check_positive_int("n_threads", self.n_threads)
        for size in self.hidden_layer_sizes:
            _check_positive_int("hidden_layer_sizes entries", size)
        for name in ("dropout", "embedding_dropout"):
            value = getattr(self, name)
            if not 0.0 <= float(value) < 1.0:
                raise ConfigError(f"{name} must lie in [0, 1), got {value!r}")
        if float(self.learning_rate_init) <= 0 or float(self.weight_decay) < 0:
            raise ConfigError(
                f"learning_rate_init must be > 0 and weight_decay >= 0, got "
                f"{self.learning_rate_init!r} and {self.weight_decay!r}"
            )

    # --- encoding ---------------------------------------------------------------------------
    def _rows(self, X: pd.DataFrame) -> np.ndarray:
        if self.open_column is None:
            return np.ones(len(X), dtype=bool)
        if self.open_column not in X.columns:
            raise DataError(
                f"column {self.open_column!r} is missing from the model's input; pass the output "
                "of RossmannFeatures().set_output(transform='pandas') or set open_column=None"
            )
        return X[self.open_column].to_numpy(dtype=np.float64) != 0

    def _learn_encoding(self, X: pd.DataFrame, log_y: np.ndarray) -> None:
        self.categoricals_ = find_categoricals(X, list(self.categorical))
        used = {c for cat in self.categoricals_ for c in cat.columns} | {self.open_column}
        self.continuous_ = [c for c in X.columns if c not in used]
        cont = X[self.continuous_].to_numpy(dtype=np.float64)
        self.cont_mean_ = np.nanmean(cont, axis=0) if cont.size else np.zeros(0)
        scale = np.nanstd(cont, axis=0) if cont.size else np.zeros(0)
        self.cont_scale_ = np.where(scale > 0, scale, 1.0)
        self.target_mean_ = float(log_y.mean())
        self.target_scale_ = float(log_y.std()) or 1.0
        dims = dict(self.embedding_dims or {})
        self.categorical_names_ = [cat.name for cat in self.categoricals_]
        self.cardinalities_ = [cat.cardinality for cat in self.categoricals_]
        self.embedding_dims_ = [
            int(dims.get(cat.name, embedding_dim(cat.name, cat.cardinality - 1)))
            for cat in self.categoricals_
        ]

    def _encode(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        cat = np.zeros((len(X), len(self.categoricals_)), dtype=np.int64)
        for j, spec in enumerate(self.categoricals_):
            cat[:, j] = spec.codes(X)
        cont = (X[self.continuous_].to_numpy(dtype=np.float64) - self.cont_mean_) / self.cont_scale_
        return {"cat": cat, "cont": np.nan_to_num(cont, nan=0.0).astype(np.float32)}

    # --- training ---------------------------------------------------------------------------
    def _build_net(self, torch: Any, skorch: Any) -> Any:
        from daskcloud.rossmann._embedding_net import BatchLoader, EmbeddingMLP

        return skorch.NeuralNetRegressor(
            module=EmbeddingMLP,
            module__cardinalities=self.cardinalities_,
            module__embedding_dims=self.embedding_dims_,
            module__n_continuous=len(self.continuous_),
            module__hidden_layer_sizes=tuple(int(s) for s in self.hidden_layer_sizes),
            module__dropout=float(self.dropout),
            module__embedding_dropout=float(self.embedding_dropout),
            criterion=torch.nn.MSELoss,
            optimizer=torch.optim.Adam,
            optimizer__weight_decay=float(self.weight_decay),
            lr=float(self.learning_rate_init),
            batch_size=int(self.batch_size),
            iterator_train=BatchLoader,
            iterator_train__shuffle=True,
            iterator_valid=BatchLoader,
            iterator_valid__batch_size=8192,
            train_split=None,
            max_epochs=int(self.max_epochs),
            device=self.device_,
            verbose=int(self.verbose),
        )

    def _train(self, X: object, y: object, epochs_of: Any) -> EntityEmbeddingRegressor:
        """Shared by fit and partial_fit: ``epochs_of(fitted_before)`` says how many to train."""
        torch, skorch = require_torch()
        self._check_params()
        with _torch_threads(torch, self.n_threads):
            return self._train_with(torch, skorch, X, y, epochs_of)

    def _train_with(
        self, torch: Any, skorch: Any, X: object, y: object, epochs_of: Any
    ) -> EntityEmbeddingRegressor:
        fitted = hasattr(self, "net_")
        frame, target = checked_frame(self, X, y, reset=not fitted)
        keep = self._rows(frame) & (target > 0)
        if keep.sum() < 2:
            raise DataError("fewer than 2 open rows with Sales > 0 to train on; pass more rows")
        frame, target = frame.loc[keep], target[keep]
        log_y = np.log(target)
        if fitted and list(frame.columns) != list(self.feature_names_in_):
            raise DataError(
                "warm start continues training on the same features, but the columns changed; "
                "set warm_start=False to train a new network"
            )
        if not fitted:
            self.device_ = self._resolve_device(torch)
            self._learn_encoding(frame, log_y)
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
            self.n_features_in_ = len(self.feature_names_in_)
            torch.manual_seed(int(self.random_state))
            self.net_ = self._build_net(torch, skorch).initialize()
        inputs = self._encode(frame)
        scaled = ((log_y - self.target_mean_) / self.target_scale_).astype(np.float32)
        epochs = int(epochs_of(fitted))
        if epochs > 0:
            # Seeded per epoch count, so a continued run is reproducible too.
            torch.manual_seed(int(self.random_state) + len(self.net_.history))
            self.net_.max_epochs = epochs
            self.net_.partial_fit(inputs, scaled.reshape(-1, 1))
        self.n_epochs_ = len(self.net_.history)
        self.correction_ = _rmspe_factor(target, self._raw_predict(inputs))
        return self

    def fit(self, X: object, y: object) -> EntityEmbeddingRegressor:
        """Train ``max_epochs`` epochs; with ``warm_start``, continue to ``max_epochs`` in all."""
        if not self.warm_start:
            self.__dict__.pop("net_", None)
        return self._train(
            X,
            y,
            lambda fitted: self.max_epochs - self.n_epochs_ if fitted else self.max_epochs,
        )

    def partial_fit(self, X: object, y: object) -> EntityEmbeddingRegressor:
        """Train one more epoch (the first call builds the network)."""
        return self._train(X, y, lambda fitted: 1)

    # --- prediction -------------------------------------------------------------------------
    def _raw_predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        z = self.net_.predict(inputs).astype(np.float64).ravel()
        # Clip so an untrained net cannot overflow exp().
        return np.exp(np.clip(z * self.target_scale_ + self.target_mean_, -50.0, 50.0))

    def predict(self, X: object) -> np.ndarray:
        """Corrected sales predictions; 0 for closed rows."""
        check_is_fitted(self, "net_")
        torch, _ = require_torch()
        frame, _ = checked_frame(self, X, reset=False)
        is_open = self._rows(frame)
        pred = np.zeros(len(frame))
        if is_open.any():
            inputs = self._encode(frame.loc[is_open])
            with _torch_threads(torch, self.n_threads):
                pred[is_open] = self.correction_ * self._raw_predict(inputs)
        return pred


def make_embedding_pipeline(**params: Any) -> Pipeline:
    """The entity-embedding pipeline ``features -> net``, with ``params`` set on it.

    ``features`` is :class:`~daskcloud.rossmann.features.RossmannFeatures` with
    pandas output (the net reads the one-hot blocks back as codes by name);
    ``net`` is :class:`EntityEmbeddingRegressor`. ``params`` use pipeline names, as a
    search varies them: ``net__hidden_layer_sizes``, ``net__learning_rate_init``,
    ``net__max_epochs``, ``net__dropout``, ``features__store_aggregates``, …

    Raises:
        ConfigError: for a parameter the pipeline does not have, or when torch is missing.

    Example:
        >>> pipe = make_embedding_pipeline(net__max_epochs=3)  # doctest: +SKIP
        >>> list(pipe.named_steps)                              # doctest: +SKIP
        ['features', 'net']
    """
    require_torch()
    pipe = Pipeline(
        [
            ("features", RossmannFeatures().set_output(transform="pandas")),
            ("net", EntityEmbeddingRegressor()),
        ]
    )
    return set_pipeline_params(pipe, params, ("features", "net"))


def default_embedding_space() -> dict[str, list[Any]]:
    """The default grid of the embedding search: 16 candidates.

    ``net__max_epochs`` is the resource of successive halving (a halving
    strategy overrides it per rung, continuing training with warm start).
    """
    return {
        "features__store_aggregates": [True, False],
        "net__hidden_layer_sizes": [(256, 128), (512, 256)],
        "net__learning_rate_init": [1e-3, 3e-3],
        "net__dropout": [0.0, 0.1],
    }

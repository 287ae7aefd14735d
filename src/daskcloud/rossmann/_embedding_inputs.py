"""Inputs of the entity-embedding network: which features are embedded, how they are coded.

A categorical input is read either from a one-hot block ``<name>_<value>`` (as
:class:`~daskcloud.rossmann.features.RossmannFeatures` emits Store, DayOfWeek,
Month, ...) or from one discrete column (DayOfMonth, Year, Promo, ...), and coded
1..n; 0 is kept for values unseen in training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import check_array, check_X_y

from daskcloud.exceptions import DataError

__all__ = [
    "DEFAULT_CATEGORICAL",
    "GUO_EMBEDDING_DIMS",
    "Categorical",
    "checked_frame",
    "embedding_dim",
    "find_categoricals",
]

#: categorical inputs, by feature name: a one-hot block ``<name>_<value>`` or one discrete column.
#: Guo & Berkhahn also embedded the day of month; on the synthetic presets that overfit
#: (holdout RMSPE 0.096 against 0.093 with DayOfMonth, WeekOfYear as plain numbers).
DEFAULT_CATEGORICAL: tuple[str, ...] = (
    "Store",
    "DayOfWeek",
    "Month",
    "Year",
    "Promo",
    "StateHoliday",
    "StoreType",
    "Assortment",
    "PromoInterval",
)

#: embedding widths of Guo & Berkhahn (arXiv:1604.06737, §VI); others use :func:`embedding_dim`
GUO_EMBEDDING_DIMS: Mapping[str, int] = {
    "Store": 10,
    "DayOfWeek": 6,
    "DayOfMonth": 10,
    "Month": 6,
    "Year": 2,
    "Promo": 1,
    "State": 6,
}


def embedding_dim(name: str, cardinality: int) -> int:
    """Embedding width: Guo & Berkhahn's where they give one, else ``min(10, (n + 1) // 2)``."""
    if name in GUO_EMBEDDING_DIMS:
        return GUO_EMBEDDING_DIMS[name]
    return max(1, min(10, (int(cardinality) + 1) // 2))


def checked_frame(
    estimator: object, X: object, y: object = "no_validation", *, reset: bool
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """``(X as a DataFrame, y as float64 or None)`` after scikit-learn's input checks.

    ``X`` must be dense, 2-d and numeric with no infinity; missing values are allowed (a
    missing category codes as unseen, a missing number standardises to 0). A plain matrix
    gets the column names ``x0``, ``x1``, ... Given ``y`` (fitting, where None is an
    error), ``y`` must be numeric, finite and as long as ``X``, and there are at least 2
    rows. Unless ``reset`` (a first fit), ``X`` must have the ``n_features_in_`` columns
    the estimator learned.

    Raises:
        DataError: scikit-learn's ValueError, prefixed by the estimator's name (a TypeError,
            such as for an object that is no number, is left as it is).
    """
    name = type(estimator).__name__
    checks: dict[str, Any] = {
        "accept_sparse": False,
        "ensure_all_finite": "allow-nan",
        "dtype": "numeric",
    }
    target = None
    try:
        if not (isinstance(y, str) and y == "no_validation"):
            arr, target = check_X_y(
                X, y, y_numeric=True, ensure_min_samples=2, estimator=name, **checks
            )
            target = np.asarray(target, dtype=np.float64)
        else:
            arr = check_array(X, estimator=name, **checks)
    except ValueError as e:
        raise DataError(f"{name}: {e}") from e
    expected = getattr(estimator, "n_features_in_", None)
    if not reset and expected is not None and arr.shape[1] != expected:
        raise DataError(
            f"X has {arr.shape[1]} features, but {name} is expecting {expected} features "
            "as input; pass the columns it was fitted on"
        )
    if isinstance(X, pd.DataFrame):
        return X, target
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])]), target


class Categorical:
    """How one categorical input is read: a one-hot block or a discrete column, coded 1..n."""

    def __init__(self, name: str, columns: list[str], values: np.ndarray | None) -> None:
        self.name = name
        self.columns = columns  # one-hot block (values is None) or one discrete column
        self.values = values  # sorted training values of a discrete column
        self.cardinality = (len(columns) if values is None else len(values)) + 1

    def codes(self, X: pd.DataFrame) -> np.ndarray:
        """Codes 1..n for known values, 0 for unseen or missing ones."""
        if self.values is None:
            block = X[self.columns].to_numpy(dtype=np.float32)
            return np.where(block.max(axis=1) > 0, block.argmax(axis=1) + 1, 0)
        col = X[self.columns[0]].to_numpy(dtype=np.float64)
        pos = np.searchsorted(self.values, col)
        pos = np.clip(pos, 0, len(self.values) - 1)
        return np.where(self.values[pos] == col, pos + 1, 0)


def find_categoricals(X: pd.DataFrame, names: Sequence[str]) -> list[Categorical]:
    found = []
    columns = [str(c) for c in X.columns]
    for name in names:
        block = [c for c in columns if c.startswith(f"{name}_")]
        if block:
            found.append(Categorical(name, block, None))
        elif name in columns:
            values = np.unique(X[name].to_numpy(dtype=np.float64))
            found.append(Categorical(name, [name], values[~np.isnan(values)]))
    return found

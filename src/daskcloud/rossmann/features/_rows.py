"""Which rows are open, which rows train a model, and the (X, y) split of a joined frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from daskcloud.exceptions import DataError

__all__ = ["open_mask", "split_xy", "training_mask"]


def open_mask(X: pd.DataFrame) -> np.ndarray:
    """Boolean array: the store is open. A missing ``Open`` (11 test rows) counts as open.

    Frames without an ``Open`` column count as all open.
    """
    if "Open" not in X.columns:
        return np.ones(len(X), dtype=bool)
    return (X["Open"].fillna(1).to_numpy() != 0).astype(bool)


def training_mask(X: pd.DataFrame, y: object) -> np.ndarray:
    """Rows a model learns from: open, and Sales > 0 (the 54 open zero-sales days drop out)."""
    target = np.asarray(y, dtype=np.float64).ravel()
    if target.shape[0] != len(X):
        raise DataError(f"X has {len(X)} rows but y has {target.shape[0]}; pass one target per row")
    mask = open_mask(X) & (target > 0)
    if not mask.any():
        raise DataError("no open row with Sales > 0 to learn from; pass training rows of train.csv")
    return mask


def split_xy(frame: pd.DataFrame, target: str = "Sales") -> tuple[pd.DataFrame, pd.Series]:
    """``(X, y)`` from a joined train frame: ``y`` is the ``Sales`` column, ``X`` everything else.

    ``Customers`` stays in ``X``: transformers read it in ``fit`` only (sales per customer).
    """
    if target not in frame.columns:
        raise DataError(f"column {target!r} is missing; pass the joined train frame, not test")
    return frame.drop(columns=[target]), frame[target]

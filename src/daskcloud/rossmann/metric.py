"""RMSPE, the Rossmann competition metric, and its scikit-learn scorer.

RMSPE = sqrt(mean(((y - ŷ) / y)²)) over the rows with y != 0; days with zero
sales (closed stores) are ignored, as on Kaggle's evaluation page.

>>> round(rmspe([100, 200, 0], [110, 180, 5]), 6)
0.1
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import make_scorer

from daskcloud.exceptions import DataError

__all__ = ["rmspe", "rmspe_scorer"]


def rmspe(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean square percentage error over the rows where ``y_true != 0``.

    Args:
        y_true: observed sales; rows equal to 0 are left out, as the competition does.
        y_pred: predictions, same length.

    Raises:
        DataError: if the lengths differ, or no row with ``y_true != 0`` is left.
    """
    true = np.asarray(y_true, dtype=np.float64).ravel()
    pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if true.shape != pred.shape:
        raise DataError(
            f"rmspe: y_true has {true.size} rows but y_pred has {pred.size}; "
            "pass one prediction per row"
        )
    mask = true != 0
    if not mask.any():
        raise DataError(
            "rmspe: every y_true is 0, so RMSPE is undefined; "
            "score rows with non-zero sales (open days)"
        )
    ratio = (true[mask] - pred[mask]) / true[mask]
    return float(np.sqrt(np.mean(ratio * ratio)))


#: ``scoring=`` for scikit-learn searches: the negated RMSPE (greater is better).
rmspe_scorer = make_scorer(rmspe, greater_is_better=False)

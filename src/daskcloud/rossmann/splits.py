"""Time-based splits: the 6-week holdout and an expanding-window CV splitter.

Rows are assigned by calendar date, never by position, so missing store-days
(the H2-2014 gap) and the file's descending row order do not matter. The
competition winner validated on the last 6 weeks of train; the test period is
6 weeks too, so both default to blocks of 6 weeks.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

from daskcloud.exceptions import ConfigError, DataError

__all__ = ["TimeSeriesFolds", "holdout_split"]


def _dates(frame: object, date_column: str) -> pd.Series:
    """The date column of ``frame`` as datetime64, or a DataError naming the fix."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"time-based splits need a pandas DataFrame with a {date_column!r} column, "
            f"got {type(frame).__name__}; pass the joined train frame"
        )
    if date_column not in frame.columns:
        raise DataError(
            f"column {date_column!r} is missing (columns: {', '.join(map(str, frame.columns))}); "
            "pass the frame from daskcloud.rossmann.load_rossmann or set date_column="
        )
    dates = frame[date_column]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        try:
            dates = pd.to_datetime(dates)
        except (ValueError, TypeError) as e:
            raise DataError(
                f"column {date_column!r} is not a date (example: {dates.iloc[0]!r}); "
                "use ISO dates like 2015-07-31"
            ) from e
    if dates.isna().any():
        raise DataError(f"column {date_column!r} has {int(dates.isna().sum())} missing dates")
    return dates


def _check_weeks(weeks: object, name: str = "weeks") -> int:
    if isinstance(weeks, bool) or not isinstance(weeks, int | np.integer) or weeks < 1:
        raise ConfigError(f"{name} must be a positive integer number of weeks, got {weeks!r}")
    return int(weeks)


def holdout_split(
    frame: pd.DataFrame, weeks: int = 6, *, date_column: str = "Date"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off the last ``weeks`` weeks of dates as a holdout.

    Returns ``(train_part, holdout_part)``: the holdout holds every row whose date
    lies within ``weeks * 7`` days of the latest date, the train part every earlier row.

    Raises:
        DataError: if either part would be empty.
        ConfigError: if ``weeks`` is not a positive integer.
    """
    weeks = _check_weeks(weeks)
    dates = _dates(frame, date_column)
    cutoff = dates.max() - pd.Timedelta(days=7 * weeks - 1)
    in_holdout = (dates >= cutoff).to_numpy()
    if in_holdout.all():
        raise DataError(
            f"the data spans fewer than {weeks} weeks "
            f"({dates.min():%Y-%m-%d}..{dates.max():%Y-%m-%d}); "
            "nothing is left to train on: pass a shorter holdout (weeks=)"
        )
    return frame.loc[~in_holdout], frame.loc[in_holdout]


class TimeSeriesFolds(BaseCrossValidator):
    """Expanding-window cross-validation over calendar weeks.

    The last ``n_splits * weeks`` weeks of dates are cut into ``n_splits``
    consecutive validation blocks of ``weeks`` weeks each. Fold ``k`` validates
    on block ``k`` and trains on every row dated before it (less ``gap_days``),
    so each fold trains on more history than the previous one and validates
    on a later block. Folds come out in time order. The splitter holds only
    its parameters, so it is deterministic and picklable.

    Args:
        n_splits: number of folds (>= 2).
        weeks: length of each validation block in weeks.
        date_column: the column of ``X`` holding the date.
        gap_days: days left out between training and validation rows.

    Example:
        >>> import pandas as pd
        >>> X = pd.DataFrame({"Date": pd.date_range("2015-01-01", periods=70)})
        >>> [(len(tr), len(va)) for tr, va in TimeSeriesFolds(3, weeks=2).split(X)]
        [(28, 14), (42, 14), (56, 14)]
    """

    def __init__(
        self, n_splits: int = 3, *, weeks: int = 6, date_column: str = "Date", gap_days: int = 0
    ) -> None:
        self.n_splits = n_splits
        self.weeks = weeks
        self.date_column = date_column
        self.gap_days = gap_days

    def _check_params(self) -> None:
        n = self.n_splits
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
            raise ConfigError(f"n_splits must be an integer >= 2, got {n!r}")
        _check_weeks(self.weeks)
        gap = self.gap_days
        if isinstance(gap, bool) or not isinstance(gap, int | np.integer) or gap < 0:
            raise ConfigError(f"gap_days must be a non-negative integer, got {gap!r}")

    def split(
        self, X: pd.DataFrame, y: object = None, groups: object = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_index, validation_index)`` positional index arrays, earliest fold first.

        Raises:
            DataError: if ``X`` has no date column or a fold would have no rows.
        """
        self._check_params()
        dates = _dates(X, self.date_column).to_numpy()
        end = dates.max()
        block = np.timedelta64(7 * int(self.weeks), "D")
        one_day = np.timedelta64(1, "D")
        gap = np.timedelta64(int(self.gap_days), "D")
        for k in range(int(self.n_splits) - 1, -1, -1):
            val_end = end - k * block
            val_start = val_end - block + one_day
            train = np.flatnonzero(dates < val_start - gap)
            valid = np.flatnonzero((dates >= val_start) & (dates <= val_end))
            if train.size == 0 or valid.size == 0:
                raise DataError(
                    f"fold {self.n_splits - k} of {self.n_splits} has an empty "
                    f"{'training' if train.size == 0 else 'validation'} part: the data spans "
                    f"{pd.Timestamp(dates.min()):%Y-%m-%d}..{pd.Timestamp(end):%Y-%m-%d}; "
                    "use fewer folds (n_splits=) or shorter blocks (weeks=)"
                )
            yield train, valid

    def get_n_splits(self, X: object = None, y: object = None, groups: object = None) -> int:
        """The number of folds, ``n_splits``."""
        self._check_params()
        return int(self.n_splits)

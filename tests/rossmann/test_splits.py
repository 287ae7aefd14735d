"""The 6-week holdout and the expanding-window CV splitter."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import cross_val_score

from daskcloud.exceptions import ConfigError, DataError
from daskcloud.rossmann.baseline import MedianBaseline
from daskcloud.rossmann.metric import rmspe_scorer
from daskcloud.rossmann.splits import TimeSeriesFolds, holdout_split


def _frame(days: int = 200, stores: int = 3, seed: int = 0) -> pd.DataFrame:
    """Rows for every store and day, shuffled (position must not matter), store 2 with a gap."""
    dates = pd.date_range("2014-01-01", periods=days)
    idx = pd.MultiIndex.from_product([range(1, stores + 1), dates], names=["Store", "Date"])
    frame = idx.to_frame(index=False)
    gap = (frame["Store"] == 2) & frame["Date"].between("2014-03-01", "2014-04-30")
    frame = frame.loc[~gap]
    rng = np.random.default_rng(seed)
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


def test_holdout_is_the_last_six_weeks() -> None:
    frame = _frame()
    train, holdout = holdout_split(frame)
    assert holdout["Date"].nunique() == 42
    assert holdout["Date"].max() == frame["Date"].max()
    assert train["Date"].max() + pd.Timedelta(days=1) == holdout["Date"].min()
    assert len(train) + len(holdout) == len(frame)
    assert set(train.index).isdisjoint(holdout.index)


def test_holdout_weeks_and_errors() -> None:
    frame = _frame(days=30)
    _, holdout = holdout_split(frame, weeks=2)
    assert holdout["Date"].nunique() == 14
    with pytest.raises(DataError, match="fewer than 6 weeks"):
        holdout_split(frame)
    with pytest.raises(ConfigError, match="weeks"):
        holdout_split(frame, weeks=0)
    with pytest.raises(DataError, match="'Day' is missing"):
        holdout_split(frame, date_column="Day")


def test_holdout_parses_string_dates() -> None:
    frame = _frame(days=60)
    as_text = frame.assign(Date=frame["Date"].dt.strftime("%Y-%m-%d"))
    assert holdout_split(as_text)[1].index.equals(holdout_split(frame)[1].index)


def test_folds_expand_and_validate_later() -> None:
    frame = _frame()
    cv = TimeSeriesFolds(n_splits=3, weeks=4)
    folds = list(cv.split(frame))
    assert len(folds) == cv.get_n_splits() == 3
    dates = frame["Date"]
    previous_train = 0
    previous_valid_end = None
    for train, valid in folds:
        assert dates.iloc[train].max() < dates.iloc[valid].min()
        assert dates.iloc[valid].nunique() == 28
        assert len(train) > previous_train  # expanding window
        if previous_valid_end is not None:
            assert dates.iloc[valid].min() == previous_valid_end + pd.Timedelta(days=1)
        previous_train = len(train)
        previous_valid_end = dates.iloc[valid].max()
    assert previous_valid_end == dates.max()
    # the second fold trains on everything before its block, the first fold's block included
    first_train, first_valid = folds[0]
    np.testing.assert_array_equal(np.sort(np.r_[first_train, first_valid]), np.sort(folds[1][0]))


def test_folds_by_date_not_position() -> None:
    frame = _frame()
    shuffled = frame.sample(frac=1.0, random_state=1)
    cv = TimeSeriesFolds(n_splits=2, weeks=3)
    for (tr_a, va_a), (tr_b, va_b) in zip(cv.split(frame), cv.split(shuffled), strict=True):
        assert set(frame.index[va_a]) == set(shuffled.index[va_b])
        assert set(frame.index[tr_a]) == set(shuffled.index[tr_b])


def test_folds_gap_days() -> None:
    frame = _frame()
    train, valid = next(TimeSeriesFolds(n_splits=2, weeks=2, gap_days=7).split(frame))
    gap = frame["Date"].iloc[valid].min() - frame["Date"].iloc[train].max()
    assert gap == pd.Timedelta(days=8)


def test_folds_deterministic_and_picklable() -> None:
    frame = _frame()
    cv = TimeSeriesFolds(n_splits=3, weeks=2)
    again = pickle.loads(pickle.dumps(cv))
    for (a, b), (c, d) in zip(cv.split(frame), again.split(frame), strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert "n_splits=3" in repr(cv)


def test_folds_errors() -> None:
    frame = _frame(days=50)
    with pytest.raises(DataError, match="empty training part"):
        list(TimeSeriesFolds(n_splits=3, weeks=6).split(frame))
    with pytest.raises(ConfigError, match="n_splits"):
        list(TimeSeriesFolds(n_splits=1).split(frame))
    with pytest.raises(ConfigError, match="gap_days"):
        list(TimeSeriesFolds(gap_days=-1).split(frame))
    with pytest.raises(DataError, match="DataFrame"):
        list(TimeSeriesFolds().split(np.zeros((10, 2))))


def test_folds_as_cv_argument() -> None:
    frame = _frame(days=120)
    frame = frame.assign(
        DayOfWeek=frame["Date"].dt.day_of_week + 1, Promo=0, Open=1, Sales=100 + frame["Store"]
    )
    scores = cross_val_score(
        MedianBaseline(),
        frame,
        frame["Sales"],
        cv=TimeSeriesFolds(n_splits=2, weeks=2),
        scoring=rmspe_scorer,
    )
    np.testing.assert_allclose(scores, [0.0, 0.0])

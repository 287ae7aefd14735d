"""RossmannFeatures: columns, options, no leakage, Promo2/competition/event rules."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from daskcloud.exceptions import ConfigError, DataError
from daskcloud.rossmann.features import (
    RossmannFeatures,
    open_mask,
    promo_interval_months,
    split_xy,
)
from daskcloud.rossmann.splits import TimeSeriesFolds

STORE = pd.DataFrame(
    {
        "Store": [1, 2, 3],
        "StoreType": ["a", "b", "d"],
        "Assortment": ["a", "b", "c"],
        "CompetitionDistance": [500.0, np.nan, 12000.0],
        "CompetitionOpenSinceMonth": [6.0, np.nan, 3.0],
        "CompetitionOpenSinceYear": [2014.0, np.nan, 1900.0],
        "Promo2": [1, 0, 1],
        "Promo2SinceWeek": [1.0, np.nan, 40.0],
        "Promo2SinceYear": [2014.0, np.nan, 2013.0],
        "PromoInterval": ["Mar,Jun,Sept,Dec", np.nan, "Jan,Apr,Jul,Oct"],
    }
)


def _frame(start: str = "2013-11-01", days: int = 400, seed: int = 0) -> pd.DataFrame:
    """A joined train frame for the 3 stores of STORE, every day, with sales and customers."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days)
    rows = pd.MultiIndex.from_product([STORE["Store"], dates], names=["Store", "Date"])
    frame = rows.to_frame(index=False)
    frame["DayOfWeek"] = frame["Date"].dt.day_of_week + 1
    frame["Open"] = (frame["DayOfWeek"] != 7).astype(int)
    frame["Promo"] = ((frame["Date"].dt.day <= 10) & (frame["DayOfWeek"] <= 5)).astype(int)
    frame["StateHoliday"] = np.where(frame["Date"].dt.strftime("%m-%d") == "10-03", "a", "0")
    frame["SchoolHoliday"] = frame["Date"].dt.month.isin([7, 8]).astype(int)
    level = frame["Store"].map({1: 5000.0, 2: 9000.0, 3: 3000.0})
    noise = np.exp(rng.normal(0, 0.1, len(frame)))
    frame["Sales"] = np.round(level * (1 + 0.3 * frame["Promo"]) * noise) * frame["Open"]
    frame["Customers"] = np.round(frame["Sales"] / 9)
    return frame.merge(STORE, on="Store")


def _names(transformer: RossmannFeatures) -> list[str]:
    return list(transformer.get_feature_names_out())


def test_shape_names_and_dtype() -> None:
    X, y = split_xy(_frame())
    features = RossmannFeatures()
    Xt = features.fit_transform(X, y)
    names = _names(features)
    assert Xt.shape == (len(X), len(names))
    assert Xt.dtype == np.float32
    assert names[0] == "Open"
    np.testing.assert_array_equal(Xt[:, 0], open_mask(X))
    assert not np.isnan(Xt).any()
    assert {"Store_1", "Store_2", "Store_3", "StoreLevel", "Promo2Month", "DaysAfterPromo"} <= set(
        names
    )
    assert len(set(names)) == len(names)


def test_pandas_output() -> None:
    X, y = split_xy(_frame(days=60))
    out = RossmannFeatures().set_output(transform="pandas").fit_transform(X, y)
    assert isinstance(out, pd.DataFrame)
    assert out.columns[0] == "Open"


def test_options_change_columns() -> None:
    X, y = split_xy(_frame(days=60))
    full = _names(RossmannFeatures().fit(X, y))
    lean = RossmannFeatures(
        date_parts=False,
        events=False,
        competition=False,
        promo2=False,
        store_aggregates=False,
        store_encoding="none",
    )
    lean_names = _names(lean.fit(X))  # no y needed without aggregates
    assert set(lean_names) < set(full)
    for gone in ("Year", "DaysAfterPromo", "CompetitionMonthsOpen", "Promo2Month", "StoreLevel"):
        assert gone not in lean_names
    assert not any(n.startswith("Store_") for n in lean_names)
    # the lean set needs only the train.csv columns and StoreType/Assortment
    lean.transform(X.drop(columns=["CompetitionDistance", "PromoInterval"]))


def test_unseen_store_gets_zero_one_hot_and_global_levels() -> None:
    X, y = split_xy(_frame(days=60))
    seen = X["Store"] != 3
    features = RossmannFeatures().fit(X.loc[seen], y.loc[seen])
    out = pd.DataFrame(features.transform(X.loc[~seen]), columns=_names(features))
    assert "Store_3" not in out.columns
    assert (out[["Store_1", "Store_2"]] == 0).all().all()
    assert out["StoreLevel"].nunique() == 1
    assert out["StoreLevel"].iloc[0] == pytest.approx(features.aggregates_.global_level, rel=1e-6)


def test_aggregates_come_from_fit_rows_only() -> None:
    X, y = split_xy(_frame())
    train, valid = next(TimeSeriesFolds(n_splits=2, weeks=4).split(X))
    base = RossmannFeatures().fit(X.iloc[train], y.iloc[train])
    # Different validation targets (and Sales/Customers columns) must change nothing.
    y2 = y.copy()
    y2.iloc[valid] *= 10
    X2 = X.copy()
    X2.loc[X2.index[valid], "Customers"] *= 3
    other = RossmannFeatures().fit(X2.iloc[train], y2.iloc[train])
    np.testing.assert_array_equal(base.transform(X.iloc[valid]), other.transform(X2.iloc[valid]))
    # ... while different training targets do.
    y3 = y.copy()
    y3.iloc[train] *= 2
    shifted = RossmannFeatures().fit(X.iloc[train], y3.iloc[train])
    assert not np.array_equal(base.transform(X.iloc[valid]), shifted.transform(X.iloc[valid]))
    # StoreLevel is the mean log sales over the store's open training rows with sales.
    rows = X.iloc[train]
    mask = (rows["Store"] == 1) & (rows["Open"] == 1) & (y.iloc[train] > 0)
    expected = np.log(y.iloc[train][mask]).mean()
    assert base.aggregates_.store_level.loc[1] == pytest.approx(expected)


def test_sept_spelling() -> None:
    assert promo_interval_months("Mar,Jun,Sept,Dec") == {3, 6, 9, 12}
    assert promo_interval_months("Mar,Jun,Sep,Dec") == {3, 6, 9, 12}
    assert promo_interval_months("Jan,Apr,Jul,Oct") == {1, 4, 7, 10}
    assert promo_interval_months(np.nan) == frozenset()
    with pytest.raises(DataError, match="unknown month 'Sepember'"):
        promo_interval_months("Mar,Jun,Sepember,Dec")


def _table(features: RossmannFeatures, X: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(features.transform(X), columns=_names(features), index=X.index)
    return out.assign(Store=X["Store"].to_numpy(), Date=X["Date"].to_numpy())


def _at(table: pd.DataFrame, store: int, date: str) -> pd.Series:
    return table.loc[(table["Store"] == store) & (table["Date"] == pd.Timestamp(date))].iloc[0]


def test_promo2_rules() -> None:
    X, y = split_xy(_frame())
    table = _table(RossmannFeatures(max_promo2_weeks=25).fit(X, y), X)
    # Store 1: Promo2 since ISO week 1 of 2014, which starts on Monday 2013-12-30.
    assert _at(table, 1, "2013-12-29")["Promo2Started"] == 0
    assert _at(table, 1, "2013-12-30")["Promo2Started"] == 1
    assert _at(table, 1, "2014-01-13")["Promo2Weeks"] == 2
    assert _at(table, 1, "2014-11-01")["Promo2Weeks"] == 25  # capped
    # "Mar,Jun,Sept,Dec": September is a Promo2 month, August is not; December 2013 counts.
    assert _at(table, 1, "2014-09-15")["Promo2Month"] == 1
    assert _at(table, 1, "2014-08-15")["Promo2Month"] == 0
    assert _at(table, 1, "2013-12-31")["Promo2Month"] == 1
    assert _at(table, 1, "2013-12-01")["Promo2Month"] == 0  # not started yet
    assert _at(table, 1, "2014-10-15")["Promo2MonthAfter"] == 1
    assert _at(table, 1, "2014-11-15")["Promo2MonthAfter"] == 0
    # Store 2 takes no part.
    assert (
        table.loc[table["Store"] == 2, ["Promo2", "Promo2Month", "Promo2Weeks"]].eq(0).all().all()
    )


def test_competition_rules() -> None:
    X, y = split_xy(_frame())
    table = _table(RossmannFeatures(max_competition_months=24).fit(X, y), X)
    # Store 1: competitor since June 2014.
    assert _at(table, 1, "2014-05-20")[["CompetitionMonthsOpen", "CompetitionOpen"]].tolist() == [
        0,
        0,
    ]
    assert _at(table, 1, "2014-08-20")[["CompetitionMonthsOpen", "CompetitionOpen"]].tolist() == [
        2,
        1,
    ]
    # Store 3: year 1900 is clipped to 1990, so months open hit the cap.
    assert _at(table, 3, "2013-11-01")["CompetitionMonthsOpen"] == 24
    # Store 2: unknown date and distance are flagged.
    row = _at(table, 2, "2014-01-02")
    assert row["CompetitionOpenUnknown"] == 1
    assert row["CompetitionDistanceUnknown"] == 1


def test_event_distances_use_dates_not_rows() -> None:
    X, y = split_xy(_frame(start="2014-01-01", days=40))
    # Store 1 loses 2014-01-11..2014-01-20: the row after the gap is 11 days after the last promo.
    gap = (X["Store"] == 1) & X["Date"].between("2014-01-11", "2014-01-20")
    X, y = X.loc[~gap], y.loc[~gap]
    table = _table(RossmannFeatures(event_window=14).fit(X, y), X)
    assert _at(table, 1, "2014-01-10")["DaysAfterPromo"] == 0
    assert _at(table, 1, "2014-01-21")["DaysAfterPromo"] == 11
    assert _at(table, 2, "2014-01-21")["DaysAfterPromo"] == 11
    assert _at(table, 1, "2014-01-25")["DaysBeforePromo"] == 9  # next promo Mon Feb 3
    # event counts in the window before and after: Jan 21 follows 7 days without store-1 rows
    assert _at(table, 1, "2014-01-21")["PromoLast14"] == 4  # Jan 7..10
    assert _at(table, 1, "2014-01-10")["PromoLast14"] == 7  # Jan 1..9, weekdays
    assert _at(table, 1, "2014-01-25")["PromoNext14"] == 5  # Feb 3..7
    # capped at the window, and no events of another store leak in
    short = _table(RossmannFeatures(event_window=7).fit(X, y), X)
    assert _at(short, 1, "2014-01-21")["DaysAfterPromo"] == 7
    assert short["DaysAfterStateHoliday"].eq(7).all()


def test_event_calendar_tail_from_fit() -> None:
    X, y = split_xy(_frame(start="2014-01-01", days=40))
    early = X["Date"] < "2014-01-13"
    features = RossmannFeatures(event_window=14).fit(X.loc[early], y.loc[early])
    later = _table(features, X.loc[~early])
    # The last promo (Jan 10) lies in the fit rows, not in the transformed ones.
    assert _at(later, 2, "2014-01-13")["DaysAfterPromo"] == 3


def test_row_order_does_not_matter() -> None:
    X, y = split_xy(_frame(days=90))
    features = RossmannFeatures().fit(X, y)
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_array_equal(features.transform(X.iloc[order]), features.transform(X)[order])


def test_sklearn_conventions() -> None:
    features = RossmannFeatures(event_window=14, store_encoding="none")
    assert clone(features).get_params() == features.get_params()
    assert features.set_params(store_aggregates=False).store_aggregates is False
    assert not hasattr(features, "stores_")  # __init__ only stores parameters
    X, y = split_xy(_frame(days=60))
    fitted = features.fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.transform(X), fitted.transform(X))


def test_errors() -> None:
    X, y = split_xy(_frame(days=20))
    with pytest.raises(ConfigError, match="event_window"):
        RossmannFeatures(event_window=0).fit(X, y)
    with pytest.raises(ConfigError, match="store_encoding"):
        RossmannFeatures(store_encoding="hash").fit(X, y)
    with pytest.raises(ConfigError, match="needs the target"):
        RossmannFeatures().fit(X)
    with pytest.raises(DataError, match="StoreType"):
        RossmannFeatures().fit(X.drop(columns="StoreType"), y)
    with pytest.raises(DataError, match="DataFrame"):
        RossmannFeatures().fit(X.to_numpy(), y)


def test_store_trend_follows_growth() -> None:
    X, y = split_xy(_frame(days=400))
    years = (X["Date"] - X["Date"].min()).dt.days / 365.25
    growth = np.where(X["Store"] == 1, np.exp(0.2 * years), 1.0)  # store 1 grows 20 % a year
    features = RossmannFeatures().fit(X, y * growth)
    slope = features.aggregates_.trend_slope
    assert slope.loc[1] == pytest.approx(0.2 * 2 / 3, abs=0.03)  # net of the chain-wide mean
    assert slope.loc[2] == pytest.approx(-0.2 / 3, abs=0.03)
    table = _table(features, X)
    assert _at(table, 1, "2014-11-30")["StoreTrend"] > _at(table, 1, "2013-11-30")["StoreTrend"]


def _pandas_inside(value: object) -> list[str]:
    """Paths to pandas objects anywhere in a fitted object's state."""
    if isinstance(value, pd.DataFrame | pd.Series | pd.Index):
        return [type(value).__name__]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    elif hasattr(value, "__dict__") and type(value).__module__.startswith("daskcloud"):
        items = vars(value).items()
    else:
        return []
    return [f"{key}.{path}" for key, item in items for path in _pandas_inside(item)]


def test_fitted_state_is_plain_and_round_trips_through_skops(tmp_path) -> None:
    import skops.io as sio

    X, y = split_xy(_frame(start="2014-01-01", days=40))
    early = X["Date"] < "2014-01-13"
    fit_rows = early & (X["Store"] != 3)  # store 3 unseen; the calendar tail is needed later
    features = RossmannFeatures(event_window=14).fit(X.loc[fit_rows], y.loc[fit_rows])
    assert _pandas_inside(features) == []
    path = tmp_path / "features.skops"
    sio.dump(features, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert all(t.startswith("daskcloud.rossmann.features.") for t in untrusted), untrusted
    loaded = sio.load(path, trusted=untrusted)
    later = X.loc[~early]
    np.testing.assert_array_equal(loaded.transform(later), features.transform(later))
    assert _at(_table(loaded, later), 2, "2014-01-13")["DaysAfterPromo"] == 3
    pandas_out = clone(features).set_output(transform="pandas").fit(X.loc[fit_rows], y[fit_rows])
    sio.dump(pandas_out, path)
    again = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    pd.testing.assert_frame_equal(again.transform(later), pandas_out.transform(later))

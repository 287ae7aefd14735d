"""Store-table features: competition, Promo2, and store aggregates learned from training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from daskcloud.exceptions import DataError

__all__ = ["StoreAggregates", "competition_features", "promo2_features", "promo_interval_months"]

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip


def promo_interval_months(interval: object) -> frozenset[int]:
    """Month numbers of a PromoInterval string; ``"Mar,Jun,Sept,Dec"`` -> {3, 6, 9, 12}.

    The real data spells September ``Sept``; ``Sep`` is accepted too. Missing -> empty.

    Raises:
        DataError: for a token that is not a month name.
    """
    if interval is None or (isinstance(interval, float) and np.isnan(interval)) or interval == "":
        return frozenset()
    months = set()
    for token in str(interval).split(","):
        key = token.strip().lower()
        if key not in _MONTHS:
            raise DataError(
                f"PromoInterval {interval!r} has an unknown month {token.strip()!r}; "
                "expected names like 'Jan,Apr,Jul,Oct' or 'Mar,Jun,Sept,Dec'"
            )
        months.add(_MONTHS[key])
    return frozenset(months)


def competition_features(frame: pd.DataFrame, max_months: int) -> dict[str, np.ndarray]:
    """Competitor distance, open flag and months open.

    The competitor opens on the 15th of (CompetitionOpenSinceYear, ...Month)
    (fastai's convention); years before 1990 are clipped to 1990 (the 1900 and
    1961 outliers). Months open are days open // 30, clipped to ``[0, max_months]``.
    An unknown opening date counts as open for ``max_months`` (a competitor
    without a date has been there for long), flagged by ``CompetitionOpenUnknown``.
    """
    year = frame["CompetitionOpenSinceYear"].to_numpy(dtype=np.float64)
    month = frame["CompetitionOpenSinceMonth"].to_numpy(dtype=np.float64)
    unknown = np.isnan(year) | np.isnan(month)
    year = np.where(unknown, 1990, np.clip(year, 1990, None)).astype(np.int64)
    month = np.where(unknown, 1, month).astype(np.int64)
    since = ((year - 1970) * 12 + month - 1).astype("datetime64[M]").astype(
        "datetime64[D]"
    ) + np.timedelta64(14, "D")
    days_open = (frame["Date"].to_numpy(dtype="datetime64[D]") - since).astype(np.int64)
    months_open = np.where(unknown, max_months, np.clip(days_open // 30, 0, max_months))
    is_open = unknown | (days_open >= 0)
    distance = frame["CompetitionDistance"].to_numpy(dtype=np.float64)
    no_distance = np.isnan(distance)
    return {
        "CompetitionLogDistance": np.log1p(np.where(no_distance, 100_000.0, distance)),
        "CompetitionDistanceUnknown": no_distance.astype(np.float64),
        "CompetitionMonthsOpen": months_open.astype(np.float64),
        "CompetitionOpen": is_open.astype(np.float64),
        "CompetitionOpenUnknown": unknown.astype(np.float64),
    }


def _iso_week_monday(year: np.ndarray, week: np.ndarray) -> np.ndarray:
    """Monday of ISO week ``week`` of ``year`` as datetime64[D] (NaN in -> NaT out)."""
    known = ~(np.isnan(year) | np.isnan(week))
    y = np.where(known, year, 1970).astype(np.int64)
    w = np.where(known, week, 1).astype(np.int64)
    jan4 = (y - 1970).astype("datetime64[Y]").astype("datetime64[D]") + np.timedelta64(3, "D")
    weekday = (jan4.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    monday = jan4 - weekday.astype("timedelta64[D]") + ((w - 1) * 7).astype("timedelta64[D]")
    return np.where(known, monday, np.datetime64("NaT"))


def promo2_features(frame: pd.DataFrame, max_weeks: int) -> dict[str, np.ndarray]:
    """Promo2 taking part, active this month, and weeks since it started (capped at ``max_weeks``).

    Promo2 starts on the Monday of ISO week (Promo2SinceYear, Promo2SinceWeek); a new
    round of coupons goes out in the months of PromoInterval.
    """
    start = _iso_week_monday(
        frame["Promo2SinceYear"].to_numpy(dtype=np.float64),
        frame["Promo2SinceWeek"].to_numpy(dtype=np.float64),
    )
    days = frame["Date"].to_numpy(dtype="datetime64[D]")
    takes_part = (frame["Promo2"].fillna(0).to_numpy() != 0) & ~np.isnat(start)
    elapsed = np.where(takes_part, (days - start).astype(np.int64), -1)
    started = takes_part & (elapsed >= 0)
    intervals = frame["PromoInterval"].astype(object)
    month_bits = {
        value: sum(1 << m for m in promo_interval_months(value))
        for value in pd.unique(intervals.to_numpy())
    }
    bits = intervals.map(month_bits).fillna(0).to_numpy(dtype=np.int64)
    month = frame["Date"].dt.month.to_numpy()
    in_month = (bits >> month) & 1
    # Coupons stay valid for a while: the month after a mailing month is flagged too.
    after_month = (bits >> np.where(month == 1, 12, month - 1)) & 1
    return {
        "Promo2": takes_part.astype(np.float64),
        "Promo2Started": started.astype(np.float64),
        "Promo2Month": (started & (in_month == 1)).astype(np.float64),
        "Promo2MonthAfter": (started & (after_month == 1)).astype(np.float64),
        "Promo2Weeks": np.where(started, np.minimum(elapsed // 7, max_weeks), 0).astype(np.float64),
    }


def _years(dates: pd.Series) -> np.ndarray:
    """Years since 2013-01-01 (the first date of the Kaggle train set)."""
    days = dates.to_numpy(dtype="datetime64[D]") - np.datetime64("2013-01-01", "D")
    return days.astype(np.int64) / 365.25


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``values`` where ``query`` is among the sorted ``keys``, NaN where it is not."""
    if len(keys) == 0:
        return np.full(len(query), np.nan)
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[pos] == query, values[pos], np.nan)


def _table(means: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A groupby mean as ``(sorted keys, values)`` arrays."""
    order = np.argsort(means.index.to_numpy(), kind="stable")
    return means.index.to_numpy()[order], means.to_numpy(dtype=np.float64)[order]


def _grid(means: pd.Series, stores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A (Store, key) groupby mean as ``(sorted keys, stores x keys matrix)``, NaN where absent."""
    keys = np.sort(pd.unique(means.index.get_level_values(1).to_numpy()))
    grid = np.full((len(stores), len(keys)), np.nan)
    rows = np.searchsorted(stores, means.index.get_level_values(0).to_numpy())
    cols = np.searchsorted(keys, means.index.get_level_values(1).to_numpy())
    grid[rows, cols] = means.to_numpy(dtype=np.float64)
    return keys, grid


class StoreAggregates:
    """Per-store sales levels learned from training rows; unseen stores get the global level.

    All levels are means of log(Sales) over open rows with Sales > 0, so they
    enter the model on the scale it predicts. Built by :meth:`learn`, applied by
    :meth:`apply`. The learned state is numpy arrays keyed by the sorted store ids
    (looked up with ``np.searchsorted``), floats and tuples — no pandas objects — so
    it pickles and round-trips through ``skops.io``; :attr:`store_level` and
    :attr:`trend_slope` show it as Series.
    """

    def __init__(self) -> None:
        self.columns: list[str] = []

    @property
    def store_level(self) -> pd.Series:
        """Mean log sales per store, indexed by store id."""
        return pd.Series(self.level, index=pd.Index(self.stores, name="Store"), name="y")

    @property
    def trend_slope(self) -> pd.Series:
        """Yearly drift of log sales per store, indexed by store id."""
        return pd.Series(self.slope, index=pd.Index(self.stores, name="Store"))

    def learn(self, rows: pd.DataFrame, log_sales: np.ndarray) -> StoreAggregates:
        """Learn from training rows (already limited to open rows with Sales > 0)."""
        df = pd.DataFrame(
            {
                "Store": rows["Store"].to_numpy(),
                "DayOfWeek": rows["DayOfWeek"].to_numpy(),
                "Promo": rows["Promo"].to_numpy(),
                "Years": _years(rows["Date"]),
                "y": log_sales,
            }
        )
        self.global_level = float(df["y"].mean())
        store = df.groupby("Store")["y"].mean()
        self.stores, self.level = _table(store)
        resid = df["y"] - store.reindex(df["Store"]).to_numpy()
        df["r"] = resid.to_numpy()
        # Weekday and promo effects relative to the store's level; unseen keys fall back
        # to the chain-wide effects.
        self.dow_global = _table(df.groupby("DayOfWeek")["r"].mean())
        self.promo_global = _table(df.groupby("Promo")["r"].mean())
        self.store_dow = _grid(df.groupby(["Store", "DayOfWeek"])["r"].mean(), self.stores)
        self.store_promo = _grid(df.groupby(["Store", "Promo"])["r"].mean(), self.stores)
        self.columns = ["StoreLevel", "StoreDowEffect", "StorePromoEffect", "StoreTrend"]
        self._learn_trend(df)
        self.spc = None
        if "Customers" in rows.columns:
            customers = rows["Customers"].to_numpy(dtype=np.float64)
            ok = customers > 0
            if ok.any():
                per_customer = pd.Series(log_sales[ok] - np.log(customers[ok]))
                self.spc_global = float(per_customer.mean())
                self.spc = _table(per_customer.groupby(df["Store"].to_numpy()[ok]).mean())
                self.columns.append("StoreLogSalesPerCustomer")
        return self

    def _learn_trend(self, df: pd.DataFrame) -> None:
        """Per-store linear drift of log sales against time, net of chain-wide day effects."""
        # Demeaning by date removes the calendar (season, promos, holidays) shared by all stores.
        r = df["r"] - df.groupby(df["Years"])["r"].transform("mean")
        t = df["Years"]
        by = df["Store"]
        t_mean = t.groupby(by).transform("mean")
        dt = t - t_mean
        cov = (dt * r).groupby(by).sum()
        var = (dt * dt).groupby(by).sum()
        # Both are keyed by the same sorted stores as the levels.
        self.slope = _table((cov / var.where(var > 0)).fillna(0.0))[1]
        self.center = _table(t.groupby(by).mean())[1]
        self.trend_span = (float(t.min()), float(t.max()))

    def apply(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Look up the learned levels for each row of ``frame``."""
        store = frame["Store"].to_numpy()
        dow = frame["DayOfWeek"].to_numpy()
        promo = frame["Promo"].fillna(0).to_numpy()
        level = _lookup(self.stores, self.level, store)
        out = {"StoreLevel": np.where(np.isnan(level), self.global_level, level)}
        row = np.minimum(np.searchsorted(self.stores, store), len(self.stores) - 1)
        store_known = self.stores[row] == store
        for label, (keys, grid), fallback, key in (
            ("StoreDowEffect", self.store_dow, self.dow_global, dow),
            ("StorePromoEffect", self.store_promo, self.promo_global, promo),
        ):
            col = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
            values = np.where(store_known & (keys[col] == key), grid[row, col], np.nan)
            default = np.nan_to_num(_lookup(*fallback, key), nan=0.0)
            out[label] = np.where(np.isnan(values), default, values)
        # Extrapolate the drift at most half a year beyond the training period.
        years = np.clip(_years(frame["Date"]), self.trend_span[0], self.trend_span[1] + 0.5)
        slope = np.nan_to_num(_lookup(self.stores, self.slope, store), nan=0.0)
        center = _lookup(self.stores, self.center, store)
        out["StoreTrend"] = np.where(np.isnan(center), 0.0, slope * (years - center))
        if self.spc is not None:
            spc = _lookup(*self.spc, store)
            out["StoreLogSalesPerCustomer"] = np.where(np.isnan(spc), self.spc_global, spc)
        return out

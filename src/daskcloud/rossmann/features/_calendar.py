"""Calendar features: date parts, and days before/after events per store.

Pure functions of a frame; vectorised pandas/numpy, no per-row Python.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["EVENTS", "date_parts", "event_distances", "event_flags"]

#: the event columns whose distance features are computed, and how a row counts as an event
EVENTS: tuple[str, ...] = ("Promo", "SchoolHoliday", "StateHoliday")

# Elapsed days count from the first date of the Kaggle train set, so numbers stay small.
_EPOCH = np.datetime64("2013-01-01", "D")


def date_parts(dates: pd.Series) -> dict[str, np.ndarray]:
    """Numeric date parts (fastai's ``add_datepart``, less the categorical ones).

    Month and day of week are one-hot encoded elsewhere; here are the ordinal
    parts, smooth yearly and monthly cycles, and the signed distance to Christmas
    (the December ramp before it, the days between the holidays after it).
    """
    dt = dates.dt
    day_of_year = dt.day_of_year.to_numpy(dtype=np.float64)
    year_angle = 2.0 * np.pi * (day_of_year - 1.0) / 365.25
    day = dt.day.to_numpy(dtype=np.float64)
    month_angle = 2.0 * np.pi * (day - 1.0) / dt.days_in_month.to_numpy(dtype=np.float64)
    days = dates.to_numpy(dtype="datetime64[D]")
    year = dt.year.to_numpy()
    # Dec 25 in common years, Dec 24 in leap years: close enough for a capped distance.
    christmas = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + np.timedelta64(
        358, "D"
    )
    to_christmas = (christmas - days).astype(np.int64)
    return {
        "Year": year - 2013.0,
        "WeekOfYear": dt.isocalendar().week.to_numpy(dtype=np.float64),
        "DayOfMonth": day,
        "DayOfYear": day_of_year,
        "YearSin": np.sin(year_angle),
        "YearCos": np.cos(year_angle),
        "MonthSin": np.sin(month_angle),
        "MonthCos": np.cos(month_angle),
        "Elapsed": (days - _EPOCH).astype(np.int64).astype(np.float64),
        "IsMonthStart": dt.is_month_start.to_numpy(dtype=np.float64),
        "IsMonthEnd": dt.is_month_end.to_numpy(dtype=np.float64),
        "DaysToChristmas": np.clip(to_christmas, -7, 40).astype(np.float64),
    }


def event_flags(frame: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per event in :data:`EVENTS` (StateHoliday: any value but "0")."""
    flags = {}
    for name in EVENTS:
        col = frame[name]
        if name == "StateHoliday":
            flags[name] = col.astype(str).to_numpy() != "0"
        else:
            flags[name] = col.fillna(0).to_numpy() != 0
    return pd.DataFrame(flags, index=frame.index)


def event_distances(
    stores: np.ndarray, dates: np.ndarray, flags: pd.DataFrame, window: int
) -> dict[str, np.ndarray]:
    """Days since/until the nearest event of the same store, and event counts around each day.

    For each event: ``DaysAfter<event>`` (0 on an event day) and ``DaysBefore<event>``,
    capped at ``window``; ``<event>Last<window>`` and ``<event>Next<window>``, the number
    of event days among the store's rows in the ``window`` days before and after
    (fastai's ``_bw``/``_fw``). Everything is computed from dates within a store, so
    missing store-days (the H2-2014 gap) never shorten a distance. Arrays come back
    in the input row order.
    """
    n = len(stores)
    day = dates.astype("datetime64[D]").astype(np.int64)
    _, store_code = np.unique(stores, return_inverse=True)
    # One sortable key per row: store first, then day; days are far below 1e6.
    key = store_code.astype(np.int64) * 1_000_000 + (day - day.min())
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    store_sorted = store_code[order]
    day_sorted = day[order]
    # rows of the same store within (day - window, day) and (day, day + window)
    lo = np.searchsorted(key_sorted, key_sorted - window, side="left")
    hi = np.searchsorted(key_sorted, key_sorted + window, side="right")
    here_lo = np.searchsorted(key_sorted, key_sorted, side="left")
    here_hi = np.searchsorted(key_sorted, key_sorted, side="right")
    out: dict[str, np.ndarray] = {}
    for name in flags.columns:
        is_event = flags[name].to_numpy()[order]
        event_day = pd.Series(np.where(is_event, day_sorted, np.nan))
        by_store = event_day.groupby(store_sorted, sort=False)
        since = np.minimum(
            np.nan_to_num(day_sorted - by_store.ffill().to_numpy(), nan=window), window
        )
        until = np.minimum(
            np.nan_to_num(by_store.bfill().to_numpy() - day_sorted, nan=window), window
        )
        cum = np.r_[0, np.cumsum(is_event)]
        last = cum[here_lo] - cum[lo]
        nxt = cum[hi] - cum[here_hi]
        for label, values in (
            (f"DaysAfter{name}", since),
            (f"DaysBefore{name}", until),
            (f"{name}Last{window}", last),
            (f"{name}Next{window}", nxt),
        ):
            restored = np.empty(n, dtype=np.float64)
            restored[order] = values
            out[label] = restored
    return out

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
    parts, a smooth yearly cycle, and the distance to Christmas (the December ramp).
    """
    dt = dates.dt
    day_of_year = dt.day_of_year.to_numpy(dtype=np.float64)
    angle = 2.0 * np.pi * (day_of_year - 1.0) / 365.25
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
        "DayOfMonth": dt.day.to_numpy(dtype=np.float64),
        "DayOfYear": day_of_year,
        "YearSin": np.sin(angle),
        "YearCos": np.cos(angle),
        "Elapsed": (days - _EPOCH).astype(np.int64).astype(np.float64),
        "IsMonthStart": dt.is_month_start.to_numpy(dtype=np.float64),
        "IsMonthEnd": dt.is_month_end.to_numpy(dtype=np.float64),
        "DaysToChristmas": np.clip(to_christmas, 0, 40).astype(np.float64),
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
    """Days since the last and until the next event of each store, capped at ``window``.

    Distances are date differences between rows of the same store, so missing
    store-days (the H2-2014 gap) never shorten them; with no event within
    reach the value is ``window``. Arrays come back in the input row order.
    """
    n = len(stores)
    order = np.lexsort((dates, stores))
    store_sorted = stores[order]
    day_sorted = dates[order].astype("datetime64[D]").astype(np.int64)
    out: dict[str, np.ndarray] = {}
    for name in flags.columns:
        is_event = flags[name].to_numpy()[order]
        event_day = pd.Series(np.where(is_event, day_sorted, np.nan))
        by_store = event_day.groupby(store_sorted, sort=False)
        last = by_store.ffill().to_numpy()
        nxt = by_store.bfill().to_numpy()
        since = np.minimum(np.nan_to_num(day_sorted - last, nan=window), window)
        until = np.minimum(np.nan_to_num(nxt - day_sorted, nan=window), window)
        for label, values in ((f"DaysAfter{name}", since), (f"DaysBefore{name}", until)):
            restored = np.empty(n, dtype=np.float64)
            restored[order] = values
            out[label] = restored
    return out

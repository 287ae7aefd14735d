"""The synthetic sales model: expected log-sales per (store, day) and the open/present masks.

Every effect is a smooth function of what a model can see: the store table, the date,
Promo, StateHoliday and SchoolHoliday (and days around them), competitor openings and
Promo2 months. Only the per-store trend has a small part no column explains. All
arrays are (stores, days); :mod:`daskcloud.rossmann.generate` turns them into rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from daskcloud.rossmann import schema
from daskcloud.rossmann._calendar import (
    all_dates,
    promo_calendar,
    school_holidays,
    state_holidays,
)
from daskcloud.rossmann._stores import scaled, special_store

__all__ = ["Grid", "build_grid"]

# Log effects. Day of week, Monday first; Sunday applies to Sunday-open stores only.
_DOW = np.array([0.06, 0.0, -0.04, -0.05, 0.0, -0.05, 0.15])
_PROMO_DOW = np.array([0.40, 0.33, 0.30, 0.29, 0.31, 0.0, 0.0])
_PROMO_SECOND_WEEK = 0.8  # the second promo week in a row lifts less
_SCHOOL_BY_TYPE = {"a": 0.04, "b": 0.07, "c": -0.01, "d": 0.03}
_BEFORE_HOLIDAY = (0.10, 0.04)  # one and two days before a state holiday
_AFTER_HOLIDAY = 0.06
_PROMO2_MONTH = (0.10, 0.04)  # the mailing month, the month after
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec")
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
_GAP = (dt.date(2014, 7, 1), dt.date(2014, 12, 31))
_PROMO_CALENDAR_SEED = 2015


@dataclasses.dataclass(frozen=True, eq=False)
class Grid:
    """The generator's (stores, days) arrays over 2013-01-01..2015-09-17."""

    dates: pd.DatetimeIndex
    log_mu: np.ndarray  # expected log sales where open (calibrated to each store's Level)
    promo_effect: np.ndarray  # the log lift due to Promo, for sales per customer
    open: np.ndarray  # bool
    present: np.ndarray  # bool: the row exists in train.csv or test.csv
    holiday: np.ndarray  # int8 StateHoliday code 0..3
    school: np.ndarray  # bool
    promo: np.ndarray  # bool, per day
    open_unknown: np.ndarray  # bool: test rows whose Open is written as NaN


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    """a shifted by k days along the last axis (positive k: the value k days later)."""
    out = np.zeros_like(a)
    if k > 0:
        out[..., :-k] = a[..., k:]
    else:
        out[..., -k:] = a[..., :k]
    return out


def _season(dates: pd.DatetimeIndex) -> np.ndarray:
    """Yearly pattern, the December ramp and the day-of-month pattern (salary days)."""
    doy = dates.day_of_year.to_numpy()
    month = dates.month.to_numpy()
    day = dates.day.to_numpy()
    dim = dates.days_in_month.to_numpy()
    dec = month == 12
    s = 0.025 * np.cos(2 * np.pi * (doy - 195) / 365.25)
    s += np.where(dec & (day <= 23), 0.16 + 0.30 * (day - 1) / 22, 0.0)
    s += np.where(dec & (day == 24), -0.30, 0.0)
    s += np.where(dec & (day >= 27) & (day <= 30), 0.10, 0.0)
    s += np.where(dec & (day == 31), -0.15, 0.0)
    s += np.where((month == 1) & (day <= 15), -0.05, 0.0)
    s += 0.06 * np.cos(2 * np.pi * (day - 1.5) / dim)
    return s


def _holiday_proximity(holiday: np.ndarray) -> np.ndarray:
    """Shopping before and after a closed state holiday, per state group and day."""
    hol = holiday > 0
    before1 = _shift(hol, 1) & ~hol
    before2 = _shift(hol, 2) & ~hol & ~before1
    after1 = _shift(hol, -1) & ~hol
    return _BEFORE_HOLIDAY[0] * before1 + _BEFORE_HOLIDAY[1] * before2 + _AFTER_HOLIDAY * after1


def _competition(store: pd.DataFrame, dates: pd.DatetimeIndex) -> np.ndarray:
    """A competitor opening from 2013 on dents sales, more when it is close."""
    year = store["CompetitionOpenSinceYear"].to_numpy()
    month = store["CompetitionOpenSinceMonth"].to_numpy()
    dist = store["CompetitionDistance"].to_numpy()
    active = (year >= 2013) & np.isfinite(month) & np.isfinite(dist)
    start = np.full(len(store), np.datetime64("2100-01-01", "D"))
    start[active] = [
        np.datetime64(dt.date(int(y), int(m), 15), "D")
        for y, m in zip(year[active], month[active], strict=True)
    ]
    days = (dates.values.astype("datetime64[D]")[None, :] - start[:, None]).astype(np.int64)
    ramp = np.clip((days + 1) / 45.0, 0.0, 1.0)
    depth = np.where(active, 0.04 + 0.14 * np.exp(-np.nan_to_num(dist) / 2500.0), 0.0)
    return -depth[:, None] * ramp


def _promo2(store: pd.DataFrame, dates: pd.DatetimeIndex) -> np.ndarray:
    """Coupon mailings lift sales in the PromoInterval months once Promo2 has started."""
    n = len(store)
    table = np.zeros((n, 12), dtype=bool)
    since = np.full(n, np.datetime64("2100-01-01", "D"))
    for i, (flag, week, year, interval) in enumerate(
        store[["Promo2", "Promo2SinceWeek", "Promo2SinceYear", "PromoInterval"]].itertuples(
            index=False
        )
    ):
        if flag == 1:
            since[i] = np.datetime64(dt.date.fromisocalendar(int(year), int(week), 1), "D")
            for name in interval.split(","):
                table[i, _MONTHS[name] - 1] = True
    month = dates.month.to_numpy() - 1
    started = dates.values.astype("datetime64[D]")[None, :] >= since[:, None]
    lift = _PROMO2_MONTH[0] * table[:, month] + _PROMO2_MONTH[1] * table[:, (month - 1) % 12]
    return np.where(started, lift, 0.0)


def _open_and_present(store, dates, holiday, rng) -> tuple[np.ndarray, ...]:
    n, d = len(store), len(dates)
    day = dates.values.astype("datetime64[D]")
    sunday = dates.day_of_week.to_numpy() == 6
    sunday_open = store["SundayOpen"].to_numpy()[:, None]
    u = rng.random((n, d))
    is_open = ~sunday[None, :] | (sunday_open & (u < 0.9))
    # State holidays: only the Sunday-open stores open, and not on every Easter/Christmas day.
    holiday_open = sunday_open & (
        (holiday == 1) | ((holiday == 2) & (u < 0.6)) | ((holiday == 3) & (u < 0.4))
    )
    is_open &= (holiday == 0) | holiday_open

    present = np.ones((n, d), dtype=bool)
    in_test = day >= np.datetime64(schema.TEST_START, "D")
    present[:, in_test] = store["InTest"].to_numpy()[:, None]
    gap_days = (day >= np.datetime64(_GAP[0], "D")) & (day <= np.datetime64(_GAP[1], "D"))
    gap = store["Gap"].to_numpy()
    present[np.ix_(gap, gap_days)] = False
    present[special_store(988, n) - 1, 0] = False

    # Refurbishment: some gap stores close for a while before the gap, a few others once.
    gap_start = int(np.flatnonzero(gap_days)[0])
    for i in np.flatnonzero(gap):
        if rng.random() < 0.3:
            is_open[i, gap_start - int(rng.integers(5, 21)) : gap_start] = False
    n_train = int((~in_test).sum())
    for i in rng.choice(np.flatnonzero(~gap), size=scaled(17, n, minimum=1), replace=False):
        length = int(rng.integers(7, 46))
        first = int(rng.integers(0, n_train - length))
        is_open[i, first : first + length] = False

    # The store whose Open is unknown in the last 13 test days (store 622 in the real data).
    unknown = np.zeros((n, d), dtype=bool)
    lo, hi = np.datetime64("2015-09-05", "D"), np.datetime64(schema.TEST_END, "D")
    unknown[special_store(622, n) - 1] = (day >= lo) & (day <= hi) & ~sunday
    is_open |= unknown
    return is_open, present, unknown


def build_grid(store: pd.DataFrame, rng: np.random.Generator) -> Grid:
    """Expected log sales, openings and calendars for every (store, day)."""
    dates = all_dates(schema.TRAIN_START, schema.TEST_END)
    state = store["State"].to_numpy()
    holiday = state_holidays(dates)[state]
    school = school_holidays(dates)[state]
    # One chain-wide promo calendar for every seed, as the real chain has one.
    promo, run_week = promo_calendar(dates, np.random.default_rng(_PROMO_CALENDAR_SEED))
    dow = dates.day_of_week.to_numpy()
    kinds = store["StoreType"].to_numpy()

    promo_effect = np.where(promo, _PROMO_DOW[dow], 0.0) * np.where(
        run_week == 2, _PROMO_SECOND_WEEK, 1.0
    )
    years = ((dates - pd.Timestamp("2014-01-01")).days / 365.25).to_numpy()
    school_lift = np.array([_SCHOOL_BY_TYPE[k] for k in kinds])
    log_mu = (
        (_DOW[dow] + promo_effect + _season(dates))[None, :]
        + store["Trend"].to_numpy()[:, None] * years[None, :]
        + school_lift[:, None] * school
        + _holiday_proximity(state_holidays(dates))[state]
        + _competition(store, dates)
        + _promo2(store, dates)
    )
    is_open, present, unknown = _open_and_present(store, dates, holiday, rng)

    # Scale each store so that its mean over open training days is its Level.
    train_days = dates.values <= np.datetime64(schema.TRAIN_END)
    counted = is_open & present & train_days[None, :]
    mean = (np.exp(log_mu) * counted).sum(axis=1) / counted.sum(axis=1)
    log_mu += np.log(store["Level"].to_numpy() / mean)[:, None]
    return Grid(
        dates=dates,
        log_mu=log_mu,
        promo_effect=np.broadcast_to(promo_effect, log_mu.shape),
        open=is_open,
        present=present,
        holiday=holiday,
        school=school,
        promo=promo,
        open_unknown=unknown,
    )

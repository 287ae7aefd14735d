"""German calendars for the synthetic generator: states, state holidays, school holidays, promos.

State holidays follow the real German rules for 2013-2015 (moveable feasts from the
Easter date); school holidays follow the published summer-holiday dates per state
and a regular pattern for the other breaks. The twelve state groups are the ones the
Kaggle community mapped the stores to (``HB,NI`` is one group).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

__all__ = [
    "STATES",
    "STATE_SHARES",
    "all_dates",
    "promo_calendar",
    "school_holidays",
    "state_holidays",
]

STATES = ("BE", "BW", "BY", "HB,NI", "HE", "HH", "NW", "RP", "SH", "SN", "ST", "TH")
#: share of stores per state group (roughly the Kaggle store_states.csv mapping)
STATE_SHARES = (0.08, 0.08, 0.16, 0.065, 0.10, 0.025, 0.28, 0.035, 0.10, 0.065, 0.02, 0.03)

# (summer holiday first day, last day) per state and year, month-day pairs.
_SUMMER = {
    "BE": {2013: ((6, 20), (8, 2)), 2014: ((7, 9), (8, 22)), 2015: ((7, 16), (8, 28))},
    "BW": {2013: ((7, 25), (9, 7)), 2014: ((7, 31), (9, 13)), 2015: ((7, 30), (9, 12))},
    "BY": {2013: ((8, 1), (9, 16)), 2014: ((7, 30), (9, 15)), 2015: ((8, 1), (9, 14))},
    "HB,NI": {2013: ((6, 27), (8, 7)), 2014: ((7, 31), (9, 10)), 2015: ((7, 23), (9, 2))},
    "HE": {2013: ((7, 8), (8, 16)), 2014: ((7, 28), (9, 5)), 2015: ((7, 27), (9, 4))},
    "HH": {2013: ((6, 20), (7, 31)), 2014: ((7, 10), (8, 20)), 2015: ((7, 16), (8, 26))},
    "NW": {2013: ((7, 22), (9, 3)), 2014: ((7, 7), (8, 19)), 2015: ((6, 29), (8, 11))},
    "RP": {2013: ((7, 8), (8, 16)), 2014: ((7, 28), (9, 5)), 2015: ((7, 27), (9, 4))},
    "SH": {2013: ((6, 24), (8, 3)), 2014: ((7, 14), (8, 23)), 2015: ((7, 20), (8, 29))},
    "SN": {2013: ((7, 15), (8, 23)), 2014: ((7, 21), (8, 29)), 2015: ((7, 13), (8, 21))},
    "ST": {2013: ((7, 15), (8, 28)), 2014: ((7, 21), (8, 31)), 2015: ((7, 13), (8, 26))},
    "TH": {2013: ((7, 15), (8, 23)), 2014: ((7, 21), (8, 29)), 2015: ((7, 13), (8, 21))},
}
_EPIPHANY = {"BW", "BY", "ST"}
_CORPUS_CHRISTI = {"BW", "BY", "HE", "NW", "RP"}
_ASSUMPTION = {"BY"}
_REFORMATION = {"SN", "ST", "TH"}
_ALL_SAINTS = {"BW", "BY", "NW", "RP"}
_REPENTANCE = {"SN"}
_WINTER_BREAK = {"BE": 5, "BY": 7, "HH": 6, "SN": 8, "ST": 7, "TH": 6}  # ISO week in Feb
_WHITSUN_BREAK = {"BW", "BY"}

_YEARS = (2012, 2013, 2014, 2015)


def all_dates(start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """Every calendar day from start to end, inclusive."""
    return pd.date_range(start, end, freq="D")


def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (Meeus/Jones/Butcher algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    wday = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * wday) // 451
    month, day = divmod(h + wday - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def state_holidays(dates: pd.DatetimeIndex) -> np.ndarray:
    """StateHoliday codes per state group and date: 0 none, 1 'a', 2 'b', 3 'c'.

    Returns an int8 array of shape (len(STATES), len(dates)).
    """
    out = np.zeros((len(STATES), len(dates)), dtype=np.int8)
    index = {d.date(): i for i, d in enumerate(dates)}

    def mark(day: dt.date, code: int, states: set[str] | None = None) -> None:
        if day in index:
            for s, name in enumerate(STATES):
                if states is None or name in states:
                    out[s, index[day]] = code

    for year in _YEARS:
        easter = _easter(year)
        for month, day in ((1, 1), (5, 1), (10, 3)):
            mark(dt.date(year, month, day), 1)
        mark(easter + dt.timedelta(days=39), 1)  # Ascension
        mark(easter + dt.timedelta(days=50), 1)  # Whit Monday
        mark(dt.date(year, 1, 6), 1, _EPIPHANY)
        mark(easter + dt.timedelta(days=60), 1, _CORPUS_CHRISTI)
        mark(dt.date(year, 8, 15), 1, _ASSUMPTION)
        mark(dt.date(year, 10, 31), 1, _REFORMATION)
        mark(dt.date(year, 11, 1), 1, _ALL_SAINTS)
        nov22 = dt.date(year, 11, 22)
        mark(nov22 - dt.timedelta(days=(nov22.weekday() - 2) % 7), 1, _REPENTANCE)
        mark(easter - dt.timedelta(days=2), 2)  # Good Friday
        mark(easter + dt.timedelta(days=1), 2)  # Easter Monday
        mark(dt.date(year, 12, 25), 3)
        mark(dt.date(year, 12, 26), 3)
    return out


def school_holidays(dates: pd.DatetimeIndex) -> np.ndarray:
    """Whether schools are closed, per state group and date: bool (len(STATES), len(dates))."""
    out = np.zeros((len(STATES), len(dates)), dtype=bool)
    values = dates.values

    def mark(s: int, first: dt.date, last: dt.date) -> None:
        lo = np.datetime64(first, "ns")
        hi = np.datetime64(last, "ns")
        out[s] |= (values >= lo) & (values <= hi)

    for s, name in enumerate(STATES):
        for year in _YEARS:
            easter = _easter(year)
            mark(s, dt.date(year, 12, 23), dt.date(year + 1, 1, 2))  # Christmas
            early = s % 3 == 0  # a third of the states start Easter a week earlier
            start = easter - dt.timedelta(days=15 if early else 6)
            mark(s, start, start + dt.timedelta(days=9 + s % 3))
            autumn = dt.date.fromisocalendar(year, 40 + (s * 5) % 4, 1)
            mark(s, autumn, autumn + dt.timedelta(days=4 if s % 2 else 9))
            if name in _WINTER_BREAK:
                winter = dt.date.fromisocalendar(year, _WINTER_BREAK[name], 1)
                mark(s, winter, winter + dt.timedelta(days=6))
            if name in _WHITSUN_BREAK:
                whit = easter + dt.timedelta(days=50)
                mark(s, whit, whit + dt.timedelta(days=6))
            if year in _SUMMER[name]:
                (m1, d1), (m2, d2) = _SUMMER[name][year]
                mark(s, dt.date(year, m1, d1), dt.date(year, m2, d2))
    return out


def promo_calendar(dates: pd.DatetimeIndex, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A chain-wide promo calendar: Monday-to-Friday promo weeks, mostly every other week.

    About one promo run in six lasts two consecutive weeks. Returns ``(promo, run_week)``:
    promo is a bool per date; run_week is 1 in the first week of a run, 2 in the second,
    0 outside promos.
    """
    monday = dates[0] - pd.Timedelta(days=dates[0].day_of_week)
    week = ((dates - monday).days // 7).to_numpy()
    n_weeks = int(week.max()) + 1
    on = np.zeros(n_weeks, dtype=np.int8)
    w = 1  # the first week of 2013 (New Year) has no promo
    while w < n_weeks:
        on[w] = 1
        if rng.random() < 0.16 and w + 1 < n_weeks:
            on[w + 1] = 2
            w += 3
        else:
            w += 2
    weekday = dates.day_of_week.to_numpy() < 5
    run_week = np.where(weekday, on[week], 0).astype(np.int8)
    return run_week > 0, run_week

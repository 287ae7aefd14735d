"""The synthetic store table: store.csv's columns plus the hidden traits that drive sales.

Counts come from the real store.csv (facts file section 1.4) and are scaled to the
number of stores of a preset; the full preset (1,115 stores) reproduces them exactly.
Continuous traits are drawn as stratified "ladders" (evenly spaced quantiles of a
fixed distribution, randomly permuted) so that even 50 stores have the right spread.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

from daskcloud.rossmann import schema
from daskcloud.rossmann._calendar import STATE_SHARES

__all__ = ["FULL_STORES", "build_stores", "scaled", "special_store"]

FULL_STORES = 1115

_STORE_TYPES = {"a": 602, "b": 17, "c": 148, "d": 348}
_ASSORTMENTS = {"a": 593, "b": 9, "c": 513}  # every 'b' is on StoreType 'b'
_PROMO_INTERVALS = dict(zip(schema.PROMO_INTERVALS, (335, 130, 106), strict=True))
_COMP_MONTHS = {
    9: 125,
    4: 94,
    11: 92,
    3: 70,
    7: 67,
    12: 64,
    10: 61,
    6: 50,
    5: 44,
    2: 41,
    8: 39,
    1: 14,
}
_COMP_YEARS = {
    1900: 1, 1961: 1, 1990: 5, 1991: 1, 1992: 1, 1993: 1, 1994: 2, 1995: 2, 1998: 1, 1999: 8,
    2000: 10, 2001: 16, 2002: 27, 2003: 19, 2004: 22, 2005: 62, 2006: 47, 2007: 48, 2008: 54,
    2009: 54, 2010: 52, 2011: 54, 2012: 82, 2013: 83, 2014: 70, 2015: 38,
}  # fmt: skip
_PROMO2_YEARS = {2009: 73, 2010: 64, 2011: 128, 2012: 81, 2013: 120, 2014: 95, 2015: 10}
_N_COMP_DISTANCE_NAN = 3  # stores 291, 622, 879 in the real file
_N_COMP_SINCE_NAN = 354
_N_NO_PROMO2 = 544
# CompetitionDistance quantile function (log-linear between knots): min, Q1, median, Q3
# and max are the real ones; the 1 km / 5 km shares (785 / 352 stores beyond) too.
_DIST_P = (0.0, 0.25, 0.296, 0.5, 0.684, 0.75, 0.9, 0.99, 1.0)
_DIST_M = (20, 717.5, 1000, 2325, 5000, 6882.5, 15000, 29500, 75860)
_P2_WEEK_P = (0.0, 0.25, 0.5, 0.75, 1.0)
_P2_WEEK = (1, 13, 22, 35, 50)
# Per-store mean sales on open days: lognormal ladders per StoreType (mean, log-sd).
_LEVELS = {"a": (6926.0, 0.28), "b": (10233.0, 0.45), "c": (6933.0, 0.27), "d": (6822.0, 0.24)}
_SALES_PER_CUSTOMER = {"a": 8.71, "b": 5.06, "c": 8.50, "d": 11.25}
_TREND_BY_TYPE = {"a": 0.0, "b": 0.06, "c": 0.01, "d": 0.02}  # log growth per year


def scaled(count: int, n_stores: int, minimum: int = 0) -> int:
    """``count`` (a figure of the 1,115-store data) scaled to ``n_stores``, rounded half up."""
    return max(minimum, math.floor(count * n_stores / FULL_STORES + 0.5))


def special_store(real_id: int, n_stores: int) -> int:
    """The store id that plays the part of real store ``real_id`` in a smaller preset."""
    return max(1, min(n_stores, math.floor(real_id * n_stores / FULL_STORES + 0.5)))


def _allocate(counts: dict, total: int, minimum: int = 1) -> dict:
    """Split ``total`` like ``counts`` (largest remainder, at least ``minimum`` each)."""
    weight = sum(counts.values())
    if total == weight:
        return dict(counts)
    raw = {k: v * total / weight for k, v in counts.items()}
    out = {k: max(minimum, math.floor(r)) for k, r in raw.items()}
    # categories lifted to the minimum take no further share
    share = {k: r - math.floor(r) if math.floor(r) >= minimum else -1.0 for k, r in raw.items()}
    by_remainder = sorted(raw, key=share.get, reverse=True)
    i = 0
    while sum(out.values()) < total:
        out[by_remainder[i % len(by_remainder)]] += 1
        i += 1
    while sum(out.values()) > total:
        largest = max(out, key=out.get)
        out[largest] -= 1
    return out


def _shuffled(counts: dict, rng: np.random.Generator) -> np.ndarray:
    values = np.concatenate([np.full(c, k, dtype=object) for k, c in counts.items()])
    return values[rng.permutation(len(values))]


def _ladder(n: int, p: tuple, values: tuple, log: bool, ends: bool = True) -> np.ndarray:
    """``n`` evenly spaced quantiles of a piecewise-linear quantile function.

    With ``ends`` the first and last are the minimum and maximum; otherwise midpoints.
    """
    grid = np.linspace(0.0, 1.0, n) if ends and n > 1 else (np.arange(n) + 0.5) / n
    if log:
        return np.exp(np.interp(grid, p, np.log(values)))
    return np.interp(grid, p, values)


def _lognormal_ladder(n: int, n_full: int, mean: float, sigma: float) -> np.ndarray:
    """Quantiles of a lognormal with the given mean, spanning what ``n_full`` draws would."""
    eps = 0.5 / n_full
    grid = np.linspace(eps, 1.0 - eps, n) if n > 1 else np.array([0.5])
    values = np.exp(sigma * np.array([NormalDist().inv_cdf(p) for p in grid]))
    return values * mean / values.mean()


def build_stores(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """The store table of ``n`` stores: store.csv columns plus hidden generator columns.

    Hidden columns: State (index into STATES), Level (mean sales on open days), SPC
    (sales per customer), Trend (log growth per year), SundayOpen, Gap (missing
    2014-07-01..2014-12-31), InTest.
    """
    ids = np.arange(1, n + 1)
    types = _shuffled(_allocate(_STORE_TYPES, n), rng)
    n_b = int((types == "b").sum())
    n_assort_b = min(n_b, scaled(_ASSORTMENTS["b"], n, minimum=1))
    rest = _allocate({"a": _ASSORTMENTS["a"], "c": _ASSORTMENTS["c"]}, n - n_assort_b)
    assortment = np.empty(n, dtype=object)
    b_stores = np.flatnonzero(types == "b")
    assortment[b_stores[:n_assort_b]] = "b"
    others = np.setdiff1d(ids - 1, b_stores[:n_assort_b])
    assortment[others] = _shuffled(rest, rng)

    nan_dist = np.array([special_store(s, n) for s in (291, 622, 879)][:_N_COMP_DISTANCE_NAN])
    distance = np.full(n, np.nan)
    has_dist = np.setdiff1d(ids, nan_dist) - 1
    # Only the full preset has enough stores to carry the real minimum and maximum.
    ladder = _ladder(len(has_dist), _DIST_P, _DIST_M, log=True, ends=n == FULL_STORES)
    distance[has_dist] = np.round(ladder[rng.permutation(len(has_dist))], -1).clip(20, None)

    n_since_nan = max(len(nan_dist), scaled(_N_COMP_SINCE_NAN, n))
    others = rng.permutation(has_dist)[: n_since_nan - len(nan_dist)]
    since_nan = np.union1d(nan_dist - 1, others)
    known = np.setdiff1d(ids - 1, since_nan)
    comp_month = np.full(n, np.nan)
    comp_year = np.full(n, np.nan)
    comp_month[known] = _shuffled(_allocate(_COMP_MONTHS, len(known), 0), rng).astype(float)
    comp_year[known] = _shuffled(_allocate(_COMP_YEARS, len(known), 0), rng).astype(float)

    n_promo2 = n - scaled(_N_NO_PROMO2, n)
    promo2_idx = rng.permutation(n)[:n_promo2]
    promo2 = np.zeros(n, dtype=np.int64)
    promo2[promo2_idx] = 1
    p2_week = np.full(n, np.nan)
    p2_year = np.full(n, np.nan)
    interval = np.full(n, "", dtype=object)
    p2_year[promo2_idx] = _shuffled(_allocate(_PROMO2_YEARS, n_promo2, 0), rng).astype(float)
    weeks = np.round(_ladder(n_promo2, _P2_WEEK_P, _P2_WEEK, log=False))
    p2_week[promo2_idx] = weeks[rng.permutation(n_promo2)]
    late = (p2_year == 2015) & (p2_week > 22)  # no Promo2 start after the training data
    p2_week[late] = p2_week[late] - 22
    interval[promo2_idx] = _shuffled(_allocate(_PROMO_INTERVALS, n_promo2), rng)

    store = pd.DataFrame(
        {
            "Store": ids,
            "StoreType": types.astype(str),
            "Assortment": assortment.astype(str),
            "CompetitionDistance": distance,
            "CompetitionOpenSinceMonth": comp_month,
            "CompetitionOpenSinceYear": comp_year,
            "Promo2": promo2,
            "Promo2SinceWeek": p2_week,
            "Promo2SinceYear": p2_year,
            "PromoInterval": pd.Series(interval).replace("", np.nan).to_numpy(),
        }
    )
    _add_hidden_traits(store, rng)
    return store


def _add_hidden_traits(store: pd.DataFrame, rng: np.random.Generator) -> None:
    n = len(store)
    shares = dict(enumerate(STATE_SHARES))
    store["State"] = _shuffled(_allocate(shares, n, 0), rng).astype(np.int64)

    # Bigger, urban (close competitor), non-Promo2, extended-assortment stores sell more.
    dist = np.log(store["CompetitionDistance"].fillna(2325.0).to_numpy())
    score = (
        -0.25 * (dist - dist.mean()) / dist.std()
        + 0.3 * (store["Promo2"].to_numpy() == 0)
        + 0.2 * (store["Assortment"].to_numpy() == "c")
        + rng.standard_normal(n)
    )
    level = np.zeros(n)
    for kind, (mean, sigma) in _LEVELS.items():
        idx = np.flatnonzero(store["StoreType"].to_numpy() == kind)
        if len(idx) == 0:
            continue
        ladder = _lognormal_ladder(len(idx), _STORE_TYPES[kind], mean, sigma)
        level[idx[np.argsort(score[idx])]] = ladder
    store["Level"] = level
    kinds = store["StoreType"].to_numpy()
    spc = np.array([_SALES_PER_CUSTOMER[k] for k in kinds])
    store["SPC"] = spc * np.exp(0.08 * rng.standard_normal(n))
    trend = np.array([_TREND_BY_TYPE[k] for k in kinds]) + 0.03 * (
        store["Assortment"].to_numpy() == "b"
    )
    store["Trend"] = 0.05 + trend + 0.02 * rng.standard_normal(n)

    nan_open = special_store(622, n)
    missing_day = special_store(988, n)
    candidates = np.setdiff1d(store["Store"].to_numpy(), [nan_open])
    weight = np.where(kinds[candidates - 1] == "b", 20.0, 1.0)
    sunday = rng.choice(
        candidates, size=scaled(33, n, minimum=1), replace=False, p=weight / weight.sum()
    )
    store["SundayOpen"] = store["Store"].isin(sunday)
    gap_pool = np.setdiff1d(store["Store"].to_numpy(), [missing_day])
    store["Gap"] = store["Store"].isin(rng.choice(gap_pool, size=scaled(180, n), replace=False))
    test_pool = np.setdiff1d(store["Store"].to_numpy(), [1, nan_open])
    n_test = scaled(856, n, minimum=2) - 2
    in_test = np.concatenate([[1, nan_open], rng.choice(test_pool, size=n_test, replace=False)])
    store["InTest"] = store["Store"].isin(in_test)

"""The statistics the synthetic data must reproduce, measured the same way on any data set.

:func:`profile` computes each figure of the facts file (section 4) from a train table
joined with the store table; :data:`TARGETS` holds the real values. The generator's
tests and ``docs/data.md`` compare the two.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from daskcloud.rossmann import schema
from daskcloud.rossmann.metric import rmspe

__all__ = ["DOW_NAMES", "TARGETS", "holdout_scores", "profile"]

DOW_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

#: real values (docs/rossmann-facts.md section 4) of the figures :func:`profile` returns
TARGETS = {
    "open_mean_sales": 6955.5,
    "mean_sales_a": 6925.7,
    "mean_sales_b": 10233.4,
    "mean_sales_c": 6933.1,
    "mean_sales_d": 6822.3,
    "spc_a": 8.71,
    "spc_b": 5.06,
    "spc_c": 8.50,
    "spc_d": 11.25,
    "promo_lift": 0.39,
    "december_lift": 0.20,
    "closed_share": 0.17,
    "distance_min": 20.0,
    "distance_q1": 717.5,
    "distance_median": 2325.0,
    "distance_mean": 5404.9,
    "distance_q3": 6882.5,
    "distance_max": 75860.0,
    "dow_Mon": 7809.0,
    "dow_Tue": 7005.0,
    "dow_Wed": 6556.0,
    "dow_Thu": 6248.0,
    "dow_Fri": 6723.0,
    "dow_Sat": 5848.0,
    "dow_Sun": 204.0,
    "store_mean_min": 2711.0,
    "store_mean_max": 21690.0,
}


def profile(train: pd.DataFrame, store: pd.DataFrame) -> dict[str, float]:
    """The figures of :data:`TARGETS`, plus a few descriptive ones, for one data set.

    Args:
        train: train.csv rows (Date as datetime64); StoreType is joined from ``store``
            when missing.
        store: store.csv rows.
    """
    if "StoreType" not in train:
        train = train.merge(store[["Store", "StoreType"]], on="Store", how="left")
    is_open = train["Open"].to_numpy() == 1
    sold = is_open & (train["Sales"].to_numpy() > 0)
    out: dict[str, float] = {"open_mean_sales": train.loc[is_open, "Sales"].mean()}
    by_type = train[sold].groupby("StoreType")
    means = by_type["Sales"].mean()
    sums = by_type[["Sales", "Customers"]].sum()
    for kind in schema.STORE_TYPES:
        out[f"mean_sales_{kind}"] = means.get(kind, np.nan)
        if kind in sums.index:
            out[f"spc_{kind}"] = sums.loc[kind, "Sales"] / sums.loc[kind, "Customers"]
        else:
            out[f"spc_{kind}"] = np.nan
    promo = train.loc[is_open].groupby("Promo")["Sales"].mean()
    out["promo_lift"] = promo.get(1, np.nan) / promo.get(0, np.nan) - 1
    monthly = train.groupby(train["Date"].dt.month)["Sales"].mean()
    out["december_lift"] = monthly.loc[12] / monthly.drop(12).mean() - 1
    out["closed_share"] = 1 - is_open.mean()
    dist = store["CompetitionDistance"].dropna()
    out.update(
        distance_min=dist.min(),
        distance_q1=dist.quantile(0.25),
        distance_median=dist.median(),
        distance_mean=dist.mean(),
        distance_q3=dist.quantile(0.75),
        distance_max=dist.max(),
    )
    dow = train.groupby("DayOfWeek")["Sales"].mean()
    for number, name in enumerate(DOW_NAMES, start=1):
        out[f"dow_{name}"] = dow.get(number, np.nan)
    per_store = train.loc[is_open].groupby("Store")["Sales"].mean()
    out["store_mean_min"] = per_store.min()
    out["store_mean_max"] = per_store.max()
    # descriptive extras, no target
    out["promo_share"] = train["Promo"].mean()
    out["school_holiday_share"] = train["SchoolHoliday"].mean()
    out["sunday_open_stores"] = train.loc[is_open & (train["DayOfWeek"] == 7), "Store"].nunique()
    out["open_zero_sales_rows"] = int((is_open & (train["Sales"] == 0)).sum())
    return out


def holdout_scores(train: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Holdout (the last 6 weeks of train) RMSPE of the oracle and of the median baseline.

    The oracle predicts truth.csv's ``Truth``; the baseline predicts the median Sales per
    (Store, DayOfWeek, Promo) over open days with Sales > 0 before the holdout.
    """
    start = pd.Timestamp(schema.HOLDOUT_START)
    hold = train[(train["Date"] >= start) & (train["Sales"] > 0)]
    fit = train[(train["Date"] < start) & (train["Open"] == 1) & (train["Sales"] > 0)]
    keys = ["Store", "DayOfWeek", "Promo"]
    median = fit.groupby(keys)["Sales"].median().rename("Median")
    pred = hold.join(median, on=keys)["Median"].fillna(0.0).to_numpy()
    truth_train = truth[truth["Set"] == "train"].set_index(["Store", "Date"])["Truth"]
    oracle = truth_train.reindex(pd.MultiIndex.from_frame(hold[["Store", "Date"]])).to_numpy()
    y = hold["Sales"].to_numpy(dtype=float)
    return {"oracle_rmspe": rmspe(y, oracle), "baseline_rmspe": rmspe(y, pred)}

"""Writing Rossmann tables in the byte format of the Kaggle files (facts file section 1.1).

Headers are fully quoted; in train/test, StateHoliday and SchoolHoliday are quoted
strings and every other value is bare; in store.csv the categorical values are
quoted, a missing number is an empty field and a missing PromoInterval is ``""``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "format_sample_submission",
    "format_store",
    "format_test",
    "format_train",
    "format_truth",
    "write_text",
]


def _header(columns: Iterable[str]) -> str:
    return ",".join(f'"{c}"' for c in columns)


def _ints(values) -> list[str]:
    return np.asarray(values).astype(np.int64).astype(str).tolist()


def _optional_ints(values) -> list[str]:
    a = np.asarray(values, dtype=float)
    return ["" if np.isnan(v) else str(int(v)) for v in a.tolist()]


def _quoted(values) -> list[str]:
    return ['"' + str(v) + '"' for v in np.asarray(values).tolist()]


def _dates(values: pd.Series) -> list[str]:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d").tolist()


def _join(header: str, columns: list[list[str]]) -> str:
    lines = [header, *(",".join(row) for row in zip(*columns, strict=True))]
    return "\n".join(lines) + "\n"


def format_train(train: pd.DataFrame) -> str:
    """train.csv text: ``1,5,2015-07-31,5263,555,1,1,"0","1"``."""
    cols = [
        _ints(train["Store"]),
        _ints(train["DayOfWeek"]),
        _dates(train["Date"]),
        _ints(train["Sales"]),
        _ints(train["Customers"]),
        _ints(train["Open"]),
        _ints(train["Promo"]),
        _quoted(train["StateHoliday"]),
        _quoted(train["SchoolHoliday"]),
    ]
    return _join(_header(train.columns), cols)


def format_test(test: pd.DataFrame) -> str:
    """test.csv text: Open is empty where unknown."""
    cols = [
        _ints(test["Id"]),
        _ints(test["Store"]),
        _ints(test["DayOfWeek"]),
        _dates(test["Date"]),
        _optional_ints(test["Open"]),
        _ints(test["Promo"]),
        _quoted(test["StateHoliday"]),
        _quoted(test["SchoolHoliday"]),
    ]
    return _join(_header(test.columns), cols)


def format_store(store: pd.DataFrame) -> str:
    """store.csv text: ``2,"a","a",570,11,2007,1,13,2010,"Jan,Apr,Jul,Oct"``."""
    cols = [
        _ints(store["Store"]),
        _quoted(store["StoreType"]),
        _quoted(store["Assortment"]),
        _optional_ints(store["CompetitionDistance"]),
        _optional_ints(store["CompetitionOpenSinceMonth"]),
        _optional_ints(store["CompetitionOpenSinceYear"]),
        _ints(store["Promo2"]),
        _optional_ints(store["Promo2SinceWeek"]),
        _optional_ints(store["Promo2SinceYear"]),
        _quoted(store["PromoInterval"].fillna("")),
    ]
    return _join(_header(store.columns), cols)


def format_sample_submission(test: pd.DataFrame) -> str:
    """sample_submission.csv text: every test Id with Sales 0."""
    ids = _ints(test["Id"])
    return _join(_header(("Id", "Sales")), [ids, ["0"] * len(ids)])


def format_truth(truth: pd.DataFrame) -> str:
    """truth.csv text (daskcloud's own file): plain header, Truth with two decimals."""
    cols = [
        truth["Set"].astype(str).tolist(),
        _optional_ints(truth["Id"]),
        _ints(truth["Store"]),
        _dates(truth["Date"]),
        _ints(truth["Open"]),
        _ints(truth["Sales"]),
        [f"{v:.2f}" for v in truth["Truth"].to_numpy().tolist()],
    ]
    return _join(",".join(truth.columns), cols)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 with Unix newlines."""
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)

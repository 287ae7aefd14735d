"""The Rossmann Store Sales schema: file names, column order, dtypes and value domains.

Everything that reads, writes or checks the Kaggle files takes its names from here,
so the loader, the validator and the generator cannot drift apart. The figures follow
``docs/rossmann-facts.md`` (section 1).
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "ASSORTMENTS",
    "CATEGORICAL_STRING_COLUMNS",
    "DAY_OF_WEEK",
    "FLAG_VALUES",
    "HOLDOUT_START",
    "PROMO_INTERVALS",
    "SAMPLE_SUBMISSION_COLUMNS",
    "SAMPLE_SUBMISSION_FILE",
    "STATE_HOLIDAYS",
    "STORE_COLUMNS",
    "STORE_DTYPES",
    "STORE_FILE",
    "STORE_TYPES",
    "TEST_COLUMNS",
    "TEST_DTYPES",
    "TEST_END",
    "TEST_FILE",
    "TEST_START",
    "TRAIN_COLUMNS",
    "TRAIN_DTYPES",
    "TRAIN_END",
    "TRAIN_FILE",
    "TRAIN_START",
    "TRUTH_COLUMNS",
    "TRUTH_FILE",
]

TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"
STORE_FILE = "store.csv"
SAMPLE_SUBMISSION_FILE = "sample_submission.csv"
#: written by the synthetic generator only; see :mod:`daskcloud.rossmann.generate`
TRUTH_FILE = "truth.csv"

TRAIN_COLUMNS = (
    "Store",
    "DayOfWeek",
    "Date",
    "Sales",
    "Customers",
    "Open",
    "Promo",
    "StateHoliday",
    "SchoolHoliday",
)
TEST_COLUMNS = (
    "Id",
    "Store",
    "DayOfWeek",
    "Date",
    "Open",
    "Promo",
    "StateHoliday",
    "SchoolHoliday",
)
STORE_COLUMNS = (
    "Store",
    "StoreType",
    "Assortment",
    "CompetitionDistance",
    "CompetitionOpenSinceMonth",
    "CompetitionOpenSinceYear",
    "Promo2",
    "Promo2SinceWeek",
    "Promo2SinceYear",
    "PromoInterval",
)
SAMPLE_SUBMISSION_COLUMNS = ("Id", "Sales")
#: truth.csv: one row per train row (file order, ``Set=train``, empty Id) then one per
#: test row (Id order, ``Set=test``). ``Sales`` is the generated sale (hidden for test
#: rows), ``Truth`` the RMSPE-optimal prediction (0 on closed days).
TRUTH_COLUMNS = ("Set", "Id", "Store", "Date", "Open", "Sales", "Truth")

# Dates are read as strings and parsed with an explicit format; StateHoliday is a
# string so that "0" never turns into a mix of int 0 and str "0" (facts file section 2).
TRAIN_DTYPES = {
    "Store": "int64",
    "DayOfWeek": "int64",
    "Date": "str",
    "Sales": "int64",
    "Customers": "int64",
    "Open": "int64",
    "Promo": "int64",
    "StateHoliday": "str",
    "SchoolHoliday": "int64",
}
TEST_DTYPES = {
    "Id": "int64",
    "Store": "int64",
    "DayOfWeek": "int64",
    "Date": "str",
    "Open": "float64",  # 11 NaN in the real file
    "Promo": "int64",
    "StateHoliday": "str",
    "SchoolHoliday": "int64",
}
STORE_DTYPES = {
    "Store": "int64",
    "StoreType": "str",
    "Assortment": "str",
    "CompetitionDistance": "float64",
    "CompetitionOpenSinceMonth": "float64",
    "CompetitionOpenSinceYear": "float64",
    "Promo2": "int64",
    "Promo2SinceWeek": "float64",
    "Promo2SinceYear": "float64",
    "PromoInterval": "str",
}
CATEGORICAL_STRING_COLUMNS = ("StateHoliday", "StoreType", "Assortment", "PromoInterval")

DAY_OF_WEEK = tuple(range(1, 8))  # 1 = Monday ... 7 = Sunday
FLAG_VALUES = (0, 1)
STATE_HOLIDAYS = ("0", "a", "b", "c")  # none, public holiday, Easter, Christmas
STORE_TYPES = ("a", "b", "c", "d")
ASSORTMENTS = ("a", "b", "c")  # basic, extra, extended
PROMO_INTERVALS = ("Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec")  # "Sept", sic

TRAIN_START = dt.date(2013, 1, 1)
TRAIN_END = dt.date(2015, 7, 31)
TEST_START = dt.date(2015, 8, 1)
TEST_END = dt.date(2015, 9, 17)
#: first day of the time-based holdout: the last 6 weeks of train, as the winner used
HOLDOUT_START = dt.date(2015, 6, 20)

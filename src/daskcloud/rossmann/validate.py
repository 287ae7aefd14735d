"""Checking a Rossmann data directory against the schema, one problem per line.

:func:`validate_dir` reads every file as text (so nothing can fail half-way through
parsing) and checks columns, dtypes, value domains, DayOfWeek against Date, that every
Store of train/test is in store.csv and that (Store, Date) is unique. Each
:class:`Problem` names the file, the column, how many rows and one example; a clean
directory gets a :class:`Summary`.

Example:
    >>> report = validate_dir("data/small")  # doctest: +SKIP
    >>> report.ok, report.summary.rows  # doctest: +SKIP
    (True, 45627)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from daskcloud.exceptions import DataError
from daskcloud.rossmann import schema

__all__ = ["Problem", "Summary", "ValidationReport", "validate_dir"]

_INT = r"-?\d+"
_NUMBER = r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?"
_DATE = r"\d{4}-\d{2}-\d{2}"


@dataclasses.dataclass(frozen=True)
class Problem:
    """One schema violation: ``rows`` rows of ``column`` in ``file``, ``example`` the first."""

    file: str
    column: str
    message: str
    rows: int = 0
    example: str = ""

    def __str__(self) -> str:
        where = f"{self.file}: column {self.column}" if self.column else self.file
        if not self.rows:
            return f"{where}: {self.message}"
        plural = "row" if self.rows == 1 else "rows"
        return f"{where}: {self.message} ({self.rows:,} {plural}, e.g. {self.example})"


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a valid directory holds."""

    rows: int
    stores: int
    first_date: str
    last_date: str
    missing_store_days: int
    closed_share: float
    test_rows: int | None

    def __str__(self) -> str:
        test = "no test.csv" if self.test_rows is None else f"test.csv {self.test_rows:,} rows"
        return (
            f"train.csv {self.rows:,} rows, {self.stores:,} stores, "
            f"{self.first_date}..{self.last_date}; {self.missing_store_days:,} missing "
            f"store-days; closed share {self.closed_share:.1%}; {test}"
        )


@dataclasses.dataclass(frozen=True)
class ValidationReport:
    """The result of :func:`validate_dir`: problems (empty when valid) and a summary."""

    data_dir: Path
    problems: tuple[Problem, ...]
    summary: Summary | None

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """One line per problem, or the summary line when there are none."""
        return [str(p) for p in self.problems] or [str(self.summary)]


class _Checker:
    """Collects problems for one file read as text (all columns str, no NaN conversion)."""

    def __init__(self, name: str, frame: pd.DataFrame) -> None:
        self.name = name
        self.frame = frame
        self.problems: list[Problem] = []

    def flag(self, column: str, bad: np.ndarray | pd.Series, message: str) -> None:
        bad = np.asarray(bad, dtype=bool)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            value = self.frame[column].iloc[first] if column in self.frame else ""
            self.problems.append(
                Problem(
                    self.name, column, message, int(bad.sum()), f"{value!r} on line {first + 2}"
                )
            )

    def matches(self, column: str, pattern: str, what: str, optional: bool = False) -> pd.Series:
        """Values of ``column`` that match ``pattern``; the rest are flagged."""
        text = self.frame[column]
        ok = text.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)
        empty = (text == "").to_numpy()
        bad = ~ok & ~empty if optional else ~ok
        self.flag(column, bad, f"not {what}" + (" or empty" if optional else ""))
        # cast only what matched; a float64 cast of digit strings is fast and exact enough
        values = text.where(ok, "0").astype("float64").to_numpy()
        return pd.Series(np.where(ok, values, np.nan), index=text.index)

    def integers(self, column: str, optional: bool = False) -> pd.Series:
        return self.matches(column, _INT, "an integer", optional)

    def within(self, column: str, allowed: tuple, values: pd.Series | None = None) -> None:
        """Flag values outside ``allowed`` (values that failed to parse were flagged already)."""
        data = self.frame[column] if values is None else values
        bad = ~data.isin(allowed) & data.notna()
        shown = ", ".join(str(a) for a in allowed)
        self.flag(column, bad.to_numpy(dtype=bool), f"value outside {{{shown}}}")

    def dates(self, column: str = "Date") -> pd.Series:
        text = self.frame[column]
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        self.flag(column, parsed.isna().to_numpy(), "not a date in YYYY-MM-DD format")
        return parsed


def _read_text(path: Path, name: str, columns: tuple[str, ...]) -> tuple[pd.DataFrame | None, list]:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, [Problem(name, "", f"cannot be read as CSV ({first})")]
    missing = [c for c in columns if c not in frame.columns]
    problems = [
        Problem(name, c, f"missing (expected columns: {', '.join(columns)})") for c in missing
    ]
    return (None if missing else frame), problems


def _check_rows(check: _Checker, known_stores: pd.Series | None) -> pd.DataFrame:
    """Checks shared by train.csv and test.csv; returns the parsed key columns."""
    store = check.integers("Store")
    dow = check.integers("DayOfWeek")
    check.within("DayOfWeek", schema.DAY_OF_WEEK, dow)
    date = check.dates()
    flags = {}
    for column in ("Open", "Promo", "SchoolHoliday"):
        if column == "Open" and check.name == schema.TEST_FILE:
            # test.csv's Open is float with NaN in the Kaggle file
            flags[column] = check.matches(column, _NUMBER, "a number", optional=True)
        else:
            flags[column] = check.integers(column)
        check.within(column, schema.FLAG_VALUES, flags[column])
    check.within("StateHoliday", schema.STATE_HOLIDAYS)
    wrong_day = dow.isin(schema.DAY_OF_WEEK) & date.notna() & (date.dt.day_of_week + 1 != dow)
    check.flag("DayOfWeek", wrong_day.to_numpy(dtype=bool), "does not match the weekday of Date")
    if known_stores is not None:
        unknown = store.notna() & ~store.isin(known_stores)
        check.flag("Store", unknown.to_numpy(dtype=bool), "Store not in store.csv")
    keys = pd.DataFrame({"Store": store, "Date": date})
    valid = keys.notna().all(axis=1)
    check.flag(
        "Date", (keys.duplicated(keep="first") & valid).to_numpy(), "(Store, Date) appears twice"
    )
    return keys.assign(Open=flags["Open"])


def _check_train(frame: pd.DataFrame, known: pd.Series | None) -> tuple[list, pd.DataFrame]:
    check = _Checker(schema.TRAIN_FILE, frame)
    keys = _check_rows(check, known)
    values = {}
    for column in ("Sales", "Customers"):
        values[column] = check.integers(column)
        check.flag(column, (values[column] < 0).to_numpy(dtype=bool), "negative")
    closed_sale = (keys["Open"] == 0) & (values["Sales"] > 0)
    check.flag("Sales", closed_sale.to_numpy(), "Sales > 0 on a closed day")
    return check.problems, keys


def _check_test(frame: pd.DataFrame, known: pd.Series | None) -> list[Problem]:
    check = _Checker(schema.TEST_FILE, frame)
    ids = check.integers("Id")
    check.flag("Id", (ids.duplicated() & ids.notna()).to_numpy(), "Id appears twice")
    _check_rows(check, known)
    return check.problems


def _check_store(frame: pd.DataFrame) -> tuple[list, pd.Series]:
    check = _Checker(schema.STORE_FILE, frame)
    store = check.integers("Store")
    check.flag("Store", (store.duplicated() & store.notna()).to_numpy(), "Store appears twice")
    check.within("StoreType", schema.STORE_TYPES)
    check.within("Assortment", schema.ASSORTMENTS)
    distance = check.matches("CompetitionDistance", _NUMBER, "a number", optional=True)
    check.flag("CompetitionDistance", (distance < 0).to_numpy(dtype=bool), "negative")
    month = check.integers("CompetitionOpenSinceMonth", optional=True)
    check.within("CompetitionOpenSinceMonth", tuple(range(1, 13)), month)
    check.integers("CompetitionOpenSinceYear", optional=True)
    promo2 = check.integers("Promo2")
    check.within("Promo2", schema.FLAG_VALUES, promo2)
    week = check.integers("Promo2SinceWeek", optional=True)
    check.within("Promo2SinceWeek", tuple(range(1, 54)), week)
    check.integers("Promo2SinceYear", optional=True)
    interval = frame["PromoInterval"]
    check.within("PromoInterval", schema.PROMO_INTERVALS, interval.where(interval != "", None))
    return check.problems, store.dropna()


def _summary(keys: pd.DataFrame, test: pd.DataFrame | None) -> Summary:
    stores = keys["Store"].nunique()
    days = keys["Date"].nunique()
    return Summary(
        rows=len(keys),
        stores=int(stores),
        first_date=str(keys["Date"].min().date()),
        last_date=str(keys["Date"].max().date()),
        missing_store_days=int(stores * days - len(keys)),
        closed_share=float((keys["Open"] == 0).mean()),
        test_rows=None if test is None else len(test),
    )


def validate_dir(data_dir: str | Path) -> ValidationReport:
    """Check the Rossmann files in ``data_dir`` (train.csv and store.csv; test.csv if present).

    Raises:
        DataError: ``data_dir`` is not a directory. Problems inside the files are
            returned in the report, never raised.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(
            f"{root}: data directory not found; pass the folder with the Kaggle CSVs "
            f"or create one with `daskcloud data generate --out {root}`"
        )
    problems: list[Problem] = []
    frames: dict[str, pd.DataFrame | None] = {}
    files = (
        (schema.STORE_FILE, schema.STORE_COLUMNS, True),
        (schema.TRAIN_FILE, schema.TRAIN_COLUMNS, True),
        (schema.TEST_FILE, schema.TEST_COLUMNS, False),
    )
    for name, columns, required in files:
        path = root / name
        if not path.is_file():
            if required:
                problems.append(
                    Problem(
                        name,
                        "",
                        "file not found; put the Kaggle file there or run "
                        "`daskcloud data generate`",
                    )
                )
            frames[name] = None
            continue
        frames[name], found = _read_text(path, name, columns)
        problems += found

    known = None
    if frames[schema.STORE_FILE] is not None:
        found, known = _check_store(frames[schema.STORE_FILE])
        problems += found
    keys = None
    if frames[schema.TRAIN_FILE] is not None:
        found, keys = _check_train(frames[schema.TRAIN_FILE], known)
        problems += found
    if frames[schema.TEST_FILE] is not None:
        problems += _check_test(frames[schema.TEST_FILE], known)
    summary = None
    if not problems and keys is not None:
        summary = _summary(keys, frames[schema.TEST_FILE])
    return ValidationReport(data_dir=root, problems=tuple(problems), summary=summary)

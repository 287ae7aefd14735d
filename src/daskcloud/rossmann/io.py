"""Reading the Kaggle Rossmann files (real or synthetic) into typed DataFrames.

:func:`load_rossmann` reads ``train.csv``, ``store.csv`` and, when present, ``test.csv``
and ``truth.csv`` with explicit dtypes, parses ``Date`` and joins the store table on
``Store``. It checks only what it needs to build the frames; ``daskcloud data validate``
(:func:`daskcloud.rossmann.validate_dir`) checks the domains.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from daskcloud.exceptions import DataError
from daskcloud.rossmann import schema

__all__ = ["RossmannData", "load_rossmann", "read_csv_file"]

_TRUTH_DTYPES = {
    "Set": "str",
    "Id": "float64",  # empty for train rows
    "Store": "int64",
    "Date": "str",
    "Open": "int64",
    "Sales": "int64",
    "Truth": "float64",
}


@dataclasses.dataclass(frozen=True, eq=False)
class RossmannData:
    """The Rossmann tables of one data directory.

    Attributes:
        train: ``train.csv`` joined with ``store.csv`` on ``Store``, in file order
            (Date descending, then Store ascending). ``Date`` is ``datetime64``,
            ``StateHoliday`` a string column with values ``"0"``, ``"a"``, ``"b"``, ``"c"``.
        test: ``test.csv`` joined with ``store.csv``, or None when the file is absent.
            ``Open`` is float64 and keeps its NaN values.
        store: ``store.csv`` as read.
        truth: ``truth.csv`` (synthetic data only) with ``Date`` parsed, or None.
        data_dir: the directory the files came from.

    Example:
        >>> data = load_rossmann("data/small")  # doctest: +SKIP
        >>> data.train.groupby("StoreType")["Sales"].mean()  # doctest: +SKIP
    """

    train: pd.DataFrame
    test: pd.DataFrame | None
    store: pd.DataFrame
    truth: pd.DataFrame | None
    data_dir: Path


def read_csv_file(
    path: Path, columns: Sequence[str], dtypes: Mapping[str, str], *, hint: str
) -> pd.DataFrame:
    """Read one CSV with the given columns and dtypes; any failure becomes a DataError."""
    if not path.is_file():
        raise DataError(f"{path}: file not found; {hint}")
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read CSV ({exc}); {hint}") from exc
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(columns)} (run `daskcloud data validate {path.parent}`)"
        )
    try:
        frame = pd.read_csv(
            path,
            usecols=list(columns),
            dtype=dict(dtypes),
            engine="c",
            na_values=[""],
            keep_default_na=False,
        )
    except (OSError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: a value does not match the expected dtypes ({exc}); "
            f"run `daskcloud data validate {path.parent}` to list the bad rows"
        ) from exc
    return frame[list(columns)]


def _parse_dates(frame: pd.DataFrame, path: Path) -> None:
    try:
        frame["Date"] = pd.to_datetime(frame["Date"], format="%Y-%m-%d")
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"{path}: column Date is not YYYY-MM-DD ({exc}); "
            f"run `daskcloud data validate {path.parent}`"
        ) from exc


def _join_store(frame: pd.DataFrame, store: pd.DataFrame, path: Path) -> pd.DataFrame:
    unknown = pd.Index(frame["Store"].unique()).difference(store["Store"])
    if len(unknown):
        raise DataError(
            f"{path}: {len(unknown)} Store id(s) not in store.csv (e.g. {unknown[0]}); "
            "use the store.csv that belongs to this data set"
        )
    return frame.merge(store, on="Store", how="left", sort=False, validate="many_to_one")


def load_rossmann(data_dir: str | Path) -> RossmannData:
    """Read a Rossmann data directory (Kaggle download or ``daskcloud data generate``).

    Args:
        data_dir: directory holding ``train.csv`` and ``store.csv``, optionally
            ``test.csv`` and ``truth.csv``.

    Raises:
        DataError: a required file is missing or a file cannot be parsed; the message
            names the file and the fix.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(
            f"{root}: data directory not found; pass the folder with the Kaggle CSVs "
            f"or create one with `daskcloud data generate --out {root}`"
        )
    hint = (
        f"put the Kaggle file there or create synthetic data with "
        f"`daskcloud data generate --out {root}`"
    )
    store = read_csv_file(
        root / schema.STORE_FILE, schema.STORE_COLUMNS, schema.STORE_DTYPES, hint=hint
    )
    if store["Store"].duplicated().any():
        dup = store.loc[store["Store"].duplicated(), "Store"].iloc[0]
        raise DataError(f"{root / schema.STORE_FILE}: Store {dup} appears twice; one row per store")

    def joined(path: Path, columns: Sequence[str], dtypes: Mapping[str, str]) -> pd.DataFrame:
        frame = read_csv_file(path, columns, dtypes, hint=hint)
        _parse_dates(frame, path)
        return _join_store(frame, store, path)

    train = joined(root / schema.TRAIN_FILE, schema.TRAIN_COLUMNS, schema.TRAIN_DTYPES)
    test_path = root / schema.TEST_FILE
    test = None
    if test_path.exists():
        test = joined(test_path, schema.TEST_COLUMNS, schema.TEST_DTYPES)

    truth = None
    truth_path = root / schema.TRUTH_FILE
    if truth_path.exists():
        truth = read_csv_file(truth_path, schema.TRUTH_COLUMNS, _TRUTH_DTYPES, hint=hint)
        _parse_dates(truth, truth_path)
        truth["Id"] = truth["Id"].astype("Int64")
    return RossmannData(train=train, test=test, store=store, truth=truth, data_dir=root)

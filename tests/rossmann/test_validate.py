"""validate_dir and `daskcloud data validate`: each corruption gives one line and exit code 2."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys

import pytest

from daskcloud.cli import main
from daskcloud.exceptions import DataError
from daskcloud.rossmann import validate_dir


@pytest.fixture
def data_dir(small_data_dir, tmp_path):
    target = tmp_path / "data"
    target.mkdir()
    for name in ("train.csv", "test.csv", "store.csv"):
        shutil.copy(small_data_dir / name, target / name)
    return target


def _set(folder, name: str, line: int, column: str, value: str) -> None:
    """Set one field of a CSV file (``line`` counts the header as line 1)."""
    path = folder / name
    lines = path.read_text().splitlines()
    header = next(csv.reader([lines[0]]))
    row = next(csv.reader([lines[line - 1]]))
    row[header.index(column)] = value
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    lines[line - 1] = buffer.getvalue()
    path.write_text("\n".join(lines) + "\n")


def _drop_column(folder, name: str, column: str) -> None:
    path = folder / name
    rows = list(csv.reader(path.read_text().splitlines()))
    k = rows[0].index(column)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([r[:k] + r[k + 1 :] for r in rows])
    path.write_text(buffer.getvalue())


def _duplicate_line(folder, name: str, line: int) -> None:
    path = folder / name
    lines = path.read_text().splitlines()
    lines.insert(line, lines[line - 1])
    path.write_text("\n".join(lines) + "\n")


# (corruption, expected line) — line 2 of train.csv is store 1 on 2015-07-31, a Friday.
CASES = {
    "day of week out of range": (
        lambda d: _set(d, "train.csv", 2, "DayOfWeek", "8"),
        "train.csv: column DayOfWeek: value outside {1, 2, 3, 4, 5, 6, 7} "
        "(1 row, e.g. '8' on line 2)",
    ),
    "day of week wrong for the date": (
        lambda d: _set(d, "train.csv", 2, "DayOfWeek", "4"),
        "train.csv: column DayOfWeek: does not match the weekday of Date "
        "(1 row, e.g. '4' on line 2)",
    ),
    "open not a flag": (
        lambda d: _set(d, "train.csv", 3, "Open", "2"),
        "train.csv: column Open: value outside {0, 1} (1 row, e.g. '2' on line 3)",
    ),
    "promo not an integer": (
        lambda d: _set(d, "train.csv", 4, "Promo", "yes"),
        "train.csv: column Promo: not an integer (1 row, e.g. 'yes' on line 4)",
    ),
    "school holiday not a flag": (
        lambda d: _set(d, "train.csv", 2, "SchoolHoliday", "3"),
        "train.csv: column SchoolHoliday: value outside {0, 1} (1 row, e.g. '3' on line 2)",
    ),
    "state holiday unknown": (
        lambda d: _set(d, "train.csv", 2, "StateHoliday", "d"),
        "train.csv: column StateHoliday: value outside {0, a, b, c} (1 row, e.g. 'd' on line 2)",
    ),
    "negative sales": (
        lambda d: _set(d, "train.csv", 2, "Sales", "-5"),
        "train.csv: column Sales: negative (1 row, e.g. '-5' on line 2)",
    ),
    "customers not a number": (
        lambda d: _set(d, "train.csv", 2, "Customers", "many"),
        "train.csv: column Customers: not an integer (1 row, e.g. 'many' on line 2)",
    ),
    "date in the re-saved US format": (
        lambda d: _set(d, "train.csv", 2, "Date", "07/31/2015"),
        "train.csv: column Date: not a date in YYYY-MM-DD format "
        "(1 row, e.g. '07/31/2015' on line 2)",
    ),
    "unknown store": (
        lambda d: _set(d, "train.csv", 2, "Store", "9999"),
        "train.csv: column Store: Store not in store.csv (1 row, e.g. '9999' on line 2)",
    ),
    "duplicate store-day": (
        lambda d: _duplicate_line(d, "train.csv", 2),
        "train.csv: column Date: (Store, Date) appears twice (1 row, e.g. '2015-07-31' on line 3)",
    ),
    "missing column": (
        lambda d: _drop_column(d, "train.csv", "Customers"),
        "train.csv: column Customers: missing (expected columns: Store, DayOfWeek, Date, Sales, "
        "Customers, Open, Promo, StateHoliday, SchoolHoliday)",
    ),
    "missing store file": (
        lambda d: (d / "store.csv").unlink(),
        "store.csv: file not found; put the Kaggle file there or run `daskcloud data generate`",
    ),
    "store type unknown": (
        lambda d: _set(d, "store.csv", 2, "StoreType", "e"),
        "store.csv: column StoreType: value outside {a, b, c, d} (1 row, e.g. 'e' on line 2)",
    ),
    "assortment unknown": (
        lambda d: _set(d, "store.csv", 2, "Assortment", "d"),
        "store.csv: column Assortment: value outside {a, b, c} (1 row, e.g. 'd' on line 2)",
    ),
    "promo interval misspelt": (
        lambda d: _set(d, "store.csv", 2, "PromoInterval", "Mar,Jun,Sep,Dec"),
        "store.csv: column PromoInterval: value outside {Jan,Apr,Jul,Oct, Feb,May,Aug,Nov, "
        "Mar,Jun,Sept,Dec} (1 row, e.g. 'Mar,Jun,Sep,Dec' on line 2)",
    ),
    "test open not a flag": (
        lambda d: _set(d, "test.csv", 2, "Open", "7"),
        "test.csv: column Open: value outside {0, 1} (1 row, e.g. '7' on line 2)",
    ),
}


def test_generated_data_is_valid(small_data_dir):
    report = validate_dir(small_data_dir)
    assert report.ok, report.lines()
    summary = report.summary
    assert summary.rows == 45627 and summary.stores == 50
    assert (summary.first_date, summary.last_date) == ("2013-01-01", "2015-07-31")
    assert summary.missing_store_days == 50 * 942 - 45627
    assert summary.closed_share == pytest.approx(0.17, abs=0.01)
    assert summary.test_rows == 1824


def test_valid_directory_prints_a_summary(small_data_dir, capsys):
    assert main(["data", "validate", str(small_data_dir)]) == 0
    out = capsys.readouterr().out
    assert "train.csv 45,627 rows, 50 stores, 2013-01-01..2015-07-31" in out
    assert "missing store-days; closed share 17." in out


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_corruption_is_one_line(case, data_dir, capsys):
    corrupt, expected = CASES[case]
    corrupt(data_dir)
    assert main(["data", "validate", str(data_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [expected]
    assert captured.err.strip().splitlines() == [
        f"error: {data_dir}: 1 problem(s); fix the lines above"
    ]
    assert "Traceback" not in captured.out + captured.err


def test_many_bad_rows_are_counted(data_dir):
    for line in (2, 5, 9):
        _set(data_dir, "train.csv", line, "StateHoliday", "x")
    (problem,) = validate_dir(data_dir).problems
    assert (problem.file, problem.column, problem.rows) == ("train.csv", "StateHoliday", 3)
    assert problem.example == "'x' on line 2"


def test_unreadable_csv_is_one_line(data_dir):
    (data_dir / "test.csv").write_bytes(b"\xff\xfe\x00garbage\x00\n\x01")
    lines = validate_dir(data_dir).lines()
    assert len(lines) == 1 and lines[0].startswith("test.csv: ")


def test_missing_directory():
    with pytest.raises(DataError, match="data directory not found"):
        validate_dir("/nonexistent/rossmann")


def test_real_subprocess_exit_code_and_no_traceback(data_dir):
    _set(data_dir, "train.csv", 2, "StateHoliday", "z")
    proc = subprocess.run(
        [sys.executable, "-m", "daskcloud.cli", "data", "validate", str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "train.csv: column StateHoliday: value outside {0, a, b, c}" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_validate_help(capsys):
    assert main(["data", "validate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage: daskcloud data validate" in out and "Check columns" in out

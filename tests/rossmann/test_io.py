"""load_rossmann: dtypes, joins, optional files, errors, speed and memory on the full preset."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from daskcloud.exceptions import DataError
from daskcloud.rossmann import load_rossmann, schema


@pytest.fixture
def copy_dir(small_data_dir, tmp_path):
    target = tmp_path / "data"
    shutil.copytree(small_data_dir, target)
    return target


def test_train_dtypes_and_join(small_data):
    train = small_data.train
    assert list(train.columns) == [*schema.TRAIN_COLUMNS, *schema.STORE_COLUMNS[1:]]
    assert pd.api.types.is_datetime64_any_dtype(train["Date"])
    for column in ("Store", "DayOfWeek", "Sales", "Customers", "Open", "Promo", "SchoolHoliday"):
        assert train[column].dtype == np.int64, column
    assert pd.api.types.is_string_dtype(train["StateHoliday"])
    assert set(train["StateHoliday"].map(type)) == {str}
    assert set(train["StateHoliday"]) == set(schema.STATE_HOLIDAYS)
    assert train["CompetitionDistance"].dtype == np.float64
    assert train["StoreType"].notna().all()
    assert len(train) == 45627


def test_test_and_store_tables(small_data):
    test, store = small_data.test, small_data.store
    assert test["Open"].dtype == np.float64
    assert test["Open"].isna().sum() == 11
    assert test["StoreType"].notna().all()
    assert list(store.columns) == list(schema.STORE_COLUMNS)
    assert store["PromoInterval"].isna().sum() == (store["Promo2"] == 0).sum()


def test_truth_is_read(small_data):
    truth = small_data.truth
    assert list(truth.columns) == list(schema.TRUTH_COLUMNS)
    assert truth["Id"].isna().sum() == len(small_data.train)
    assert pd.api.types.is_datetime64_any_dtype(truth["Date"])


def test_optional_files(copy_dir):
    (copy_dir / "test.csv").unlink()
    (copy_dir / "truth.csv").unlink()
    data = load_rossmann(copy_dir)
    assert data.test is None and data.truth is None
    assert data.data_dir == copy_dir


def test_state_holiday_never_mixes_types(tmp_path):
    """Bare 0 and quoted "0" (the real file's quirk, section 2) both become the string "0"."""
    (tmp_path / "store.csv").write_text(
        '"Store","StoreType","Assortment","CompetitionDistance","CompetitionOpenSinceMonth",'
        '"CompetitionOpenSinceYear","Promo2","Promo2SinceWeek","Promo2SinceYear","PromoInterval"\n'
        '1,"c","a",1270,9,2008,0,,,""\n'
    )
    (tmp_path / "train.csv").write_text(
        '"Store","DayOfWeek","Date","Sales","Customers","Open","Promo","StateHoliday","SchoolHoliday"\n'
        '1,5,2015-07-31,5263,555,1,1,"0","1"\n'
        "1,4,2015-07-30,5020,546,1,1,0,1\n"
        '1,3,2015-07-29,0,0,0,0,"a","0"\n'
    )
    train = load_rossmann(tmp_path).train
    assert train["StateHoliday"].tolist() == ["0", "0", "a"]
    assert train["Date"].tolist() == list(
        pd.to_datetime(["2015-07-31", "2015-07-30", "2015-07-29"])
    )


@pytest.mark.parametrize("name", ["train.csv", "store.csv"])
def test_missing_file_names_the_file_and_the_fix(copy_dir, name):
    (copy_dir / name).unlink()
    with pytest.raises(DataError, match=rf"{name}: file not found.*daskcloud data generate"):
        load_rossmann(copy_dir)


def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match="data directory not found"):
        load_rossmann(tmp_path / "nope")


def test_missing_column(copy_dir):
    frame = pd.read_csv(copy_dir / "train.csv", dtype=str).drop(columns="Customers")
    frame.to_csv(copy_dir / "train.csv", index=False)
    with pytest.raises(DataError, match=r"train.csv: missing column\(s\) Customers"):
        load_rossmann(copy_dir)


def test_bad_value_points_to_validate(copy_dir):
    lines = (copy_dir / "train.csv").read_text().splitlines()
    lines[5] = lines[5].replace(",", ",x", 1)
    (copy_dir / "train.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"train.csv: .*daskcloud data validate"):
        load_rossmann(copy_dir)


def test_unreadable_file(copy_dir):
    (copy_dir / "store.csv").write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(DataError, match=r"store\.csv"):
        load_rossmann(copy_dir)


def test_store_missing_from_store_table(copy_dir):
    lines = (copy_dir / "store.csv").read_text().splitlines()
    (copy_dir / "store.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DataError, match=r"train.csv: 1 Store id\(s\) not in store.csv \(e.g. 50\)"):
        load_rossmann(copy_dir)


# Peak memory from VmHWM: ru_maxrss survives execve and would report pytest's own peak.
_MEASURE = """
import json, sys, time
from daskcloud.rossmann import load_rossmann
start = time.perf_counter()
data = load_rossmann(sys.argv[1])
seconds = time.perf_counter() - start
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
print(json.dumps({"seconds": seconds, "peak_mib": int(status) / 1024, "rows": len(data.train)}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_full_loads_fast_and_small(full_data_dir):
    """Issue 2: 1,017,209 rows in under 15 s and under 1.5 GB peak (fresh process)."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(full_data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    print(result)
    assert result["rows"] == 1_017_209
    assert result["seconds"] < 15
    assert result["peak_mib"] < 1536

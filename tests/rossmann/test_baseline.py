"""MedianBaseline: medians per (Store, DayOfWeek, Promo), fallbacks, closed days."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from daskcloud.exceptions import ConfigError, DataError
from daskcloud.rossmann.baseline import MedianBaseline
from daskcloud.rossmann.job import oracle_predictions, preset_data_dir


def _rows(*rows: tuple[int, int, int, int]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["Store", "DayOfWeek", "Promo", "Open"])


def test_median_per_key() -> None:
    X = _rows((1, 1, 0, 1), (1, 1, 0, 1), (1, 1, 0, 1), (1, 1, 1, 1), (2, 1, 0, 1))
    y = [10.0, 30.0, 20.0, 50.0, 7.0]
    pred = MedianBaseline().fit(X, y).predict(_rows((1, 1, 0, 1), (1, 1, 1, 1), (2, 1, 0, 1)))
    np.testing.assert_array_equal(pred, [20.0, 50.0, 7.0])


def test_closed_rows_predict_zero_and_are_not_learned() -> None:
    X = _rows((1, 1, 0, 1), (1, 1, 0, 0), (1, 1, 0, 1))
    model = MedianBaseline().fit(X, [10.0, 0.0, 12.0])
    assert model.medians_[0].loc[(1, 1, 0)] == 11.0
    np.testing.assert_array_equal(model.predict(_rows((1, 1, 0, 0), (1, 1, 0, 1))), [0.0, 11.0])


def test_open_zero_sales_rows_are_not_learned() -> None:
    X = _rows((1, 1, 0, 1), (1, 1, 0, 1), (1, 1, 0, 1))
    model = MedianBaseline().fit(X, [0.0, 10.0, 20.0])
    assert model.predict(_rows((1, 1, 0, 1)))[0] == 15.0


def test_missing_open_counts_as_open() -> None:
    model = MedianBaseline().fit(_rows((1, 1, 0, 1)), [10.0])
    test = _rows((1, 1, 0, 1)).astype({"Open": float})
    test.loc[0, "Open"] = np.nan
    assert model.predict(test)[0] == 10.0


def test_fallbacks_for_unseen_keys() -> None:
    X = _rows((1, 1, 0, 1), (1, 2, 0, 1), (1, 3, 1, 1), (2, 1, 0, 1))
    model = MedianBaseline().fit(X, [10.0, 20.0, 40.0, 100.0])
    pred = model.predict(
        _rows(
            (1, 5, 0, 1),  # unseen weekday -> (Store 1, Promo 0): median(10, 20)
            (1, 5, 1, 1),  # -> (Store 1, Promo 1): 40
            (2, 5, 1, 1),  # -> Store 2: 100
            (9, 1, 0, 1),  # unseen store -> global median(10, 20, 40, 100)
        )
    )
    np.testing.assert_array_equal(pred, [15.0, 40.0, 100.0, 30.0])


def test_sklearn_conventions() -> None:
    model = MedianBaseline(keys=("Store", "DayOfWeek"))
    assert clone(model).get_params() == {"keys": ("Store", "DayOfWeek")}
    X = _rows((1, 1, 0, 1), (1, 1, 1, 1))
    fitted = pickle.loads(pickle.dumps(model.fit(X, [10.0, 30.0])))
    assert fitted.predict(X).tolist() == [20.0, 20.0]


def test_errors() -> None:
    with pytest.raises(DataError, match=r"\['Promo'\] are missing"):
        MedianBaseline().fit(pd.DataFrame({"Store": [1], "DayOfWeek": [1]}), [1.0])
    with pytest.raises(DataError, match="no open row"):
        MedianBaseline().fit(_rows((1, 1, 0, 0)), [0.0])
    with pytest.raises(ConfigError, match="keys"):
        MedianBaseline(keys=()).fit(_rows((1, 1, 0, 1)), [1.0])


# --- the `daskcloud rossmann baseline` command and its library function ----------------------


def test_cli_baseline_json(small_data_dir, capsys) -> None:
    from daskcloud.cli import main

    assert main(["rossmann", "baseline", "--data", str(small_data_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    scores = report["rmspe"]
    assert set(scores) == {"baseline", "default", "oracle"}
    assert 0 < scores["oracle"] < scores["default"] < scores["baseline"]
    assert scores["default"] < 1.3 * scores["oracle"], scores  # near the oracle, on small too
    assert report["holdout_end"] == "2015-07-31"
    assert report["holdout_start"] == "2015-06-20"
    assert report["mlp_fit_seconds"] > 0


def test_cli_rossmann_help_lists_baseline(capsys) -> None:
    from daskcloud.cli import main

    assert main(["rossmann", "--help"]) == 0
    assert "baseline" in capsys.readouterr().out


def test_cli_baseline_bad_input(tmp_path, capsys) -> None:
    from daskcloud.cli import main

    assert main(["rossmann", "baseline", "--data", str(tmp_path), "--preset", "small"]) == 2
    assert "either --data DIR or --preset NAME" in capsys.readouterr().err
    assert main(["rossmann", "baseline", "--preset", "huge"]) == 2
    assert "huge" in capsys.readouterr().err
    assert main(["rossmann", "baseline", "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err
    assert "Traceback" not in err


def test_preset_data_dir_generates_once(tmp_path) -> None:
    first = preset_data_dir("small", 3, cache_dir=tmp_path)
    assert first == tmp_path / "rossmann-small-seed3"
    assert (first / "train.csv").exists()
    stamp = (first / "train.csv").stat().st_mtime_ns
    assert preset_data_dir("small", 3, cache_dir=tmp_path) == first
    assert (first / "train.csv").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary left behind


def test_oracle_predictions_need_every_row(small_data) -> None:
    frame = small_data.train.head(3)
    assert len(oracle_predictions(frame, small_data.truth)) == 3
    with pytest.raises(DataError, match="no prediction for 3 train rows"):
        oracle_predictions(frame, small_data.truth.iloc[:0])

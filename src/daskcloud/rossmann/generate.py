"""Schema-faithful synthetic Rossmann data, with the best achievable prediction beside it.

:func:`build` makes the tables in memory (pure, seeded); :func:`generate` writes them in
the Kaggle byte format plus ``truth.csv``. Sales are lognormal around an expected value
that depends on the store, the calendar and the store's metadata (see
:mod:`daskcloud.rossmann._sales`)::

    Sales = round(exp(log_mu + NOISE_SIGMA * Z - NOISE_SIGMA**2 / 2)),   Z ~ N(0, 1)

so ``E[Sales] = exp(log_mu)`` and the RMSPE-optimal prediction, written to truth.csv as
``Truth``, is ``exp(log_mu - 2 * NOISE_SIGMA**2)`` (the median ``exp(log_mu - s²/2)``
times ``exp(-1.5 s²)``, facts file section 3); its RMSPE is about
``sqrt(1 - exp(-NOISE_SIGMA**2))``.

Example:
    >>> from daskcloud.rossmann import generate, load_rossmann
    >>> path = generate("small", seed=0, out_dir="data/small")  # doctest: +SKIP
    >>> load_rossmann(path).train.shape  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from daskcloud.exceptions import ConfigError
from daskcloud.rossmann import _writer, schema
from daskcloud.rossmann._sales import build_grid
from daskcloud.rossmann._stores import build_stores, scaled

__all__ = ["NOISE_SIGMA", "PRESETS", "SyntheticData", "build", "generate", "resolve_preset"]

#: number of stores per preset; every preset covers the full date range
PRESETS = {"small": 50, "medium": 250, "full": 1115}
#: log-scale standard deviation of the multiplicative sales noise
NOISE_SIGMA = 0.085
_CUSTOMER_SIGMA = 0.05
_SPC_SHARE_OF_PROMO = 0.6  # a promo raises spend per customer more than customer counts
_SPC_BY_TYPE = {"a": 8.71, "b": 5.06, "c": 8.50, "d": 11.25}
_STATE_HOLIDAY_CODES = np.array(schema.STATE_HOLIDAYS)


@dataclasses.dataclass(frozen=True, eq=False)
class SyntheticData:
    """The generated tables, as :func:`generate` writes them.

    ``train``, ``test`` and ``store`` have the Kaggle columns (``Date`` as datetime64,
    ``StateHoliday`` as str); ``truth`` has :data:`schema.TRUTH_COLUMNS`; ``traits`` is
    the store table with the generator's hidden columns (State, Level, SPC, Trend,
    SundayOpen, Gap, InTest), for tests and documentation.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    store: pd.DataFrame
    truth: pd.DataFrame
    traits: pd.DataFrame
    preset: str
    seed: int


def resolve_preset(preset: str) -> int:
    """The number of stores of ``preset``; ConfigError naming the choices otherwise."""
    if preset not in PRESETS:
        raise ConfigError(
            f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)} "
            "(small: 50 stores, medium: 250, full: the real 1,115)"
        )
    return PRESETS[preset]


def build(preset: str = "small", seed: int = 0) -> SyntheticData:
    """Generate the synthetic tables in memory (deterministic in ``preset`` and ``seed``)."""
    n_stores = resolve_preset(preset)
    rng = np.random.default_rng(seed)
    traits = build_stores(n_stores, rng)
    grid = build_grid(traits, rng)
    shape = grid.log_mu.shape

    z = rng.standard_normal(shape)
    sales = np.where(
        grid.open,
        np.rint(np.exp(grid.log_mu - NOISE_SIGMA**2 / 2 + NOISE_SIGMA * z)),
        0.0,
    ).astype(np.int64)
    truth = np.where(grid.open, np.exp(grid.log_mu - 2 * NOISE_SIGMA**2), 0.0)

    in_train = grid.dates.values <= np.datetime64(schema.TRAIN_END)
    # A few open days with zero sales (54 in the real data).
    candidates = np.flatnonzero((grid.open & grid.present & in_train[None, :]).ravel())
    zero = rng.choice(candidates, size=scaled(54, n_stores, minimum=1), replace=False)
    sales.ravel()[zero] = 0

    customers = _customers(traits, grid, sales, in_train, rng)

    # Rows: Date descending, then Store ascending.
    train_rows = _rows(grid.present, np.flatnonzero(in_train))
    test_rows = _rows(grid.present, np.flatnonzero(~in_train))
    train = _frame(grid, train_rows)
    train.insert(3, "Sales", sales[train_rows])
    train.insert(4, "Customers", customers[train_rows])
    train.insert(5, "Open", grid.open[train_rows].astype(np.int64))
    train = train[list(schema.TRAIN_COLUMNS)]

    test = _frame(grid, test_rows)
    test.insert(0, "Id", np.arange(1, len(test) + 1, dtype=np.int64))
    test["Open"] = np.where(grid.open_unknown[test_rows], np.nan, grid.open[test_rows])
    test = test[list(schema.TEST_COLUMNS)]

    truth_frame = pd.concat(
        [
            pd.DataFrame({"Set": "train", "Id": np.nan, "Store": train["Store"]}),
            pd.DataFrame({"Set": "test", "Id": test["Id"].astype(float), "Store": test["Store"]}),
        ],
        ignore_index=True,
    )
    rows = tuple(np.concatenate(pair) for pair in zip(train_rows, test_rows, strict=True))
    truth_frame["Date"] = grid.dates[rows[1]]
    truth_frame["Open"] = grid.open[rows].astype(np.int64)
    truth_frame["Sales"] = sales[rows]
    truth_frame["Truth"] = np.round(truth[rows], 2)

    store = traits[list(schema.STORE_COLUMNS)].copy()
    return SyntheticData(
        train=train.reset_index(drop=True),
        test=test.reset_index(drop=True),
        store=store,
        truth=truth_frame[list(schema.TRUTH_COLUMNS)],
        traits=traits,
        preset=preset,
        seed=seed,
    )


def _rows(present: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(store, day) indices of present cells among ``days``, Date descending then Store."""
    days = days[::-1]
    day_pos, store = np.nonzero(present[:, days].T)
    return store, days[day_pos]


def _frame(grid, rows: tuple[np.ndarray, np.ndarray]) -> pd.DataFrame:
    stores, days = rows
    return pd.DataFrame(
        {
            "Store": stores + 1,
            "DayOfWeek": grid.dates.day_of_week.to_numpy()[days] + 1,
            "Date": grid.dates[days],
            "Promo": grid.promo[days].astype(np.int64),
            "StateHoliday": pd.array(_STATE_HOLIDAY_CODES[grid.holiday[rows]], dtype="str"),
            "SchoolHoliday": grid.school[rows].astype(np.int64),
        }
    )


def _customers(traits, grid, sales, in_train, rng) -> np.ndarray:
    """Customers = Sales / (sales per customer), calibrated per StoreType."""
    spc = traits["SPC"].to_numpy()[:, None] * np.exp(_SPC_SHARE_OF_PROMO * grid.promo_effect)
    noise = np.exp(_CUSTOMER_SIGMA * rng.standard_normal(sales.shape))
    raw = sales / spc * noise
    counted = grid.present & in_train[None, :] & (sales > 0)
    kinds = traits["StoreType"].to_numpy()
    for kind, target in _SPC_BY_TYPE.items():
        rows = kinds == kind
        if rows.any():
            ratio = sales[rows][counted[rows]].sum() / raw[rows][counted[rows]].sum()
            raw[rows] *= ratio / target
    return np.where(sales > 0, np.rint(raw), 0).astype(np.int64)


def generate(preset: str = "small", seed: int = 0, out_dir: str | os.PathLike = "data") -> Path:
    """Write a synthetic data set to ``out_dir`` and return its path.

    Files: train.csv, test.csv, store.csv, sample_submission.csv (Kaggle byte format)
    and truth.csv (:data:`schema.TRUTH_COLUMNS`). The same preset and seed give
    byte-identical files. Everything is written to a temporary folder next to
    ``out_dir`` first and moved in at the end, so a failure leaves nothing half-written.

    Raises:
        ConfigError: unknown preset, or ``out_dir`` cannot be created or written.
    """
    resolve_preset(preset)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a directory; choose another --out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; the data set is not
    except OSError as exc:
        raise ConfigError(
            f"{out}: cannot write there ({exc.strerror}); choose a writable --out"
        ) from exc
    try:
        data = build(preset, seed)
        texts = {
            schema.TRAIN_FILE: _writer.format_train(data.train),
            schema.TEST_FILE: _writer.format_test(data.test),
            schema.STORE_FILE: _writer.format_store(data.store),
            schema.SAMPLE_SUBMISSION_FILE: _writer.format_sample_submission(data.test),
            schema.TRUTH_FILE: _writer.format_truth(data.truth),
        }
        for name, text in texts.items():
            _writer.write_text(tmp / name, text)
        if not out.exists():
            tmp.rename(out)
        else:
            for name in texts:
                os.replace(tmp / name, out / name)
    except OSError as exc:
        raise ConfigError(
            f"{out}: cannot write there ({exc.strerror}); choose a writable --out"
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out

"""The baseline job: holdout RMSPE of the median baseline, the default MLP and the oracle.

:func:`baseline_report` is what ``daskcloud rossmann baseline`` runs; it is pure
computation on loaded data. :func:`preset_data_dir` generates a synthetic data
set once into a cache directory, so ``--preset small`` costs seconds the second time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from daskcloud.exceptions import DataError
from daskcloud.rossmann.features import split_xy
from daskcloud.rossmann.splits import holdout_split

__all__ = ["baseline_report", "default_cache_dir", "oracle_predictions", "preset_data_dir"]


def default_cache_dir() -> Path:
    """``daskcloud.cache`` (``$DASKCLOUD_CACHE``), else ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    from daskcloud.config import cache_dir

    return cache_dir()


_GENERATOR_STAMP = ".generator-version"


def preset_data_dir(preset: str, seed: int = 0, cache_dir: str | os.PathLike | None = None) -> Path:
    """The directory of synthetic preset data, generated on first use.

    Data go to ``<cache_dir>/rossmann-<preset>-seed<seed>``; generation writes into
    a temporary sibling and renames it, so a half-written set is never picked up. A set
    made by another generator version (its ``.generator-version`` stamp) is made anew.
    """
    from daskcloud.rossmann.generate import GENERATOR_VERSION, generate, resolve_preset

    resolve_preset(preset)  # ConfigError naming the presets
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / f"rossmann-{preset}-seed{int(seed)}"
    stamp = target / _GENERATOR_STAMP
    if (target / "train.csv").exists():
        if stamp.exists() and stamp.read_text().strip() == GENERATOR_VERSION:
            return target
        shutil.rmtree(target, ignore_errors=True)  # made by another generator version
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
    try:
        generate(preset, int(seed), tmp)
        (tmp / _GENERATOR_STAMP).write_text(GENERATOR_VERSION + "\n")
        try:
            tmp.rename(target)
        except OSError:  # another process got there first
            if not (target / "train.csv").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def oracle_predictions(frame: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """The generator's RMSPE-optimal prediction (truth.csv ``Truth``) for each row of ``frame``.

    Raises:
        DataError: if a row of ``frame`` has no truth.
    """
    rows = truth.loc[truth["Set"] == "train", ["Store", "Date", "Truth"]]
    merged = frame[["Store", "Date"]].merge(rows, on=["Store", "Date"], how="left")
    missing = int(merged["Truth"].isna().sum())
    if missing:
        example = merged.loc[merged["Truth"].isna()].iloc[0]
        raise DataError(
            f"truth.csv has no prediction for {missing} train rows "
            f"(e.g. store {example['Store']} on {example['Date']:%Y-%m-%d}); "
            "regenerate the data set with `daskcloud data generate`"
        )
    return merged["Truth"].to_numpy(dtype=np.float64)


def baseline_report(
    data: Any,
    *,
    holdout_weeks: int = 6,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit the median baseline and the default MLP on train, score both on the holdout.

    Args:
        data: a :class:`~daskcloud.rossmann.RossmannData` (``load_rossmann(dir)``).
        holdout_weeks: the holdout is the last ``holdout_weeks`` weeks of train.
        seed: ``random_state`` of the MLP.
        params: extra pipeline parameters (``{"mlp__alpha": 1e-3}``).

    Returns:
        A JSON-ready dict: ``rmspe`` (``baseline``, ``default``, ``oracle`` — None
        without truth.csv; the keys of the main job's ``holdout_rmspe``),
        ``mlp_fit_seconds``, ``mlp_iterations``, row counts and the holdout's dates.
    """
    from daskcloud.rossmann.holdout import holdout_scores, reference_predictions

    train, holdout = holdout_split(data.train, holdout_weeks)
    X, y = split_xy(train)
    X_hold, y_hold = split_xy(holdout)
    predictions, info = reference_predictions(X, y, X_hold, seed=seed, params=params)
    oracle = None if data.truth is None else oracle_predictions(holdout, data.truth)
    return {
        "data_dir": str(getattr(data, "data_dir", "")),
        "holdout_start": f"{holdout['Date'].min():%Y-%m-%d}",
        "holdout_end": f"{holdout['Date'].max():%Y-%m-%d}",
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "rmspe": holdout_scores(y_hold, predictions, oracle),
        "mlp_fit_seconds": round(info["fit_s"], 3),
        "mlp_iterations": info["iterations"],
        "mlp_correction": round(info["correction"], 6),
    }

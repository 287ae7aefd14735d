"""The Rossmann main job: synthetic (or real) data -> tuned MLP -> holdout RMSPE -> submission.

Steps of :func:`run_rossmann`:

1. Data: ``data_dir`` (the Kaggle files), or synthetic data of ``preset``, generated once
   into a cache folder (``$DASKCLOUD_CACHE`` or ``~/.cache/daskcloud``) and reused
   (:func:`daskcloud.rossmann.job.preset_data_dir`).
2. The last ``holdout_weeks`` weeks of train are held out; the rest is searched with
   expanding-window time-series CV (:class:`~daskcloud.rossmann.splits.TimeSeriesFolds`).
3. The search: ``make_pipeline`` over ``default_search_space()`` (grid, 24 candidates;
   halving over the same grid) or its random counterpart (random, tpe), on a local Dask
   cluster or a scheduler; the best is refit on the whole train part.
4. Holdout RMSPE of the median baseline, the default MLP, the tuned MLP and — on
   synthetic data — the oracle (the generator's RMSPE-optimal prediction, truth.csv).
5. With a test.csv: the tuned pipeline is refit on all of train and predicts test into
   ``submission.csv`` (``Id,Sales``). Closed days get 0. A missing ``Open`` (11 rows of
   store 622 in the real test set) is imputed as **open**: RMSPE skips rows whose true
   sales are 0, so predicting sales for a day that was in fact closed costs nothing,
   while predicting 0 for an open day costs a full 100 % error on that row.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from daskcloud.exceptions import ConfigError, DataError
from daskcloud.jobs._run import (
    SearchOptions,
    TuneResult,
    check_where,
    open_client,
    resolve_run_dir,
    search,
)
from daskcloud.report import write_report
from daskcloud.rossmann.baseline import MedianBaseline
from daskcloud.rossmann.features import split_xy
from daskcloud.rossmann.io import load_rossmann
from daskcloud.rossmann.job import oracle_predictions, preset_data_dir
from daskcloud.rossmann.metric import rmspe, rmspe_scorer
from daskcloud.rossmann.model import default_search_space, make_pipeline
from daskcloud.rossmann.splits import TimeSeriesFolds, holdout_split
from daskcloud.search._budget import resolve_budget
from daskcloud.search.results import write_json
from daskcloud.search.space import resolve_space
from daskcloud.tracking import resolve_logger

__all__ = [
    "MODELS",
    "QUICK_EMBEDDING_SPACE",
    "QUICK_SPACE",
    "RossmannFrames",
    "RossmannResult",
    "random_space",
    "rossmann_frames",
    "run_rossmann",
]

#: ``--strategy`` names; the grid ones search ``default_search_space()``, the others
#: ``random_space()``
STRATEGIES = ("grid", "random", "halving", "tpe")
_GRID_STRATEGIES = ("grid", "halving")
#: options of each strategy (halving: training rows as the resource, a third go on per rung)
_STRATEGY_OPTIONS: dict[str, dict[str, Any]] = {"halving": {"resource": "n_samples", "eta": 3}}
DEFAULT_N_CANDIDATES = 24
HOLDOUT_WEEKS = 6
_MODEL_LABELS = {
    "baseline": "median baseline (Store, DayOfWeek, Promo)",
    "default": "MLP, default parameters",
    "tuned": "tuned (best of the search)",
    "oracle": "oracle (the generator's truth.csv)",
}

#: ``--model`` names: the scikit-learn MLP pipeline, or the PyTorch entity-embedding net
MODELS = ("mlp", "embedding")
#: ``--model embedding`` with random or tpe: candidates drawn from its 16-point grid
_EMBEDDING_N_CANDIDATES = 8

#: ``--quick --model embedding``: 2 candidates, 2 epochs
QUICK_EMBEDDING_SPACE: dict[str, list[Any]] = {
    "net__hidden_layer_sizes": [(32,)],
    "net__learning_rate_init": [1e-3, 3e-3],
    "net__max_epochs": [2],
}

#: ``--quick``: 2 candidates, short training; a smoke test of the whole job
QUICK_SPACE: dict[str, list[Any]] = {
    "features__store_aggregates": [True],
    "mlp__hidden_layer_sizes": [(32,)],
    "mlp__alpha": [1e-4, 1e-2],
    "mlp__max_iter": [8],
}


@dataclass(frozen=True)
class RossmannFrames:
    """The job's tables: train part, holdout, all of train, test, and the holdout's oracle."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_holdout: pd.DataFrame
    y_holdout: pd.Series
    X_all: pd.DataFrame
    y_all: pd.Series
    test: pd.DataFrame | None
    oracle_holdout: np.ndarray | None
    data_dir: Path


@dataclass(frozen=True)
class RossmannResult(TuneResult):
    """A finished Rossmann job: the search result plus holdout RMSPE and the submission."""

    holdout_rmspe: dict[str, float | None]
    submission: Path | None

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "holdout_rmspe": self.holdout_rmspe}

    def holdout_table(self) -> Any:
        """Holdout RMSPE of the four models as a rich Table, with each one's ratio to the oracle."""
        from rich.table import Table

        scores = self.holdout_rmspe
        oracle = scores.get("oracle")
        table = Table(title=f"Holdout RMSPE (last {HOLDOUT_WEEKS} weeks of train)")
        table.add_column("model")
        table.add_column("RMSPE", justify="right")
        table.add_column("x oracle", justify="right")
        for key, label in _MODEL_LABELS.items():
            value = scores.get(key)
            if value is None:
                continue
            ratio = f"{value / oracle:.2f}" if oracle else "-"
            table.add_row(label, f"{value:.4f}", ratio)
        return table


def rossmann_frames(
    *,
    data_dir: str | Path | None = None,
    preset: str = "small",
    seed: int = 0,
    holdout_weeks: int = 6,
) -> RossmannFrames:
    """Load (or generate) the data and split off the time-based holdout."""
    if data_dir is None:
        data_dir = preset_data_dir(preset, seed)
    data_dir = Path(data_dir)
    if not (data_dir / "train.csv").is_file():
        raise DataError(
            f"{str(data_dir)!r} has no train.csv; pass the folder with the Kaggle files "
            "(train.csv, store.csv, test.csv) or leave out --data to use synthetic data"
        )
    data = load_rossmann(data_dir)
    train, holdout = holdout_split(data.train, holdout_weeks)
    X_train, y_train = split_xy(train)
    X_holdout, y_holdout = split_xy(holdout)
    X_all, y_all = split_xy(data.train)
    return RossmannFrames(
        X_train=X_train,
        y_train=y_train,
        X_holdout=X_holdout,
        y_holdout=y_holdout,
        X_all=X_all,
        y_all=y_all,
        test=data.test,
        oracle_holdout=None if data.truth is None else oracle_predictions(holdout, data.truth),
        data_dir=data_dir,
    )


def random_space() -> dict[str, Any]:
    """The default grid with alpha and learning rate as log-uniform ranges (strategy random)."""
    space: dict[str, Any] = dict(default_search_space())
    space["mlp__alpha"] = "loguniform(1e-5, 1e-1)"
    space["mlp__learning_rate_init"] = "loguniform(3e-4, 1e-2)"
    return space


def _write_submission(model: Any, test: pd.DataFrame, path: Path) -> Path:
    X_test = test.assign(Open=test["Open"].fillna(1.0))  # see the module docstring: open
    sales = np.asarray(model.predict(X_test), dtype=np.float64)
    sales[X_test["Open"].to_numpy() == 0] = 0.0
    frame = pd.DataFrame({"Id": test["Id"].to_numpy(), "Sales": sales}).sort_values("Id")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        frame.to_csv(tmp, index=False, float_format="%.2f")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _driver_blas_threads() -> Any:
    """One BLAS thread in this (driver) process while it refits the best candidate.

    The search refits its best candidate here, and this job refits it once more for the
    submission. Small MLP matrices gain nothing from BLAS threads, and on a busy machine
    OpenBLAS threads spin-wait: a 4-CPU-second refit was measured at 35 CPU-seconds and
    over 100 s wall with the default thread count.
    """
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().limit(limits=1)


def _reference_models(
    X_train: pd.DataFrame, y_train: pd.Series, X_holdout: pd.DataFrame
) -> tuple[dict[str, np.ndarray], float]:
    """Holdout predictions of the median baseline and the default MLP, and the CPU seconds
    they took (runs on a worker)."""
    from distributed import get_worker
    from threadpoolctl import threadpool_limits

    started = time.process_time()
    with threadpool_limits(limits=get_worker().state.nthreads):  # no BLAS oversubscription
        baseline = MedianBaseline().fit(X_train, y_train)
        default = make_pipeline().fit(X_train, y_train)
    predictions = {"baseline": baseline.predict(X_holdout), "default": default.predict(X_holdout)}
    return predictions, time.process_time() - started


def _write_holdout_predictions(
    frames: Any, predictions: Mapping[str, np.ndarray], path: Path
) -> None:
    """``Store, Date, Sales`` and one column per model for the report's predicted-vs-actual."""
    table = pd.DataFrame(
        {
            "Store": frames.X_holdout["Store"].to_numpy(),
            "Date": frames.X_holdout["Date"].to_numpy(),
            "Sales": np.asarray(frames.y_holdout),
            **{name: np.asarray(pred) for name, pred in predictions.items()},
        }
    )
    tmp = path.with_name(f".{path.name}.tmp")
    table.to_parquet(tmp, index=False)
    tmp.replace(path)


def run_rossmann(
    *,
    data_dir: str | Path | None = None,
    preset: str = "small",
    strategy: str = "grid",
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    n_candidates: int | None = None,
    space: Mapping[str, Any] | None = None,
    n_splits: int = 3,
    quick: bool = False,
    resume: bool = True,
    progress: bool = True,
    cluster: str | None = None,
    namespace: str | None = None,
    security: Any = None,
    budget: Any = None,
    model: str = "mlp",
    mlflow: Any = None,
) -> RossmannResult:
    """Tune the Rossmann MLP pipeline and score it on the holdout; see the module docstring.

    Args:
        data_dir: folder with the Kaggle files; default: synthetic data of ``preset``.
        scheduler, cluster, namespace, security: where to run, as for
            :func:`daskcloud.jobs.run_tune`; default: a new local cluster of ``workers``.
        strategy: ``"grid"`` (``default_search_space()``, 24 candidates), ``"halving"``
            (successive halving of that grid over training rows, eta 3), ``"random"`` or
            ``"tpe"`` (``n_candidates`` draws or Optuna TPE trials of :func:`random_space`,
            default 24; 2 with ``quick``).
        space: replace the default space.
        n_splits: time-series CV folds of 6 weeks each.
        budget: limits of the search (``None | Budget | {"max_trials": 10, ...}``), checked
            before anything runs; see :class:`daskcloud.search.Budget`.
        quick: a smoke test of the whole job: :data:`QUICK_SPACE` (2 small candidates)
            and 2 folds, whatever ``space`` and ``n_splits`` say.
        model: ``"mlp"`` (the scikit-learn pipeline) or ``"embedding"`` (the PyTorch
            entity-embedding net, ``pip install 'daskcloud[torch]'``, over
            ``default_embedding_space()``; random/tpe draw 8 of its 16 points).

    Returns:
        the search result; ``holdout_rmspe`` has ``baseline``, ``default``, ``tuned`` and
        ``oracle`` (None on real data).
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    check_where(scheduler, workers, cluster)
    budget = resolve_budget(budget)
    if model == "embedding":
        from daskcloud.rossmann.embedding import default_embedding_space, make_embedding_pipeline

        estimator = make_embedding_pipeline()  # ConfigError naming the extra without torch
        if quick:
            space, n_splits = QUICK_EMBEDDING_SPACE, 2
        elif space is None:
            space = default_embedding_space()
        if strategy not in _GRID_STRATEGIES and n_candidates is None:
            n_candidates = 2 if quick else _EMBEDDING_N_CANDIDATES
    else:
        estimator = make_pipeline()
        if quick:
            space, n_splits = QUICK_SPACE, 2
        elif space is None:
            space = default_search_space() if strategy in _GRID_STRATEGIES else random_space()
    if strategy not in _GRID_STRATEGIES and n_candidates is None:
        n_candidates = 2 if quick else DEFAULT_N_CANDIDATES
    name = "rossmann" if data_dir is not None else f"rossmann-{preset}"
    if model != "mlp":
        name += f"-{model}"
    timings: dict[str, float] = {}

    job_started = started = time.perf_counter()
    frames = rossmann_frames(
        data_dir=data_dir, preset=preset, seed=seed, holdout_weeks=HOLDOUT_WEEKS
    )
    timings["data_s"] = time.perf_counter() - started
    run_dir = resolve_run_dir(out, name)

    options = SearchOptions(
        strategy=strategy,
        strategy_options=_STRATEGY_OPTIONS.get(strategy),
        n_candidates=n_candidates,
        scoring=rmspe_scorer,
        seed=seed,
        budget=budget,
    )
    tracker = resolve_logger(mlflow)  # daskcloud[mlflow]: fails here, before any fit
    with (
        open_client(
            scheduler, workers, cluster=cluster, namespace=namespace, security=security
        ) as client,
        _driver_blas_threads(),
    ):
        # The reference models run on the cluster alongside the search's first fits.
        reference = client.submit(
            _reference_models, frames.X_train, frames.y_train, frames.X_holdout, pure=False
        )
        result = search(
            estimator,
            resolve_space(space),
            frames.X_train,
            frames.y_train,
            cv=TimeSeriesFolds(n_splits, weeks=HOLDOUT_WEEKS),
            options=options,
            run_dir=run_dir,
            client=client,
            resume=resume,
            progress=progress,
            name=name,
            tracker=tracker,
        )
        predictions, timings["reference_cpu_s"] = reference.result()
    timings["search_s"] = float(result.summary.get("wall_s") or 0.0)
    predictions["tuned"] = result.search.best_estimator_.predict(frames.X_holdout)
    scores: dict[str, float | None] = {
        name: rmspe(frames.y_holdout, pred) for name, pred in predictions.items()
    }
    scores["oracle"] = (
        None if frames.oracle_holdout is None else rmspe(frames.y_holdout, frames.oracle_holdout)
    )

    submission = None
    if frames.test is not None:
        started = time.perf_counter()
        with _driver_blas_threads():
            final = clone(result.search.best_estimator_).fit(frames.X_all, frames.y_all)
        submission = _write_submission(final, frames.test, run_dir / "submission.csv")
        timings["submission_s"] = time.perf_counter() - started

    timings["total_s"] = time.perf_counter() - job_started
    summary = {
        **result.summary,
        "holdout_rmspe": scores,
        "model": model,
        "data_dir": str(frames.data_dir),
        "rows": {"train": len(frames.X_train), "holdout": len(frames.X_holdout)},
        "submission": None if submission is None else submission.name,
        "timings": timings,
    }
    write_json(run_dir / "summary.json", summary)
    if frames.oracle_holdout is not None:
        predictions["oracle"] = frames.oracle_holdout
    _write_holdout_predictions(frames, predictions, run_dir / "holdout_predictions.parquet")
    write_report(run_dir)
    if tracker is not None:
        tracker.finish(run_dir)
    return RossmannResult(
        run_dir=run_dir,
        summary=summary,
        search=result.search,
        holdout_rmspe=scores,
        submission=submission,
    )

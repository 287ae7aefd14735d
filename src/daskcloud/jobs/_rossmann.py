"""The Rossmann main job: synthetic (or real) data -> tuned MLP -> holdout RMSPE -> submission.

Steps of :func:`run_rossmann`:

1. The search plan (:mod:`._rossmann_plan`): model, space and strategy, checked before
   anything runs. By default successive halving over ``default_search_space()`` (72
   candidates, training epochs as the resource); ``--strategy grid`` fits them all.
2. Data: ``data_dir`` (the Kaggle files), or synthetic data of ``preset``, generated once
   into a cache folder (``$DASKCLOUD_CACHE`` or ``~/.cache/daskcloud``) and reused
   (:func:`daskcloud.rossmann.job.preset_data_dir`).
3. The last ``holdout_weeks`` weeks of train are held out; the rest is searched with
   expanding-window time-series CV (:class:`~daskcloud.rossmann.splits.TimeSeriesFolds`)
   on a local Dask cluster or a scheduler; the best is refit on the whole train part.
   The reference models (median baseline, default MLP) fit on the cluster meanwhile.
4. Holdout RMSPE of the median baseline, the default MLP, the tuned MLP and — on
   synthetic data — the oracle (:mod:`daskcloud.rossmann.holdout`).
5. Output: with a test.csv the tuned pipeline is refit on all of train and predicts test
   into ``submission.csv`` (``Id,Sales``). Closed days get 0. A missing ``Open`` (11 rows
   of store 622 in the real test set) is imputed as **open**: RMSPE skips rows whose true
   sales are 0, so predicting sales for a day that was in fact closed costs nothing,
   while predicting 0 for an open day costs a full 100 % error on that row. Then
   ``summary.json``, ``holdout_predictions.parquet`` and ``report.html``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from daskcloud.core.files import atomic_write
from daskcloud.exceptions import ConfigError, DataError
from daskcloud.jobs._rossmann_plan import (
    MODELS,
    QUICK_EMBEDDING_SPACE,
    QUICK_SPACE,
    STRATEGIES,
    RossmannPlan,
    plan_search,
    random_space,
)
from daskcloud.jobs._run import TuneResult, check_where, open_client, resolve_run_dir, search
from daskcloud.report import write_report
from daskcloud.rossmann.features import split_xy
from daskcloud.rossmann.holdout import holdout_scores, holdout_table, reference_predictions
from daskcloud.rossmann.io import load_rossmann
from daskcloud.rossmann.job import oracle_predictions, preset_data_dir
from daskcloud.rossmann.splits import TimeSeriesFolds, holdout_split
from daskcloud.search.results import write_json
from daskcloud.search.space import resolve_space
from daskcloud.tracking import resolve_logger

__all__ = [
    "MODELS",
    "QUICK_EMBEDDING_SPACE",
    "QUICK_SPACE",
    "STRATEGIES",
    "RossmannFrames",
    "RossmannResult",
    "random_space",
    "rossmann_frames",
    "run_rossmann",
]

HOLDOUT_WEEKS = 6
#: the run directory's folder of cached feature steps (the search's Pipeline ``memory``)
STEP_CACHE = "step-cache"


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
    """A finished Rossmann job: the search result plus holdout RMSPE, submission and report."""

    holdout_rmspe: dict[str, float | None]
    submission: Path | None
    report: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "holdout_rmspe": self.holdout_rmspe}

    def holdout_table(self) -> Any:
        """Holdout RMSPE of the four models as a rich Table, with each one's ratio to the oracle."""
        return holdout_table(
            self.holdout_rmspe, f"Holdout RMSPE (last {HOLDOUT_WEEKS} weeks of train)"
        )


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


def _write_submission(model: Any, test: pd.DataFrame, path: Path) -> Path:
    X_test = test.assign(Open=test["Open"].fillna(1.0))  # see the module docstring: open
    sales = np.asarray(model.predict(X_test), dtype=np.float64)
    sales[X_test["Open"].to_numpy() == 0] = 0.0
    frame = pd.DataFrame({"Id": test["Id"].to_numpy(), "Sales": sales}).sort_values("Id")
    with atomic_write(path) as part:
        frame.to_csv(part, index=False, float_format="%.2f")
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
    they took (runs on a worker, alongside the search's first fits)."""
    from distributed import get_worker
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=get_worker().state.nthreads):  # no BLAS oversubscription
        predictions, info = reference_predictions(X_train, y_train, X_holdout)
    return predictions, info["cpu_s"]


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
    with atomic_write(path) as part:
        table.to_parquet(part, index=False)


def _run_name(data_dir: Any, preset: str, model: str) -> str:
    name = "rossmann" if data_dir is not None else f"rossmann-{preset}"
    return name if model == "mlp" else f"{name}-{model}"


def _search(
    plan: RossmannPlan,
    frames: RossmannFrames,
    client: Any,
    run_dir: Path,
    *,
    resume: bool,
    progress: bool,
    name: str,
    tracker: Any = None,
    cache_steps: bool = False,
) -> tuple[TuneResult, dict[str, np.ndarray], float]:
    """The search, with the reference models fitted on the cluster alongside its first fits:
    ``(search result, holdout predictions of every model, reference models' CPU seconds)``.

    ``cache_steps`` (workers that share the driver's disk): the pipeline's ``memory`` is a
    folder of the run directory, so a fold's fitted feature steps are computed once and
    loaded by every later fit of any candidate on that fold (scikit-learn's caching of
    transformers in a search), removed once the search is done.
    """
    estimator = plan.estimator
    if cache_steps:
        estimator = clone(estimator).set_params(memory=str(run_dir / STEP_CACHE))
    reference = client.submit(
        _reference_models, frames.X_train, frames.y_train, frames.X_holdout, pure=False
    )
    cv = TimeSeriesFolds(plan.n_splits, weeks=HOLDOUT_WEEKS)
    n_train = min(len(train) for train, _ in cv.split(frames.X_train))
    options = replace(plan.options, strategy_options=plan.strategy_options(n_train))
    result = search(
        estimator,
        resolve_space(plan.space),
        frames.X_train,
        frames.y_train,
        cv=cv,
        options=options,
        run_dir=run_dir,
        client=client,
        resume=resume,
        progress=progress,
        name=name,
        tracker=tracker,
    )
    shutil.rmtree(run_dir / STEP_CACHE, ignore_errors=True)
    predictions, reference_cpu_s = reference.result()
    predictions["tuned"] = result.search.best_estimator_.predict(frames.X_holdout)
    return result, predictions, reference_cpu_s


def _write_outputs(
    result: TuneResult,
    frames: RossmannFrames,
    predictions: dict[str, np.ndarray],
    scores: dict[str, float | None],
    submission: Path | None,
    extra: Mapping[str, Any],
) -> tuple[dict[str, Any], Path]:
    """``summary.json`` (the search's, with the job's results), the holdout predictions
    and ``report.html``; returns the summary and the report's path."""
    run_dir = result.run_dir
    summary = {
        **result.summary,
        "holdout_rmspe": scores,
        "data_dir": str(frames.data_dir),
        "rows": {"train": len(frames.X_train), "holdout": len(frames.X_holdout)},
        "submission": None if submission is None else submission.name,
        **extra,
    }
    write_json(run_dir / "summary.json", summary)
    if frames.oracle_holdout is not None:
        predictions = {**predictions, "oracle": frames.oracle_holdout}
    _write_holdout_predictions(frames, predictions, run_dir / "holdout_predictions.parquet")
    return summary, Path(write_report(run_dir))


def run_rossmann(
    *,
    data_dir: str | Path | None = None,
    preset: str | None = None,
    strategy: str = "halving",
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
    """Tune the Rossmann pipeline and score it on the holdout; see the module docstring.

    Args:
        data_dir: folder with the Kaggle files; default: synthetic data of ``preset``
            (``"small"`` unless given; not both).
        scheduler, cluster, namespace, security, workers: where to run, as for
            :func:`daskcloud.jobs.run_tune`; default: a new local cluster.
        model, strategy, space, n_candidates, n_splits, quick, budget: the search; see
            :func:`daskcloud.jobs._rossmann_plan.plan_search` (default: successive halving
            over ``default_search_space()``, 72 candidates, 3 folds).
        seed: seed of the synthetic data and of the sampling.

    Returns:
        the search result; ``holdout_rmspe`` has ``baseline``, ``default``, ``tuned`` and
        ``oracle`` (None on real data); ``report`` is the path of ``report.html``.
    """
    plan = plan_search(model=model, strategy=strategy, quick=quick, space=space,
                       n_candidates=n_candidates, n_splits=n_splits, seed=seed,
                       budget=budget)  # fmt: skip
    check_where(scheduler, workers, cluster)
    if data_dir is not None and preset is not None:
        raise ConfigError("pass either --data DIR or --preset NAME, not both")
    preset = preset or "small"
    job_started = time.perf_counter()
    frames = rossmann_frames(data_dir=data_dir, preset=preset, seed=seed,
                             holdout_weeks=HOLDOUT_WEEKS)  # fmt: skip
    timings = {"data_s": time.perf_counter() - job_started}
    name = _run_name(data_dir, preset, model)
    run_dir = resolve_run_dir(out, name)
    tracker = resolve_logger(mlflow)  # daskcloud[mlflow]: fails here, before any fit
    with (
        open_client(
            scheduler, workers, cluster=cluster, namespace=namespace, security=security
        ) as client,  # fmt: skip
        _driver_blas_threads(),
    ):
        result, predictions, timings["reference_cpu_s"] = _search(
            plan,
            frames,
            client,
            run_dir,
            resume=resume,
            progress=progress,
            name=name,
            tracker=tracker,
            cache_steps=scheduler is None and cluster is None,
        )
    timings["search_s"] = float(result.summary.get("wall_s") or 0.0)
    scores = holdout_scores(frames.y_holdout, predictions, frames.oracle_holdout)
    submission = None
    if frames.test is not None:
        started = time.perf_counter()
        with _driver_blas_threads():
            final = clone(result.search.best_estimator_).set_params(memory=None)
            final.fit(frames.X_all, frames.y_all)
        submission = _write_submission(final, frames.test, run_dir / "submission.csv")
        timings["submission_s"] = time.perf_counter() - started
    timings["total_s"] = time.perf_counter() - job_started
    summary, report = _write_outputs(result, frames, predictions, scores, submission,
                                      {"model": model, "timings": timings})  # fmt: skip
    if tracker is not None:
        tracker.finish(run_dir)
    return RossmannResult(run_dir=run_dir, summary=summary, search=result.search,
                          holdout_rmspe=scores, submission=submission, report=report)  # fmt: skip

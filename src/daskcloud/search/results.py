"""Write a fitted search to its run directory, and show its leaderboard.

A run directory holds::

    results.parquet      cv_results_ as a table (params as JSON strings)
    cv_results.csv       the same table as CSV
    summary.json         best_params, best_score, counts, times, versions, created time
    best_model.skops     the best estimator refit on all training data (skops: no code runs on load)
    best_model.joblib    the same, for the same environment (pickle: trust it like code)
    journal.sqlite       written by the search itself as fits finish

Every file is written to a temporary name and renamed, so a crash never leaves a
half-written file. :func:`load_best_model` reads the skops file back, trusting only
types from daskcloud, scikit-learn, NumPy, SciPy and pandas.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from daskcloud.core.files import atomic_write
from daskcloud.exceptions import DataError
from daskcloud.search._terms import ScoreTerms, score_terms

__all__ = [
    "TRUSTED_MODULES",
    "cv_results_frame",
    "default_run_dir",
    "leaderboard",
    "load_best_model",
    "primary_metric",
    "search_stats",
    "to_jsonable",
    "versions",
    "write_json",
    "write_run",
]

#: top-level modules whose types :func:`load_best_model` trusts in a skops file
# Whole packages whose types a model file may name. Never `builtins`: it holds eval and exec.
TRUSTED_MODULES = ("daskcloud", "sklearn", "numpy", "scipy", "pandas", "collections")

SKOPS_FILE = "best_model.skops"
JOBLIB_FILE = "best_model.joblib"


# --- small helpers ---------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Plain JSON types: NumPy scalars to Python, tuples to lists, NaN to None, others to repr."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def write_json(path: str | Path, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` as indented JSON, atomically."""
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(payload), indent=2) + "\n", encoding="utf-8")
    return path


def versions() -> dict[str, str]:
    """Versions of Python and the packages a saved model depends on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("daskcloud", "scikit-learn", "numpy", "pandas", "scipy", "dask", "distributed"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    with contextlib.suppress(PackageNotFoundError):
        out["skops"] = version("skops")
    return out


def default_run_dir(name: str, root: str | Path = "runs") -> Path:
    """``runs/<UTC timestamp>-<name>``, the default run directory."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{stamp}-{name}"


# --- cv_results_ as a table ------------------------------------------------------------------


def _param_column(values: Any) -> pd.Series:
    mask = np.ma.getmaskarray(values)
    data = np.ma.getdata(values)
    items = [None if m else v for v, m in zip(data, mask, strict=True)]
    present = [v for v in items if v is not None]
    if all(isinstance(v, bool | np.bool_) for v in present):
        return pd.Series(items, dtype="boolean")
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in present):
        return pd.Series(items, dtype="Int64")
    if all(isinstance(v, int | float | np.number) for v in present):
        return pd.Series([np.nan if v is None else float(v) for v in items], dtype="float64")
    if all(isinstance(v, str) for v in present):
        return pd.Series(items, dtype="string")
    # mixed or structured values (layer tuples, estimators): one JSON string per cell
    return pd.Series(
        [None if v is None else json.dumps(to_jsonable(v)) for v in items], dtype="string"
    )


def cv_results_frame(cv_results: Mapping[str, Any]) -> pd.DataFrame:
    """``cv_results_`` as a DataFrame that Parquet and CSV can hold.

    ``params`` becomes one JSON string per row; ``param_<name>`` columns keep their type
    when it is uniform (bool, int, float, str; masked cells are missing) and become JSON
    strings otherwise. Every other column is copied as is.
    """
    columns: dict[str, Any] = {}
    for key, values in cv_results.items():
        if key == "params":
            columns[key] = pd.Series(
                [json.dumps(to_jsonable(p), sort_keys=True) for p in values], dtype="string"
            )
        elif key.startswith("param_"):
            columns[key] = _param_column(values)
        else:
            columns[key] = np.asarray(values)
    return pd.DataFrame(columns)


def primary_metric(search: Any) -> str:
    """The metric name the search ranks by: ``score``, or the refit metric when multimetric."""
    refit = getattr(search, "refit", True)
    if getattr(search, "multimetric_", False):
        if isinstance(refit, str):
            return refit
        keys = [k[len("mean_test_") :] for k in search.cv_results_ if k.startswith("mean_test_")]
        return keys[0]
    return "score"


def search_stats(search: Any, *, wall_s: float | None = None) -> dict[str, Any]:
    """Counts and times of a fitted search: its ``search_stats_``, or estimates for scikit-learn's.

    For a search without ``search_stats_`` (scikit-learn's GridSearchCV), ``n_fits`` is
    candidates x folds, nothing is skipped and ``fit_cpu_s`` is the sum of fit and score
    wall times, a close estimate with single-threaded fits.
    """
    stats = dict(getattr(search, "search_stats_", None) or {})
    results = search.cv_results_
    n_candidates = len(results["params"])
    n_splits = int(getattr(search, "n_splits_", 0) or 0)
    stats.setdefault("n_candidates", n_candidates)
    stats.setdefault("n_fits", n_candidates * n_splits)
    stats.setdefault("n_fits_skipped", 0)
    if "fit_cpu_s" not in stats:
        per_candidate = np.asarray(results["mean_fit_time"]) + np.asarray(
            results["mean_score_time"]
        )
        stats["fit_cpu_s"] = float(np.nansum(per_candidate) * n_splits)
    if wall_s is not None:
        stats.setdefault("wall_s", float(wall_s))
    stats.setdefault("wall_s", None)
    stats["n_splits"] = n_splits
    return stats


# --- the model -------------------------------------------------------------------------------


def _trusted(types: list[str]) -> tuple[list[str], list[str]]:
    ok = [t for t in types if t.split(".", 1)[0] in TRUSTED_MODULES]
    return ok, [t for t in types if t not in ok]


def _save_model(estimator: Any, run_dir: Path) -> dict[str, Any]:
    """Save with joblib and skops; a skops file is kept only if it loads back."""
    import joblib
    import skops.io as sio

    info: dict[str, Any] = {}
    with atomic_write(run_dir / JOBLIB_FILE) as tmp:
        joblib.dump(estimator, tmp)
    info["joblib"] = JOBLIB_FILE
    try:
        with atomic_write(run_dir / SKOPS_FILE) as tmp:
            sio.dump(estimator, tmp)
            trusted, untrusted = _trusted(sio.get_untrusted_types(file=tmp))
            if untrusted:
                raise TypeError(f"types outside {', '.join(TRUSTED_MODULES)}: {untrusted}")
            loaded = sio.load(tmp, trusted=trusted)
            if type(loaded) is not type(estimator):
                raise TypeError(f"loaded back as {type(loaded).__name__}")
        info["skops"] = SKOPS_FILE
    except Exception as e:  # skops cannot hold every object; joblib still has the model
        info["skops"] = None
        info["skops_error"] = f"{type(e).__name__}: {e}"
    return info


def load_best_model(run_dir: str | Path) -> Any:
    """Load ``best_model.skops`` of a run directory, trusting only :data:`TRUSTED_MODULES` types.

    Raises:
        DataError: if the file is missing or holds types from other modules.
    """
    import skops.io as sio

    path = Path(run_dir) / SKOPS_FILE
    if not path.is_file():
        raise DataError(
            f"{path} does not exist; the run saved no skops model "
            f"(see summary.json 'model'); {JOBLIB_FILE} may hold it"
        )
    trusted, untrusted = _trusted(sio.get_untrusted_types(file=path))
    if untrusted:
        raise DataError(
            f"{path} holds types outside {', '.join(TRUSTED_MODULES)}: {', '.join(untrusted)}; "
            "inspect them, then load with skops.io.load(path, trusted=[...])"
        )
    return sio.load(path, trusted=trusted)


# --- the run directory -----------------------------------------------------------------------


def write_run(
    search: Any,
    run_dir: str | Path,
    *,
    name: str | None = None,
    wall_s: float | None = None,
    extra: Mapping[str, Any] | None = None,
    save_model: bool = True,
) -> dict[str, Any]:
    """Write results.parquet, cv_results.csv, the best model and summary.json; return the summary.

    ``extra`` entries (holdout scores, the spec) are added to summary.json. The summary is
    written last, so its presence means the run directory is complete.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    frame = cv_results_frame(search.cv_results_)
    with atomic_write(run_dir / "results.parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    with atomic_write(run_dir / "cv_results.csv") as tmp:
        frame.to_csv(tmp, index=False)

    metric = primary_metric(search)
    terms = score_terms(search, metric)
    best_score = getattr(search, "best_score_", None)
    model: dict[str, Any] = {}
    best = getattr(search, "best_estimator_", None)
    if save_model and best is not None:
        model = _save_model(best, run_dir)
    journal = getattr(search, "journal_path_", None)
    summary: dict[str, Any] = {
        "name": name or run_dir.name,
        "run_dir": str(run_dir),
        "metric": metric,
        "best_params": getattr(search, "best_params_", None),
        "best_score": best_score,
        "score_terms": terms.to_json(),
        "best_metric": None
        if best_score is None
        else {
            "name": terms.name,
            "value": terms.value(best_score),
            "lower_is_better": terms.lower_is_better,
        },
        "best_index": getattr(search, "best_index_", None),
        **search_stats(search, wall_s=wall_s),
        "refit_time_s": getattr(search, "refit_time_", None),
        "journal": None if journal is None else str(journal),
        "model": model,
        "versions": versions(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    write_json(run_dir / "summary.json", summary)
    return to_jsonable(summary)


# --- the leaderboard -------------------------------------------------------------------------


def _short_names(names: list[str]) -> dict[str, str]:
    # "mlp__alpha" -> "alpha" unless two parameters would then share a name
    short = {n: n.rsplit("__", 1)[-1] for n in names}
    clash = {s for s in short.values() if list(short.values()).count(s) > 1}
    return {n: (n if s in clash else s) for n, s in short.items()}


def _show(value: Any) -> str:
    value = to_jsonable(value)
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value)


def leaderboard(
    cv_results: Mapping[str, Any],
    *,
    metric: str = "score",
    top: int = 10,
    terms: ScoreTerms | None = None,
) -> Any:
    """A rich Table of the ``top`` candidates by ``mean_test_<metric>`` (best first).

    With ``terms`` the scores are shown in the metric's own terms (RMSPE, not -RMSPE).
    """
    from rich.table import Table

    terms = terms or ScoreTerms(metric)
    means = np.asarray(cv_results[f"mean_test_{metric}"], dtype=float)
    stds = np.asarray(cv_results[f"std_test_{metric}"], dtype=float)
    fit_times = np.asarray(cv_results["mean_fit_time"], dtype=float)
    params = list(cv_results["params"])
    # failed candidates (NaN) last, as scikit-learn ranks them
    order = np.argsort(np.where(np.isnan(means), np.inf, -means), kind="stable")[:top]
    names = _short_names(sorted({k for p in params for k in p}))
    table = Table(title=f"Top {len(order)} of {len(params)} candidates by {terms.label}")
    table.add_column("rank", justify="right")
    table.add_column(f"mean {terms.name}", justify="right")
    table.add_column("std", justify="right")
    table.add_column("fit s", justify="right")
    table.add_column("parameters")
    for rank, i in enumerate(order, start=1):
        shown = ", ".join(f"{names[k]}={_show(v)}" for k, v in sorted(params[i].items()))
        mean = terms.value(means[i])
        table.add_row(str(rank), f"{mean:.5g}", f"{stds[i]:.3g}", f"{fit_times[i]:.2f}", shown)
    return table

"""Fixed grid: the Rossmann MLP pipeline searched by daskcloud and its peers (issue 7 §1).

Two grids of 24 candidates x 3 time-series folds, each run by every contender,
interleaved (A B C D, A B C D, ...):

- ``prefix``: the full pipeline ``features -> scale -> mlp`` with a feature
  option in the grid, so fits that share it can share the fitted prefix;
- ``no-prefix``: the MLP alone on a pre-computed feature matrix, nothing to
  share: pure parallel efficiency.

Contenders: ``daskcloud`` (``DaskSearchCV``, journal on), ``sklearn``
(``GridSearchCV(n_jobs=2)``, loky), ``joblib-dask`` (``GridSearchCV(n_jobs=-1)``
under joblib's dask backend) and ``dask-ml`` (``dask_ml.model_selection.GridSearchCV``);
the Dask ones share one LocalCluster (2 workers x 1 thread, started once, not
timed). ``refit=False`` everywhere: only the search is timed.

CPU efficiency = (sum of single-fit CPU seconds) / (wall x cores), where the
single-fit CPU seconds come from one serial, single-threaded pass over every
(candidate, fold) fit, no sharing -- the work a naive search must do. With prefix
sharing a contender can exceed 1.0.
"""

from __future__ import annotations

import functools
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import interleave, local_client, md_table, median, rossmann_frame

__all__ = ["CONFIGS", "run", "tables"]

#: quick: a slice of the small preset and short MLP runs; full: the medium preset
CONFIGS = {
    "quick": {
        "preset": "small",
        "n_stores": 20,
        "max_iter": 8,
        "hidden": [(32,), (64,)],
        "rounds": {"prefix": 2, "no-prefix": 3},
        # the two strongest peers (joblib's dask backend trails both: see the full runs)
        "contenders": ("daskcloud", "sklearn", "dask-ml"),
        # the variants whose CPU efficiency is measured (a serial pass over every fit)
        "efficiency": ("no-prefix",),
    },
    "full": {
        "preset": "medium",
        "n_stores": None,
        "max_iter": 20,
        "hidden": [(64, 32), (128, 64)],
        "rounds": {"prefix": 3, "no-prefix": 3},
        "contenders": ("daskcloud", "sklearn", "joblib-dask", "dask-ml"),
        "efficiency": ("prefix", "no-prefix"),
    },
}
CONTENDERS = ("daskcloud", "sklearn", "joblib-dask", "dask-ml")
GOALS = {"prefix": 0.8, "no-prefix": 1.0, "cpu_efficiency": 0.90}


def _problem(cfg: dict[str, Any], variant: str) -> tuple[Any, Any, Any, dict[str, list], list]:
    """``(estimator, X, y, grid, splits)`` of one variant; 24 candidates, 3 folds."""
    from daskcloud.rossmann import LogTargetMLP, TimeSeriesFolds, make_pipeline

    X, y, _, _ = rossmann_frame(cfg["preset"], cfg["n_stores"])
    splits = [(tr, te) for tr, te in TimeSeriesFolds(3, weeks=6).split(X)]
    mlp = {"max_iter": cfg["max_iter"], "early_stopping": False, "random_state": 0}
    grid = {
        "hidden_layer_sizes": cfg["hidden"],
        "alpha": [1e-4, 1e-3, 1e-2],
        "learning_rate_init": [1e-3, 3e-3],
    }
    if variant == "prefix":
        est = make_pipeline(**{f"mlp__{k}": v for k, v in mlp.items()})
        grid = {
            "features__store_aggregates": [True, False],
            **{f"mlp__{k}": v for k, v in grid.items()},
        }
        return est, X, y, grid, splits
    # no shareable prefix: features computed once up front, the grid is over the MLP alone
    Xm = make_pipeline()[:2].fit_transform(X, y)
    return LogTargetMLP(**mlp), Xm, y, {**grid, "batch_size": [256, 512]}, splits


def _serial_cpu(est: Any, X: Any, y: Any, grid: dict, splits: list) -> dict[str, float]:
    """CPU seconds of every fit run alone, one thread, no sharing (the efficiency numerator)."""
    from sklearn.model_selection import GridSearchCV
    from threadpoolctl import threadpool_limits

    from daskcloud.rossmann import rmspe_scorer

    search = GridSearchCV(est, grid, cv=splits, scoring=rmspe_scorer, refit=False, n_jobs=1)
    with threadpool_limits(1):
        c, t = time.process_time(), time.perf_counter()
        search.fit(X, y)
        return {"cpu_s": time.process_time() - c, "wall_s": time.perf_counter() - t}


def _contender(
    name: str, client: Any, est: Any, X: Any, y: Any, grid: dict, splits: list, workdir: Path
) -> dict[str, Any]:
    import joblib
    from sklearn.model_selection import GridSearchCV

    from daskcloud.rossmann import rmspe_scorer

    common = {"cv": splits, "scoring": rmspe_scorer, "refit": False}
    extra: dict[str, Any] = {}
    t = time.perf_counter()
    if name == "daskcloud":
        from daskcloud.search import DaskSearchCV

        search = DaskSearchCV(
            est,
            grid,
            client=client,
            progress=False,
            journal=str(workdir / f"grid-{time.time_ns()}.sqlite"),
            **common,
        )
        search.fit(X, y)
        stats = search.search_stats_
        extra = {k: stats[k] for k in ("n_fits", "n_prefix_fits", "n_tasks", "fit_cpu_s")}
    elif name == "sklearn":
        search = GridSearchCV(est, grid, n_jobs=2, **common).fit(X, y)
    elif name == "joblib-dask":
        with joblib.parallel_backend("dask"):
            search = GridSearchCV(est, grid, n_jobs=-1, **common).fit(X, y)
    elif name == "dask-ml":
        from dask_ml.model_selection import GridSearchCV as DaskMLGridSearchCV

        search = DaskMLGridSearchCV(est, grid, scheduler=client, **common).fit(X, y)
    else:  # pragma: no cover
        raise ValueError(name)
    wall = time.perf_counter() - t
    best = float(max(search.cv_results_["mean_test_score"]))
    return {"wall_s": wall, "best_cv_rmspe": -best, **extra}


def _dask_ml_importable() -> str | None:
    try:
        import dask_ml.model_selection  # noqa: F401
    except Exception as e:  # any import-time failure (sklearn API drift) is the result
        return f"not importable: {type(e).__name__}: {e}"[:300]
    return None


def run(
    quick: bool = True,
    *,
    rounds: int | None = None,
    variants: tuple[str, ...] = ("prefix", "no-prefix"),
) -> dict[str, Any]:
    """Both variants, every contender interleaved; medians, ratios, CPU efficiency.

    Quick mode (what ``make bench`` runs, about 3 minutes on 2 cores) runs the two
    strongest peers and measures CPU efficiency where it is a goal (no prefix); full mode
    runs every contender and both efficiencies.
    """
    cfg = dict(CONFIGS["quick" if quick else "full"])
    not_importable = _dask_ml_importable()
    out: dict[str, Any] = {
        "benchmark": "fixed_grid",
        "mode": "quick" if quick else "full",
        "config": cfg,
        "rounds": rounds,
        "goals": GOALS,
        "variants": {},
    }
    with tempfile.TemporaryDirectory() as tmp, local_client(2) as client:
        cores = sum(client.nthreads().values())
        for variant in variants:
            est, X, y, grid, splits = _problem(cfg, variant)
            n_candidates = 1
            for values in grid.values():
                n_candidates *= len(values)
            print(
                f"fixed_grid/{variant}: {n_candidates} candidates x {len(splits)} folds, "
                f"{len(X)} rows",
                flush=True,
            )
            serial = _serial_cpu(est, X, y, grid, splits) if variant in cfg["efficiency"] else None
            problem = (est, X, y, grid, splits, Path(tmp))
            contenders = {
                name: functools.partial(_contender, name, client, *problem)
                for name in cfg["contenders"]
                if not (name == "dask-ml" and not_importable)
            }
            runs = interleave(contenders, rounds or cfg["rounds"][variant])
            if not_importable:
                runs["dask-ml"] = [{"error": not_importable}]
            out["variants"][variant] = _summarise(runs, serial, cores, n_candidates, len(splits))
    return out


def _summarise(
    runs: dict, serial: dict | None, cores: int, n_candidates: int, n_folds: int
) -> dict:
    summary: dict[str, Any] = {}
    for name, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            summary[name] = {"error": rs[0]["error"]}
            continue
        wall = median([r["wall_s"] for r in ok])
        summary[name] = {
            "wall_s": wall,
            "cpu_efficiency": serial["cpu_s"] / (wall * cores) if serial else None,
            "best_cv_rmspe": ok[0]["best_cv_rmspe"],
        }
    ref = summary.get("daskcloud", {}).get("wall_s")
    peers = [s["wall_s"] for n, s in summary.items() if n != "daskcloud" and "wall_s" in s]
    for s in summary.values():
        if ref and "wall_s" in s:
            s["wall_ratio_to_daskcloud"] = s["wall_s"] / ref
    return {
        "n_candidates": n_candidates,
        "n_folds": n_folds,
        "cores": cores,
        "serial_single_fit_cpu_s": serial["cpu_s"] if serial else None,
        "serial_wall_s": serial["wall_s"] if serial else None,
        "summary": summary,
        "daskcloud_vs_best_peer": (ref / min(peers)) if ref and peers else None,
        "runs": runs,
    }


def tables(result: dict[str, Any]) -> str:
    parts = []
    for variant, v in result["variants"].items():
        goal = GOALS[variant]
        parts.append(
            f"**{variant}** ({v['n_candidates']} candidates x {v['n_folds']} folds; "
            f"serial single-fit CPU {_fmt(v['serial_single_fit_cpu_s'], '.1f')} s; "
            f"daskcloud / best peer = {_fmt(v['daskcloud_vs_best_peer'])}, goal <= {goal})"
        )
        rows = []
        for name, s in v["summary"].items():
            if "error" in s:
                rows.append([name, None, None, None, None, s["error"]])
            else:
                rows.append(
                    [
                        name,
                        s["wall_s"],
                        s["wall_ratio_to_daskcloud"],
                        s["cpu_efficiency"],
                        s["best_cv_rmspe"],
                        "",
                    ]
                )
        parts.append(
            md_table(
                [
                    "contender",
                    "wall s (median)",
                    "wall / daskcloud's",
                    "CPU efficiency",
                    "best CV RMSPE",
                    "note",
                ],
                rows,
            )
        )
    return "\n\n".join(parts)


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "—" if x is None else format(x, spec)

"""Adaptive search: best RMSPE reached against fit CPU-seconds spent (issue 7 §2).

One space (120 grid points over the feature option and the MLP) and one budget
of fit CPU-seconds for every method, 3 time-series folds, training rows as the
resource of the adaptive ones:

- ``daskcloud-halving``: ``DaskSearchCV(strategy="halving")`` (ASHA, eta 3), budget
  ``max_cpu_hours``;
- ``daskcloud-tpe``: ``strategy="tpe"`` (Optuna's TPE behind daskcloud's ask/tell), same budget;
- ``daskcloud-random``: ``strategy="optuna-random"`` (random draws asked a few at a
  time), same budget. ``strategy="random"`` draws every candidate up front and the
  runner queues fits fold by fold, so a budget smaller than one pass over the
  folds ends with no candidate complete (``SearchError``; see docs/benchmarks.md);
- ``sklearn-halving``: ``HalvingGridSearchCV(factor=3, resource="n_samples")`` over the
  120 points, ``n_jobs=1`` in this process so its CPU time can be measured -- it has
  no budget knob, so its own total is reported;
- ``optuna-hyperband``: Optuna ``TPESampler`` + ``HyperbandPruner`` (reduction 3), each
  trial scored on 1/27, 1/9, 1/3 and all training rows, stopped when the budget is spent.

The curve is the best cross-validated RMSPE among results on *all* training rows,
against the cumulative fit CPU-seconds (daskcloud: the journal's per-fit
``fit_cpu_s`` plus shared prefixes; Optuna: CPU time of the objective;
scikit-learn: its fit + score times, which on one thread per job track CPU).
The table adds each method's final pick refitted on the whole training part and
scored on the 6-week holdout. Plot: ``results/adaptive.png``.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import local_client, md_table, rossmann_frame

__all__ = ["CONFIGS", "run", "tables"]

CONFIGS = {
    "quick": {
        "preset": "small",
        "n_stores": 20,
        "max_iter": 8,
        "budget_cpu_s": 20.0,  # make bench in 10 minutes on 2 cores
        "halving_candidates": 27,
    },
    "full": {
        "preset": "medium",
        "n_stores": None,
        "max_iter": 20,
        "budget_cpu_s": 900.0,
        "halving_candidates": 81,
    },
}
METHODS = (
    "daskcloud-halving",
    "daskcloud-tpe",
    "daskcloud-random",
    "sklearn-halving",
    "optuna-hyperband",
)


def space() -> dict[str, list[Any]]:
    return {
        "features__store_aggregates": [True, False],
        "mlp__hidden_layer_sizes": [(32,), (64,), (64, 32)],
        "mlp__alpha": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
        "mlp__learning_rate_init": [3e-4, 1e-3, 3e-3, 1e-2],
    }


def _pipe(cfg: dict[str, Any]) -> Any:
    from daskcloud.rossmann import make_pipeline

    return make_pipeline(
        mlp__max_iter=cfg["max_iter"], mlp__early_stopping=False, mlp__random_state=0
    )


def _curve(points: list[tuple[float, float]]) -> list[list[float]]:
    """``(cpu_s, rmspe)`` in time order -> best-so-far steps ``[[cpu_s, best_rmspe], ...]``."""
    out, best = [], np.inf
    for cpu, score in points:
        if score == score and score < best:
            best = score
            out.append([cpu, best])
    return out


def _daskcloud(
    method: str, client: Any, cfg: dict, X: Any, y: Any, splits: list, workdir: Path
) -> dict[str, Any]:
    from daskcloud.rossmann import rmspe_scorer
    from daskcloud.search import DaskSearchCV, Journal

    strategy = {"random": "optuna-random"}.get(method.split("-", 1)[1], method.split("-", 1)[1])
    n_candidates = cfg["halving_candidates"] if strategy == "halving" else 120
    options = {"resource": "n_samples", "eta": 3} if strategy == "halving" else None
    path = workdir / f"{method}-{time.time_ns()}.sqlite"
    search = DaskSearchCV(
        _pipe(cfg),
        space(),
        strategy=strategy,
        n_candidates=n_candidates,
        strategy_options=options,
        budget={"max_cpu_hours": cfg["budget_cpu_s"] / 3600},
        cv=splits,
        scoring=rmspe_scorer,
        refit=False,
        progress=False,
        random_state=0,
        client=client,
        journal=str(path),
    )
    search.fit(X, y)
    n_full = min(len(tr) for tr, _ in splits)
    with Journal(path) as journal:
        fits, tasks = journal.read(), [t for t in journal.read_tasks() if t.kind == "prefix"]
    events = sorted(
        [(f.end or 0.0, f.fit_cpu_s or 0.0, f) for f in fits]
        + [(t.end or 0.0, t.cpu_s or 0.0, None) for t in tasks],
        key=lambda e: e[0],
    )
    folds: dict[tuple, list[float]] = defaultdict(list)
    points, cpu = [], 0.0
    for _, c, f in events:
        cpu += c
        if f is None or f.status != "ok":
            continue
        key = (repr(sorted(f.params.items())), f.resource)
        folds[key].append(-float(f.test_scores))
        full = f.resource is None or f.resource >= n_full
        if len(folds[key]) == len(splits) and full:
            points.append((cpu, float(np.mean(folds[key]))))
    best = search.best_params_ if hasattr(search, "best_params_") else None
    return {
        "points": points,
        "cpu_s": cpu,
        "best_params": best,
        "n_fits": search.search_stats_["n_fits"],
        "stop_reason": search.stop_reason_,
    }


def _sklearn_halving(cfg: dict, X: Any, y: Any, splits: list) -> dict[str, Any]:
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV
    from threadpoolctl import threadpool_limits

    from daskcloud.rossmann import rmspe_scorer

    search = HalvingGridSearchCV(
        _pipe(cfg),
        space(),
        factor=3,
        resource="n_samples",
        cv=splits,
        scoring=rmspe_scorer,
        refit=False,
        n_jobs=1,
        random_state=0,
    )
    with threadpool_limits(1):
        c = time.process_time()
        search.fit(X, y)
        total_cpu = time.process_time() - c
    r = search.cv_results_
    # per-candidate times are wall-clock; scale them to the measured CPU total
    scale = total_cpu / max(
        1e-9, float(np.sum(r["mean_fit_time"] + r["mean_score_time"])) * len(splits)
    )
    n_folds = len(splits)
    top = max(r["n_resources"])
    points, cpu = [], 0.0
    for i in np.argsort(r["iter"], kind="stable"):
        cpu += (r["mean_fit_time"][i] + r["mean_score_time"][i]) * n_folds * scale
        if r["n_resources"][i] >= top:
            points.append((cpu, -float(r["mean_test_score"][i])))
    return {
        "points": points,
        "cpu_s": cpu,
        "best_params": search.best_params_,
        "n_fits": int(len(r["params"]) * n_folds),
        "top_resource": int(top),
    }


def _optuna_hyperband(cfg: dict, X: Any, y: Any, splits: list) -> dict[str, Any]:
    import optuna
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    from daskcloud.rossmann import rmspe

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    grid = space()
    choices = {k: list(range(len(v))) for k, v in grid.items()}  # tuples are not storable
    rng = np.random.default_rng(0)
    steps = (1, 3, 9, 27)  # rungs: 1/27 .. all of the training rows
    state = {"cpu": 0.0, "points": [], "n_fits": 0}

    def objective(trial: Any) -> float:
        params = {k: grid[k][trial.suggest_categorical(k, choices[k])] for k in grid}
        score = np.nan
        for step in steps:
            c = time.process_time()
            scores = []
            for tr, te in splits:
                rows = tr if step == 27 else np.sort(rng.choice(tr, len(tr) * step // 27, False))
                est = clone(_pipe(cfg)).set_params(**params).fit(X.iloc[rows], y.iloc[rows])
                scores.append(rmspe(y.iloc[te], est.predict(X.iloc[te])))
                state["n_fits"] += 1
            state["cpu"] += time.process_time() - c
            score = float(np.mean(scores))
            if step == 27:
                state["points"].append((state["cpu"], score))
            trial.report(score, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return score

    def stop(study: Any, _trial: Any) -> None:
        if state["cpu"] >= cfg["budget_cpu_s"]:
            study.stop()

    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3),
    )
    with threadpool_limits(1):
        study.optimize(objective, n_trials=10_000, callbacks=[stop])
    best = None
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if done:
        best = {k: grid[k][v] for k, v in study.best_trial.params.items()}
    return {
        "points": state["points"],
        "cpu_s": state["cpu"],
        "best_params": best,
        "n_fits": state["n_fits"],
        "n_trials": len(study.trials),
    }


def _holdout(cfg: dict, params: dict | None, X: Any, y: Any, X_hold: Any, y_hold: Any) -> Any:
    from daskcloud.rossmann import rmspe

    if params is None:
        return None
    est = _pipe(cfg).set_params(**params).fit(X, y)
    return rmspe(y_hold, est.predict(X_hold))


def run(quick: bool = True, *, methods: tuple[str, ...] = METHODS) -> dict[str, Any]:
    from daskcloud.rossmann import TimeSeriesFolds

    cfg = dict(CONFIGS["quick" if quick else "full"])
    X, y, X_hold, y_hold = rossmann_frame(cfg["preset"], cfg["n_stores"])
    splits = list(TimeSeriesFolds(3, weeks=6).split(X))
    out: dict[str, Any] = {
        "benchmark": "adaptive",
        "mode": "quick" if quick else "full",
        "config": cfg,
        "space_size": 120,
        "methods": {},
    }
    with tempfile.TemporaryDirectory() as tmp, local_client(2) as client:
        for method in methods:
            t = time.perf_counter()
            try:
                if method.startswith("daskcloud-"):
                    res = _daskcloud(method, client, cfg, X, y, splits, Path(tmp))
                elif method == "sklearn-halving":
                    res = _sklearn_halving(cfg, X, y, splits)
                else:
                    res = _optuna_hyperband(cfg, X, y, splits)
                res["holdout_rmspe"] = _holdout(cfg, res["best_params"], X, y, X_hold, y_hold)
            except Exception as e:  # report, never stop on one method
                res = {"error": f"{type(e).__name__}: {e}"[:500]}
            res["wall_s"] = time.perf_counter() - t
            if "points" in res:
                res["curve"] = _curve(res.pop("points"))
                res["best_cv_rmspe"] = res["curve"][-1][1] if res["curve"] else None
                res["best_params"] = {k: repr(v) for k, v in (res["best_params"] or {}).items()}
            used = res.get("error") or f"{res['cpu_s']:.0f} CPU-s"
            print(f"  {method}: {used}, holdout {res.get('holdout_rmspe')}", flush=True)
            out["methods"][method] = res
    out["plot"] = _plot(out)
    return out


def _plot(result: dict[str, Any]) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    from benchmarks._common import RESULTS_DIR

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for name, res in result["methods"].items():
        curve = res.get("curve")
        if curve:
            xs, ys = zip(*curve, strict=True)
            end = max(res["cpu_s"], xs[-1])
            ax.step([*xs, end], [*ys, ys[-1]], where="post", label=name, marker="o", ms=3)
    ax.axvline(result["config"]["budget_cpu_s"], color="grey", ls=":", lw=1, label="budget")
    ax.set_xlabel("fit CPU-seconds spent")
    ax.set_ylabel("best CV RMSPE so far (all training rows)")
    ax.set_title(f"Adaptive search, Rossmann MLP ({result['mode']} mode)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "adaptive.png"
    fig.savefig(path)
    plt.close(fig)
    return str(path.relative_to(RESULTS_DIR.parent.parent))


def tables(result: dict[str, Any]) -> str:
    rows = []
    for name, r in result["methods"].items():
        if "error" in r:
            rows.append([name, None, None, None, None, r["error"]])
            continue
        rows.append(
            [
                name,
                r["cpu_s"],
                r["n_fits"],
                r.get("best_cv_rmspe"),
                r.get("holdout_rmspe"),
                r.get("stop_reason") or "",
            ]
        )
    head = (
        f"Budget {result['config']['budget_cpu_s']:.0f} fit CPU-s, space of "
        f"{result['space_size']} points; plot: `{result.get('plot')}`"
    )
    return (
        head
        + "\n\n"
        + md_table(
            [
                "method",
                "fit CPU-s used",
                "fits",
                "best CV RMSPE",
                "holdout RMSPE of its pick",
                "note",
            ],
            rows,
        )
    )

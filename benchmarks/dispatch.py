"""Dispatch overhead: trivial trials end to end, so only the machinery is timed (issue 7 §3).

A trial fits and scores a ``DummyRegressor`` on 64 rows (microseconds of work),
one fold each. Contenders, interleaved on one LocalCluster (2 workers x 1
thread, started once, not timed):

- ``daskcloud``: ``DaskSearchCV`` grid of N candidates, journal on (SQLite file);
- ``dask``: plain ``client.map`` + ``as_completed`` of the same function;
- ``optuna``: in-memory study, ``RandomSampler``, ``n_jobs=2`` (threads);
- ``joblib-dask``: ``GridSearchCV(n_jobs=-1)`` under joblib's dask backend (fewer
  trials: it is slow, see the result);
- ``sklearn-loky``: ``GridSearchCV(n_jobs=2)``, for reference.

The machine's limit for trivial trials: the same fit and score done serially in
this process with no framework (:func:`serial_rate`), times the cores. Every
contender's rate is also reported as a share of it (goal for daskcloud: 0.5).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import interleave, local_client, md_table, median

__all__ = ["run", "tables"]

GOAL_TRIALS_PER_S = 2000.0
GOAL_SHARE_OF_LIMIT = 0.5


def _data() -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 2)), rng.normal(size=64)
    return X, y, [(np.arange(48), np.arange(48, 64))]


def trivial_trial(i: float, X: np.ndarray, y: np.ndarray) -> float:
    """Fit and score one trivial candidate (the work every contender does per trial)."""
    from sklearn.dummy import DummyRegressor

    est = DummyRegressor(strategy="constant", constant=float(i)).fit(X[:48], y[:48])
    return float(est.score(X[48:], y[48:]))


def serial_rate(n: int) -> float:
    """Trivial trials per second done serially in this process, no framework (best of 3)."""
    X, y, _ = _data()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for i in range(n):
            trivial_trial(float(i), X, y)
        best = min(best, time.perf_counter() - t)
    return n / best


def _daskcloud(client: Any, n: int, workdir: Path) -> dict[str, Any]:
    from sklearn.dummy import DummyRegressor

    from daskcloud.search import DaskSearchCV

    X, y, cv = _data()
    journal = workdir / f"dispatch-{time.time_ns()}.sqlite"
    search = DaskSearchCV(
        DummyRegressor(strategy="constant"),
        {"constant": [float(i) for i in range(n)]},
        cv=cv,
        refit=False,
        progress=False,
        client=client,
        journal=str(journal),
    )
    t = time.perf_counter()
    search.fit(X, y)
    wall = time.perf_counter() - t
    stats = search.search_stats_
    return {
        "wall_s": wall,
        "n": n,
        "trials_per_s": n / wall,
        "n_tasks": stats["n_tasks"],
        "search_s": stats["search_s"],
    }


def _dask(client: Any, n: int) -> dict[str, Any]:
    from distributed import as_completed

    X, y, _ = _data()
    t = time.perf_counter()
    Xf, yf = client.scatter([X, y], broadcast=True)
    futures = client.map(trivial_trial, [float(i) for i in range(n)], X=Xf, y=yf, pure=False)
    done = sum(1 for _ in as_completed(futures, with_results=True))
    wall = time.perf_counter() - t
    return {"wall_s": wall, "n": done, "trials_per_s": done / wall}


def _optuna(n: int) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y, _ = _data()

    def objective(trial: Any) -> float:
        return trivial_trial(trial.suggest_float("constant", -1.0, 1.0), X, y)

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    t = time.perf_counter()
    study.optimize(objective, n_trials=n, n_jobs=2)
    wall = time.perf_counter() - t
    return {"wall_s": wall, "n": n, "trials_per_s": n / wall}


def _gridsearch(n: int, backend: str | None) -> dict[str, Any]:
    import joblib
    from sklearn.dummy import DummyRegressor
    from sklearn.model_selection import GridSearchCV

    X, y, cv = _data()
    search = GridSearchCV(
        DummyRegressor(strategy="constant"),
        {"constant": [float(i) for i in range(n)]},
        cv=cv,
        refit=False,
        n_jobs=-1 if backend == "dask" else 2,
    )
    t = time.perf_counter()
    if backend == "dask":
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
    else:
        search.fit(X, y)
    wall = time.perf_counter() - t
    return {"wall_s": wall, "n": n, "trials_per_s": n / wall}


def run(
    quick: bool = True,
    *,
    n: int | None = None,
    n_slow: int | None = None,
    rounds: int = 2,
    contenders: tuple[str, ...] | None = None,
    client: Any = None,
) -> dict[str, Any]:
    """Run the contenders interleaved; ``n`` trials each (``n_slow`` for the joblib backends).

    ``client``: an existing Dask client to use (default: a new LocalCluster, 2 x 1 thread).
    """
    n = n or (2000 if quick else 10_000)
    n_slow = n_slow or min(n, 300 if quick else 2000)
    own = contextlib.nullcontext(client) if client is not None else local_client(2)
    with tempfile.TemporaryDirectory() as tmp, own as client:
        cores = sum(client.nthreads().values())
        serial = serial_rate(min(n, 2000))
        print(f"  serial fit + score: {serial:.0f}/s x {cores} cores = limit "
              f"{serial * cores:.0f}/s", flush=True)  # fmt: skip
        table = {
            "daskcloud": lambda: _daskcloud(client, n, Path(tmp)),
            "dask": lambda: _dask(client, n),
            "optuna": lambda: _optuna(n),
            "joblib-dask": lambda: _gridsearch(n_slow, "dask"),
            "sklearn-loky": lambda: _gridsearch(n_slow, None),
        }
        chosen = {k: v for k, v in table.items() if contenders is None or k in contenders}
        runs = interleave(chosen, rounds)
    summary = {}
    for name, rs in runs.items():
        ok = [r for r in rs if "error" not in r]
        summary[name] = (
            {"trials_per_s": median([r["trials_per_s"] for r in ok]), "n": ok[0]["n"]}
            if ok
            else {"error": rs[0]["error"]}
        )
    ref = summary.get("daskcloud", {}).get("trials_per_s")
    limit = serial * cores
    for s in summary.values():
        if ref and "trials_per_s" in s:
            s["ratio_to_daskcloud"] = s["trials_per_s"] / ref
        if "trials_per_s" in s:
            s["share_of_limit"] = s["trials_per_s"] / limit
    return {
        "benchmark": "dispatch",
        "mode": "quick" if quick else "full",
        "n": n,
        "n_slow": n_slow,
        "rounds": rounds,
        "goal_trials_per_s": GOAL_TRIALS_PER_S,
        "goal_share_of_limit": GOAL_SHARE_OF_LIMIT,
        "serial_trials_per_s": serial,
        "cores": cores,
        "limit_trials_per_s": limit,
        "summary": summary,
        "runs": runs,
    }


def tables(result: dict[str, Any]) -> str:
    rows = []
    for name, s in result["summary"].items():
        if "error" in s:
            rows.append([name, None, None, None, None, s["error"]])
        else:
            rows.append([name, s["n"], s["trials_per_s"], s.get("ratio_to_daskcloud"),
                         s.get("share_of_limit"), ""])  # fmt: skip
    table = md_table(
        ["contender", "trials", "trials/s (median)", "rate / daskcloud's", "rate / limit", "note"],
        rows,
    )
    if "limit_trials_per_s" not in result:  # a result from before the limit was measured
        return table
    ours = result["summary"].get("daskcloud", {})
    dask = result["summary"].get("dask", {})
    line = (
        f"Limit: the same fit + score serially in one process, {result['serial_trials_per_s']:.0f}"
        f"/s x {result['cores']} cores = {result['limit_trials_per_s']:.0f} trials/s; daskcloud "
        f"{ours.get('trials_per_s', float('nan')):.0f}/s = "
        f"{ours.get('share_of_limit', float('nan')):.2f} of it (goal {GOAL_SHARE_OF_LIMIT})"
    )
    if dask.get("ratio_to_daskcloud"):
        line += f", {1 / dask['ratio_to_daskcloud']:.1f}x plain Dask (goal 3x)"
    return line + ".\n\n" + table

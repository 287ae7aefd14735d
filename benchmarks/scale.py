"""Scale, measured: 100 and 400 concurrent slots on one machine, fits that sleep (issue 17 §4).

A local cluster of 4 processes x 25 threads is 100 concurrent slots (8 x 50: 400).
Each fit sleeps ``fit_s`` seconds and uses no CPU, so what limits the makespan is
the machinery: the driver, the scheduler and the per-task path. Contenders, on
the same cluster, interleaved:

- ``dask``: plain ``client.map`` of a sleeping function + ``as_completed``, one task
  per trial (the floor a Dask-based search can reach);
- ``daskcloud``: ``DaskSearchCV`` over ``n`` candidates of :class:`SleepRegressor`,
  one fold, journal on (SQLite file), ``refit=False``.

Reported: makespan, makespan / ideal (``n x fit_s / slots``) and daskcloud / dask.
Goals: with 1.0 s fits at 100 slots daskcloud within 1.10x of ideal; with 0.2 s fits
within 1.25x of plain Dask's makespan. The measured points also calibrate the
simulation of :mod:`benchmarks.scale_sim` (the projection beyond one machine).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from benchmarks._common import interleave, local_client, md_table, median

__all__ = ["SleepRegressor", "calibrate", "run", "tables"]

GOALS = {"ideal_1s": 1.10, "vs_dask_short": 1.25}
#: (processes, threads per process) of the local clusters measured
SHAPES = {"quick": ((4, 25), (8, 50)), "full": ((4, 25), (8, 50))}
N_TRIALS = 2001
FIT_SECONDS = (1.0, 0.2)


class SleepRegressor(RegressorMixin, BaseEstimator):
    """Predicts ``constant``; ``fit`` sleeps ``seconds`` (a fit that costs time, not CPU)."""

    def __init__(self, constant: float = 0.0, seconds: float = 1.0) -> None:
        self.constant = constant
        self.seconds = seconds

    def fit(self, X: Any, y: Any) -> SleepRegressor:
        time.sleep(self.seconds)
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.full(len(X), float(self.constant))


def _data() -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 2)), rng.normal(size=64)
    return X, y, [(np.arange(48), np.arange(48, 64))]


def sleep_trial(constant: float, seconds: float, X: np.ndarray, y: np.ndarray) -> float:
    """What one plain-Dask trial does: the same fit and score as daskcloud's."""
    model = SleepRegressor(constant, seconds).fit(X[:48], y[:48])
    return float(model.score(X[48:], y[48:]))


def _dask(client: Any, n: int, seconds: float) -> dict[str, Any]:
    from distributed import as_completed

    X, y, _ = _data()
    t = time.perf_counter()
    Xf, yf = client.scatter([X, y], broadcast=True)
    futures = client.map(
        sleep_trial, [float(i) for i in range(n)], seconds=seconds, X=Xf, y=yf, pure=False
    )
    done = sum(1 for _ in as_completed(futures, with_results=True))
    return {"wall_s": time.perf_counter() - t, "n": done}


def _daskcloud(client: Any, n: int, seconds: float, workdir: Path) -> dict[str, Any]:
    from daskcloud.search import DaskSearchCV

    X, y, cv = _data()
    search = DaskSearchCV(
        SleepRegressor(seconds=seconds),
        {"constant": [float(i) for i in range(n)]},
        cv=cv,
        refit=False,
        progress=False,
        client=client,
        journal=str(workdir / f"scale-{time.time_ns()}.sqlite"),
    )
    t = time.perf_counter()
    search.fit(X, y)
    wall = time.perf_counter() - t
    return {"wall_s": wall, "n": n, "n_tasks": search.search_stats_["n_tasks"]}


def run(
    quick: bool = True,
    *,
    n: int = N_TRIALS,
    fit_seconds: tuple[float, ...] = FIT_SECONDS,
    shapes: tuple[tuple[int, int], ...] | None = None,
    rounds: int | None = None,
) -> dict[str, Any]:
    """Every shape x fit length, the contenders interleaved; medians and ratios."""
    shapes = shapes or SHAPES["quick" if quick else "full"]
    rounds = rounds or (1 if quick else 3)
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        for processes, threads in shapes:
            slots = processes * threads
            with local_client(processes, threads) as client:
                for seconds in fit_seconds:
                    print(f"scale: {processes} x {threads} slots, {n} fits of {seconds} s")
                    runs = interleave(
                        {
                            "dask": lambda s=seconds: _dask(client, n, s),
                            "daskcloud": lambda s=seconds: _daskcloud(client, n, s, Path(tmp)),
                        },
                        rounds,
                    )
                    points.append(_point(runs, processes, threads, slots, n, seconds))
    return {
        "benchmark": "scale",
        "mode": "quick" if quick else "full",
        "n": n,
        "rounds": rounds,
        "goals": GOALS,
        "points": points,
        "calibration": calibrate(points),
    }


def _point(
    runs: dict[str, list[dict[str, Any]]],
    processes: int,
    threads: int,
    slots: int,
    n: int,
    seconds: float,
) -> dict[str, Any]:
    ideal = n * seconds / slots
    point: dict[str, Any] = {
        "processes": processes,
        "threads": threads,
        "slots": slots,
        "n": n,
        "fit_s": seconds,
        "ideal_s": ideal,
        "runs": runs,
    }
    for name, rs in runs.items():
        ok = [r["wall_s"] for r in rs if "error" not in r]
        point[name] = (
            {"makespan_s": median(ok), "over_ideal": median(ok) / ideal}
            if ok
            else {"error": rs[0]["error"]}
        )
    if "makespan_s" in point["dask"] and "makespan_s" in point["daskcloud"]:
        point["daskcloud_over_dask"] = (
            point["daskcloud"]["makespan_s"] / point["dask"]["makespan_s"]
        )
    return point


def calibrate(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Fit the simulation's per-trial dispatcher cost ``d`` to the measured points.

    ``d`` is fitted (bisection) to daskcloud's makespan at the first point (100 slots,
    1.0 s fits, the goal's shape), ``o = 0``; the simulation then predicts every other
    point, and the relative error of each is reported (the goal: within 10 %).
    """
    from benchmarks.scale_sim import simulate

    measured = [p for p in points if "makespan_s" in p.get("daskcloud", {})]
    if not measured:
        return {}
    anchor = measured[0]

    def predict(p: dict[str, Any], d: float) -> float:
        return simulate(p["n"], p["slots"], p["fit_s"], d, 0.0)

    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if predict(anchor, mid) < anchor["daskcloud"]["makespan_s"]:
            lo = mid
        else:
            hi = mid
    d = (lo + hi) / 2
    checks = []
    for p in measured:
        simulated = predict(p, d)
        actual = p["daskcloud"]["makespan_s"]
        checks.append(
            {
                "slots": p["slots"],
                "fit_s": p["fit_s"],
                "measured_s": actual,
                "simulated_s": simulated,
                "error": simulated / actual - 1,
            }
        )
    return {"d_s": d, "o_s": 0.0, "anchor": {"slots": anchor["slots"], "fit_s": anchor["fit_s"]},
            "checks": checks}  # fmt: skip


def tables(result: dict[str, Any]) -> str:
    rows = []
    for p in result["points"]:
        dask, ours = p["dask"], p["daskcloud"]
        rows.append(
            [
                f"{p['processes']} x {p['threads']} = {p['slots']}",
                f"{p['n']:,} x {p['fit_s']} s",
                p["ideal_s"],
                dask.get("makespan_s"),
                dask.get("over_ideal"),
                ours.get("makespan_s"),
                ours.get("over_ideal"),
                p.get("daskcloud_over_dask"),
                dask.get("error") or ours.get("error") or "",
            ]
        )
    head = md_table(
        [
            "slots",
            "fits",
            "ideal s",
            "dask s",
            "dask / ideal",
            "daskcloud s",
            "daskcloud / ideal",
            "daskcloud / dask",
            "note",
        ],
        rows,
    )
    cal = result.get("calibration") or {}
    if not cal:
        return head
    lines = [
        f"Simulation calibrated on {cal['anchor']['slots']} slots x {cal['anchor']['fit_s']} s "
        f"fits: dispatcher cost d = {cal['d_s'] * 1e3:.2f} ms per trial."
    ]
    lines += [
        f"- {c['slots']} slots, {c['fit_s']} s fits: simulated {c['simulated_s']:.1f} s, "
        f"measured {c['measured_s']:.1f} s ({c['error']:+.1%})"
        for c in cal["checks"]
    ]
    return head + "\n\n" + "\n".join(lines)

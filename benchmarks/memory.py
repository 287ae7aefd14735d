"""Worker memory: peak RSS of each worker for a small and a large grid on the same data (§4).

daskcloud searches ``Pipeline(StandardScaler, Ridge)`` over ``alpha`` on the
pre-computed Rossmann feature matrix, 3 folds, with grids of 10 and of 1,000
candidates. Each grid runs on a fresh LocalCluster (2 workers x 1 thread); a
thread on every worker samples its process's RSS (psutil) every 20 ms, from just
before the search until it ends, and the driver's RSS is sampled the same way.
The goal: worker memory flat from 10 to 1,000 candidates.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks._common import local_client, md_table, rossmann_frame

__all__ = ["run", "tables"]

_SAMPLER: dict[str, Any] = {}


def _start_sampler(interval: float = 0.02) -> int:
    """On a worker: sample this process's RSS in a thread until :func:`_stop_sampler`."""
    import psutil

    proc = psutil.Process()
    state = _SAMPLER
    state.update(peak=proc.memory_info().rss, start=proc.memory_info().rss, stop=False)

    def loop() -> None:
        while not state["stop"]:
            state["peak"] = max(state["peak"], proc.memory_info().rss)
            time.sleep(interval)

    state["thread"] = threading.Thread(target=loop, daemon=True)
    state["thread"].start()
    return state["start"]


def _stop_sampler() -> dict[str, int]:
    state = _SAMPLER
    state["stop"] = True
    state["thread"].join()
    return {"start": state["start"], "peak": state["peak"]}


def _one(n_candidates: int, X: Any, y: Any, splits: list, workdir: Path) -> dict[str, Any]:
    import numpy as np
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from daskcloud.search import DaskSearchCV

    grid = {"ridge__alpha": [float(a) for a in np.logspace(0, 4, n_candidates)]}
    est = Pipeline([("scale", StandardScaler()), ("ridge", Ridge())])
    with local_client(2) as client:
        client.run(_start_sampler)
        _start_sampler()  # the driver (this process) too
        t = time.perf_counter()
        search = DaskSearchCV(
            est,
            grid,
            cv=splits,
            refit=False,
            progress=False,
            client=client,
            journal=str(workdir / f"mem-{n_candidates}.sqlite"),
        )
        search.fit(X, y)
        wall = time.perf_counter() - t
        workers = client.run(_stop_sampler)
        driver = _stop_sampler()
    mib = 2**20
    return {
        "n_candidates": n_candidates,
        "n_fits": search.search_stats_["n_fits"],
        "wall_s": wall,
        "workers": {
            f"worker-{i}": {
                "start_mib": w["start"] / mib,
                "peak_mib": w["peak"] / mib,
                "growth_mib": (w["peak"] - w["start"]) / mib,
            }
            for i, w in enumerate(workers.values())
        },
        "driver": {
            "start_mib": driver["start"] / mib,
            "peak_mib": driver["peak"] / mib,
            "growth_mib": (driver["peak"] - driver["start"]) / mib,
        },
    }


def run(quick: bool = True, *, sizes: tuple[int, ...] = (10, 1000)) -> dict[str, Any]:
    from daskcloud.rossmann import TimeSeriesFolds, make_pipeline

    preset, n_stores = ("small", 20) if quick else ("medium", None)
    X, y, _, _ = rossmann_frame(preset, n_stores)
    splits = list(TimeSeriesFolds(3, weeks=6).split(X))
    Xm = make_pipeline()[:2].fit_transform(X, y)
    out: dict[str, Any] = {
        "benchmark": "memory",
        "mode": "quick" if quick else "full",
        "data": {
            "preset": preset,
            "n_stores": n_stores,
            "rows": len(y),
            "matrix_mib": Xm.nbytes / 2**20,
        },
        "grids": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            res = _one(n, Xm, y, splits, Path(tmp))
            peaks = ", ".join(f"{w['peak_mib']:.0f}" for w in res["workers"].values())
            print(f"  memory {n} candidates: worker peaks {peaks} MiB", flush=True)
            out["grids"].append(res)
    first, last = out["grids"][0], out["grids"][-1]
    out["peak_ratio_large_to_small"] = max(w["peak_mib"] for w in last["workers"].values()) / max(
        w["peak_mib"] for w in first["workers"].values()
    )
    return out


def tables(result: dict[str, Any]) -> str:
    rows = []
    for g in result["grids"]:
        for name, w in [*g["workers"].items(), ("driver", g["driver"])]:
            rows.append(
                [
                    g["n_candidates"],
                    g["n_fits"],
                    name,
                    w["start_mib"],
                    w["peak_mib"],
                    w["growth_mib"],
                ]
            )
    head = (
        f"Feature matrix {result['data']['matrix_mib']:.1f} MiB, {result['data']['rows']} rows; "
        f"largest worker peak, 1,000 / 10 candidates = {result['peak_ratio_large_to_small']:.2f}"
    )
    table = md_table(
        ["candidates", "fits", "process", "RSS before (MiB)", "peak RSS (MiB)", "growth (MiB)"],
        rows,
    )
    return head + "\n\n" + table

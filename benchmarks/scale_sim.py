"""Scale, by simulation: 100 workers x 10,000 trials of 60 s (§5). A simulation, not a run.

Inputs are measured by the dispatch benchmark (``results/dispatch.json``):

- ``d``, the central per-trial cost: 1 / daskcloud's trivial trials per second.
  Everything that is serial per trial (driver: strategy, journal, bookkeeping;
  scheduler: one task; the round trip) is inside it, and so is the trivial fit
  itself, so it is an upper bound;
- ``o``, the per-trial overhead on a worker: (workers / daskcloud's rate) --
  the worker-seconds one trivial trial occupied, also an upper bound;
- the plain Dask scheduler's rate (``client.map``, one task per trial) as a second,
  scheduler-only ``d``: daskcloud batches trivial fits into tasks, but a 60 s trial is
  a task of its own; and the sum of both as the most conservative ``d``.

The discrete-event model: one central server hands out trials one at a time,
each taking ``d`` seconds of its time; at most ``2 x workers`` trials are in
flight (the runner's window); a worker runs a trial for ``60 s + o``. The
makespan is compared with the ideal ``10,000 x 60 / 100 = 6,000 s``, and the
worker count beyond which the server, not the workers, limits throughput is
``(60 + o) / d``.

When the measured scale benchmark has run (``results/scale.json``, :mod:`benchmarks.scale`),
a fourth scenario uses its calibrated ``d`` (fitted to the measured 100-slot makespan, ``o``
= 0): the projection from what one machine actually did.
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path
from typing import Any

from benchmarks._common import RESULTS_DIR, md_table

__all__ = ["run", "simulate", "tables"]

GOAL_WITHIN = 0.05


def simulate(n_trials: int, n_workers: int, trial_s: float, d: float, o: float) -> float:
    """Makespan (s) of ``n_trials`` on ``n_workers`` with a serial dispatcher cost ``d``."""
    window = 2 * n_workers
    workers = [0.0] * n_workers  # when each worker is next free
    heapq.heapify(workers)
    server = 0.0
    ends: list[float] = []  # completion times, to open the window
    done_heap: list[float] = []
    last = 0.0
    for i in range(n_trials):
        ready = 0.0
        if i >= window:  # the (i - window)-th completion must be handled first
            ready = heapq.heappop(done_heap)
        server = max(server, ready) + d
        start = max(heapq.heappop(workers), server)
        end = start + trial_s + o
        heapq.heappush(workers, end)
        heapq.heappush(done_heap, end)
        ends.append(end)
        last = max(last, end)
    return last + d  # the last result is handled too


def _inputs(dispatch: dict[str, Any]) -> dict[str, float]:
    s = dispatch["summary"]
    rate = s["daskcloud"]["trials_per_s"]
    n_workers = 2
    return {
        "daskcloud_trials_per_s": rate,
        "dask_tasks_per_s": s.get("dask", {}).get("trials_per_s"),
        "d_daskcloud_s": 1.0 / rate,
        "o_worker_s": n_workers / rate,
    }


def _calibration(scale_result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The calibrated dispatcher cost of the measured scale benchmark, if it has run."""
    if scale_result is None:
        path = RESULTS_DIR / "scale.json"
        if not path.exists():
            return None
        scale_result = json.loads(path.read_text())
    return scale_result.get("calibration") or None


def run(
    quick: bool = True,
    *,
    dispatch_result: dict[str, Any] | None = None,
    n_trials: int = 10_000,
    trial_s: float = 60.0,
    n_workers: int = 100,
    scale_result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Simulate with the dispatch benchmark's measurements (run it first)."""
    if dispatch_result is None:
        path = RESULTS_DIR / "dispatch.json"
        if not Path(path).exists():
            from benchmarks import dispatch

            dispatch_result = dispatch.run(
                quick=True, n=500, n_slow=50, rounds=1, contenders=("daskcloud", "dask")
            )
        else:
            dispatch_result = json.loads(Path(path).read_text())
    inp = _inputs(dispatch_result)
    ideal = n_trials * trial_s / n_workers
    o = inp["o_worker_s"]
    scenarios = {"daskcloud (driver + scheduler)": (inp["d_daskcloud_s"], o)}
    if inp["dask_tasks_per_s"]:
        # a 60 s trial is one task (no batching), so the per-task rate of plain Dask applies
        scenarios["Dask scheduler alone (one task per trial)"] = (1.0 / inp["dask_tasks_per_s"], o)
        scenarios["both in series (most conservative)"] = (
            inp["d_daskcloud_s"] + 1.0 / inp["dask_tasks_per_s"],
            o,
        )
    calibration = _calibration(scale_result)
    if calibration:
        scenarios["calibrated on the measured 100 slots (scale)"] = (
            calibration["d_s"],
            calibration["o_s"],
        )
    out: dict[str, Any] = {
        "benchmark": "scale_sim",
        "mode": "quick" if quick else "full",
        "simulation": True,
        "inputs": inp,
        "n_trials": n_trials,
        "trial_s": trial_s,
        "n_workers": n_workers,
        "ideal_s": ideal,
        "goal_within": GOAL_WITHIN,
        "scenarios": {},
    }
    for name, (d, o) in scenarios.items():
        makespan = simulate(n_trials, n_workers, trial_s, d, o)
        limit = (trial_s + o) / d
        sweep = {}
        for w in sorted({10, 100, 1000, int(limit // 2), int(limit), int(limit * 2)} - {0}):
            n = max(n_trials, 20 * w)  # enough trials that every worker runs many
            sweep[str(w)] = simulate(n, w, trial_s, d, o) / (n * trial_s / w)
        out["scenarios"][name] = {
            "d_s": d,
            "o_s": o,
            "makespan_s": makespan,
            "makespan_over_ideal": makespan / ideal,
            "scheduler_limited_beyond_workers": limit,
            "sweep_makespan_over_ideal": sweep,
        }
    return out


def tables(result: dict[str, Any]) -> str:
    rows = []
    for name, s in result["scenarios"].items():
        rows.append(
            [
                name,
                s["d_s"] * 1e3,
                s.get("o_s", result["inputs"]["o_worker_s"]) * 1e3,
                s["makespan_s"],
                result["ideal_s"],
                s["makespan_over_ideal"],
                f"{s['scheduler_limited_beyond_workers']:,.0f}",
            ]
        )
    head = (
        f"Simulation: {result['n_workers']} workers x {result['n_trials']:,} trials of "
        f"{result['trial_s']:.0f} s, inputs from the dispatch benchmark "
        f"(daskcloud {result['inputs']['daskcloud_trials_per_s']:.0f} trivial trials/s)."
    )
    table = md_table(
        [
            "serial cost from",
            "d per trial (ms)",
            "o per trial on a worker (ms)",
            "makespan (s)",
            "ideal (s)",
            "makespan / ideal",
            "dispatcher-limited beyond (workers)",
        ],
        rows,
    )
    sweeps = []
    for name, s in result["scenarios"].items():
        cells = ", ".join(
            f"{w} workers: {r:.3f}" for w, r in s["sweep_makespan_over_ideal"].items()
        )
        sweeps.append(f"- {name}: makespan / ideal at {cells}")
    return head + "\n\n" + table + "\n\n" + "\n".join(sweeps)

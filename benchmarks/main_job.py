"""The main job, the user's first minute (issue 17 §1): what ``make demo`` runs, timed.

``daskcloud rossmann --preset small --json`` in a fresh process with an empty data cache
(data generation included, installation not), on the default local cluster. Reported:
the wall time of the whole command, the search's own time, candidates and fits, fit
CPU-seconds, the holdout RMSPE of the tuned model against the default model's (goal:
at most 60 s, at least 72 candidates, tuned no worse than the default), and how long after
the first fit started the first candidate had all its folds scored (goal: 10 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks._common import md_table

__all__ = ["GOALS", "run", "tables"]

GOALS = {"wall_s": 60.0, "n_candidates": 72, "first_scored_s": 10.0}
ARGS = {"quick": ["--preset", "small"], "full": ["--preset", "medium"]}


def run(quick: bool = True, *, job_args: list[str] | None = None) -> dict[str, Any]:
    """Run the job once in a subprocess; read its JSON line and its journal.

    ``job_args``: other options of ``daskcloud rossmann`` instead of the preset's (the
    smoke test runs ``--quick``).
    """
    mode = "quick" if quick else "full"
    args = ARGS[mode] if job_args is None else job_args
    with tempfile.TemporaryDirectory(prefix="daskcloud-bench-main-") as tmp:
        out = Path(tmp) / "run"
        env = {**os.environ, "DASKCLOUD_CACHE": str(Path(tmp) / "cache")}
        cmd = [sys.executable, "-c", "from daskcloud.cli import main; main()", "rossmann",
               *args, "--out", str(out), "--json"]  # fmt: skip
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"exit {done.returncode}: {done.stderr.strip()[-2000:]}")
        result = json.loads(done.stdout)
        summary = json.loads((out / "summary.json").read_text())
        first = _first_scored_s(out / "journal.sqlite", summary["n_splits"])
    holdout = result["holdout_rmspe"]
    return {
        "benchmark": "main_job",
        "mode": mode,
        "command": "daskcloud rossmann " + " ".join(args) + " --json",
        "goals": GOALS,
        "wall_s": wall,
        "search_s": summary["search_s"],
        "timings": summary.get("timings"),
        "n_candidates": result["n_candidates"],
        "n_fits": result["n_fits"],
        "n_fits_continued": summary.get("n_fits_continued"),
        "fit_cpu_s": result["fit_cpu_s"],
        "n_workers": summary.get("n_workers"),
        "first_scored_s": first,
        "holdout_rmspe": holdout,
        "tuned_over_default": holdout["tuned"] / holdout["default"],
        "best_params": result["best_params"],
    }


def _first_scored_s(journal_path: Path, n_splits: int) -> float | None:
    """Seconds from the first fit's start to the first candidate with every fold scored."""
    from daskcloud.search import Journal

    with Journal(journal_path) as journal:
        rows = journal.read()
    if not rows:
        return None
    start = min(r.start for r in rows if r.start is not None)
    ends: dict[Any, list[float]] = defaultdict(list)
    for r in rows:
        if r.status == "ok" and r.end is not None:
            ends[(r.trial, r.resource)].append(r.end)
    scored = [max(e) for e in ends.values() if len(e) == n_splits]
    return min(scored) - start if scored else None


def tables(result: dict[str, Any]) -> str:
    h = result["holdout_rmspe"]
    first = result.get("first_scored_s")
    return md_table(
        ["wall s (goal <= 60)", "search s", "candidates (goal >= 72)", "fits", "fit CPU s",
         "first candidate scored after s (goal <= 10)", "holdout RMSPE tuned / default",
         "baseline", "oracle"],
        [[f"{result['wall_s']:.1f}", f"{result['search_s']:.1f}", result["n_candidates"],
          result["n_fits"], f"{result['fit_cpu_s']:.1f}",
          "—" if first is None else f"{first:.1f}",
          f"{h['tuned']:.4f} / {h['default']:.4f} = {result['tuned_over_default']:.3f}",
          f"{h['baseline']:.4f}", "—" if h.get("oracle") is None else f"{h['oracle']:.4f}"]],
    )  # fmt: skip

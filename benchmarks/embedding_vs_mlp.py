"""Tuned entity-embedding network against the tuned scikit-learn MLP, holdout RMSPE (issue 8 §3).

Both models are tuned by grid search over their default spaces with the same
time-series CV (3 folds of 6 weeks) on the train part of a synthetic preset,
refit on the whole train part, and scored on the 6-week holdout, next to the
median baseline and the oracle (the generator's truth.csv). The two searches
run at the same time in two processes: the MLP on CPU cores, the network on
the GPU when there is one.

Run::

    python -m benchmarks.embedding_vs_mlp --preset medium --mlp-jobs 12 --net-jobs 4
    python -m benchmarks.embedding_vs_mlp --quick          # small preset, tiny grids

scikit-learn's GridSearchCV is used (not DaskSearchCV) so the comparison runs
wherever scikit-learn and torch do; the engine is not what is measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QUICK_MLP = {"mlp__hidden_layer_sizes": [(32,)], "mlp__alpha": [1e-4, 1e-2], "mlp__max_iter": [5]}
QUICK_NET = {"net__learning_rate_init": [1e-3, 3e-3], "net__max_epochs": [2]}
# --small-grid: 4 candidates each, the two most influential axes of each default space
SMALL_MLP = {"mlp__alpha": [1e-4, 1e-2], "mlp__learning_rate_init": [1e-3, 3e-3]}
SMALL_NET = {"net__learning_rate_init": [1e-3, 3e-3], "net__dropout": [0.0, 0.1]}


def _frames(data_dir: Path) -> dict[str, Any]:
    from daskcloud.rossmann.features import split_xy
    from daskcloud.rossmann.io import load_rossmann
    from daskcloud.rossmann.job import oracle_predictions
    from daskcloud.rossmann.splits import holdout_split

    data = load_rossmann(data_dir)
    train, holdout = holdout_split(data.train, 6)
    X, y = split_xy(train)
    X_ho, y_ho = split_xy(holdout)
    oracle = None if data.truth is None else oracle_predictions(holdout, data.truth)
    return {"X": X, "y": y, "X_ho": X_ho, "y_ho": y_ho, "oracle": oracle}


def _search(
    model: str,
    data_dir: Path,
    n_jobs: int,
    device: str,
    quick: bool,
    small: bool,
    folds: int,
    out: Path | None = None,
) -> dict[str, Any]:
    """Grid-search one model, refit, score on the holdout; ``out`` gets partial results early."""
    from sklearn.model_selection import GridSearchCV

    from daskcloud.rossmann.metric import rmspe, rmspe_scorer
    from daskcloud.rossmann.splits import TimeSeriesFolds

    f = _frames(data_dir)
    if model == "mlp":
        from daskcloud.rossmann.model import default_search_space, make_pipeline

        make, space, base = make_pipeline, default_search_space(), {}
        space = QUICK_MLP if quick else SMALL_MLP if small else space
    else:
        from daskcloud.rossmann.embedding import default_embedding_space, make_embedding_pipeline

        make, space = make_embedding_pipeline, default_embedding_space()
        base = {"net__device": device}
        space = QUICK_NET if quick else SMALL_NET if small else space
    started = time.perf_counter()
    default = make(**base).fit(f["X"], f["y"])
    default_s = time.perf_counter() - started
    partial = {"model": model, "default_rmspe": rmspe(f["y_ho"], default.predict(f["X_ho"])),
               "default_fit_s": default_s, "search": "running"}  # fmt: skip
    if out:  # the default model's score survives a search that runs out of time
        out.write_text(json.dumps(partial))
    search = GridSearchCV(
        make(**base),
        space,
        cv=TimeSeriesFolds(2 if quick else folds, weeks=6),
        scoring=rmspe_scorer,
        n_jobs=n_jobs,
        error_score="raise",
    )
    started = time.perf_counter()
    search.fit(f["X"], f["y"])
    search_s = time.perf_counter() - started
    out = {
        "model": model,
        "default_rmspe": partial["default_rmspe"],
        "tuned_rmspe": rmspe(f["y_ho"], search.best_estimator_.predict(f["X_ho"])),
        "best_cv_rmspe": -float(search.best_score_),
        "best_params": {k: repr(v) for k, v in search.best_params_.items()},
        "n_candidates": len(search.cv_results_["params"]),
        "default_fit_s": default_s,
        "search_s": search_s,
        "n_jobs": n_jobs,
        "n_folds": search.n_splits_,
    }
    if model == "embedding":
        out["device"] = search.best_estimator_.named_steps["net"].device_
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mlp-jobs", type=int, default=2)
    parser.add_argument("--net-jobs", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="small preset, tiny grids")
    parser.add_argument("--small-grid", action="store_true", help="4 candidates per model")
    parser.add_argument("--folds", type=int, default=3, help="time-series CV folds")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    parser.add_argument("--only", choices=("mlp", "embedding"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.only:  # a child: one search, JSON on stdout
        jobs = args.mlp_jobs if args.only == "mlp" else args.net_jobs
        result = _search(
            args.only,
            args.data,
            jobs,
            args.device,
            args.quick,
            args.small_grid,
            args.folds,
            out=args.out,
        )
        text = json.dumps(result)
        if args.out:  # written as soon as this search ends, whatever happens to the other
            args.out.write_text(text)
        print(text)
        return 0

    from daskcloud.rossmann.baseline import MedianBaseline
    from daskcloud.rossmann.generate import generate
    from daskcloud.rossmann.metric import rmspe

    preset = "small" if args.quick else args.preset
    data_dir = generate(preset, seed=args.seed, out_dir=Path(tempfile.mkdtemp()) / preset)
    f = _frames(data_dir)
    result: dict[str, Any] = {"preset": preset, "seed": args.seed, "rows_train": len(f["X"])}
    result["baseline_rmspe"] = rmspe(
        f["y_ho"], MedianBaseline().fit(f["X"], f["y"]).predict(f["X_ho"])
    )
    result["oracle_rmspe"] = None if f["oracle"] is None else rmspe(f["y_ho"], f["oracle"])
    common = [
        sys.executable,
        "-m",
        "benchmarks.embedding_vs_mlp",
        "--data",
        str(data_dir),
        "--mlp-jobs",
        str(args.mlp_jobs),
        "--net-jobs",
        str(args.net_jobs),
        "--device",
        args.device,
        "--folds",
        str(args.folds),
    ]
    common += ["--quick"] if args.quick else []
    common += ["--small-grid"] if args.small_grid else []
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    started = time.perf_counter()
    children = {
        m: subprocess.Popen(
            [*common, "--only", m, *(["--out", f"{args.out}.{m}"] if args.out else [])],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for m in ("mlp", "embedding")
    }
    for name, proc in children.items():
        stdout, _ = proc.communicate()
        result[name] = (
            json.loads(stdout.strip().splitlines()[-1])
            if proc.returncode == 0
            else {"error": f"exit {proc.returncode}"}
        )
    result["wall_s"] = time.perf_counter() - started
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What every benchmark shares: interleaved runs, the machine, JSON results, ratio tables.

Absolute times on a shared machine drift, so contenders run interleaved
(A B C, A B C, ...) and are compared by the ratio of their medians. Every
result records the machine (cores, memory, versions) and the load average
before and after, so a reader can judge how noisy the run was.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_DIR",
    "cpu_seconds_of_workers",
    "interleave",
    "load_average",
    "local_client",
    "machine",
    "md_table",
    "median",
    "rossmann_frame",
    "timed",
    "write_result",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_PACKAGES = (
    "daskcloud",
    "dask",
    "distributed",
    "scikit-learn",
    "dask-ml",
    "joblib",
    "optuna",
    "numpy",
    "pandas",
    "psutil",
)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (other processes share the cores)."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, Python and package versions."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    memory = None
    with contextlib.suppress(ImportError):
        import psutil

        memory = round(psutil.virtual_memory().total / 2**30, 1)
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    return {
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory_gib": memory,
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


@contextlib.contextmanager
def timed() -> Iterator[dict[str, float]]:
    """Measure wall and this process's CPU seconds of a block into the yielded dict."""
    out: dict[str, float] = {}
    t, c = time.perf_counter(), time.process_time()
    try:
        yield out
    finally:
        out["wall_s"] = time.perf_counter() - t
        out["driver_cpu_s"] = time.process_time() - c


def interleave(
    contenders: Mapping[str, Callable[[], dict[str, Any]]], rounds: int
) -> dict[str, list[dict[str, Any]]]:
    """Run every contender once per round, in turn (A B C A B C ...); collect their results.

    A contender returns a dict (at least ``wall_s``), or raises: the error is
    recorded as ``{"error": "..."}`` and the contender is not run again.
    """
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
    failed: set[str] = set()
    for r in range(rounds):
        for name, fn in contenders.items():
            if name in failed:
                continue
            load = os.getloadavg()[0]
            try:
                out = dict(fn())
            except Exception as e:  # a benchmark reports; it never stops on one contender
                out = {"error": f"{type(e).__name__}: {e}"[:500]}
                failed.add(name)
            out.update(round=r, load_1m=round(load, 2))
            runs[name].append(out)
            print(
                f"  [{r + 1}/{rounds}] {name}: "
                + (out["error"] if "error" in out else f"{out.get('wall_s', 0):.2f} s"),
                flush=True,
            )
    return runs


@contextlib.contextmanager
def local_client(n_workers: int = 2, threads_per_worker: int = 1) -> Iterator[Any]:
    """A LocalCluster of ``n_workers`` processes (1 thread each by default) and its Client."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            dashboard_address=":0",
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_warm_up)  # imports on the workers are not part of any contender's time
        yield client


def _warm_up() -> None:
    import sklearn.dummy
    import sklearn.model_selection
    import sklearn.neural_network  # noqa: F401

    import daskcloud.rossmann
    import daskcloud.search._fit  # noqa: F401


def cpu_seconds_of_workers(client: Any) -> float:
    """Total CPU seconds (user + system) used so far by the client's worker processes."""

    def _cpu() -> float:
        import psutil

        t = psutil.Process().cpu_times()
        return t.user + t.system

    return float(sum(client.run(_cpu).values()))


def rossmann_frame(preset: str, n_stores: int | None = None) -> tuple[Any, Any, Any, Any]:
    """``(X, y, X_holdout, y_holdout)`` of the synthetic Rossmann preset, maybe fewer stores.

    The preset is generated once into daskcloud's cache (seconds the second time).
    """
    from daskcloud.rossmann import holdout_split, load_rossmann, split_xy
    from daskcloud.rossmann.job import preset_data_dir

    train = load_rossmann(preset_data_dir(preset)).train
    if n_stores is not None:
        keep = sorted(train["Store"].unique())[:n_stores]
        train = train.loc[train["Store"].isin(keep)]
    train = train.reset_index(drop=True)
    fit_part, holdout = holdout_split(train, 6)
    X, y = split_xy(fit_part.reset_index(drop=True))
    X_hold, y_hold = split_xy(holdout.reset_index(drop=True))
    return X, y, X_hold, y_hold


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; floats get 3 significant digits."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "—" if v != v else f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return "—" if v is None else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, payload: Mapping[str, Any], results_dir: Path | None = None) -> Path:
    """Write ``<results_dir>/<name>.json`` atomically (temp file, then rename)."""
    out_dir = Path(results_dir) if results_dir is not None else RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".json", dir=out_dir)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=1, default=_json_default)
            f.write("\n")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)

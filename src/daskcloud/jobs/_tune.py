"""``daskcloud tune SPEC.toml``: validate the spec, load the data, search, write the run."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from daskcloud.exceptions import ConfigError, DataError
from daskcloud.jobs._run import (
    SearchOptions,
    TuneResult,
    check_where,
    open_client,
    resolve_run_dir,
    search,
)
from daskcloud.report import write_report
from daskcloud.search._budget import resolve_budget
from daskcloud.search._deadline import resolve_fit_timeout
from daskcloud.search.results import default_run_dir
from daskcloud.search.spec import DataSpec, TuneJob, check_spec, load_spec
from daskcloud.tracking import resolve_logger

__all__ = ["load_table", "run_tune"]


def load_table(data: DataSpec) -> tuple[Any, Any]:
    """``(X, y)`` from the spec's CSV/Parquet file, or the Rossmann train part (holdout removed)."""
    import pandas as pd

    if data.rossmann is not None:
        from daskcloud.jobs._rossmann import rossmann_frames

        frames = rossmann_frames(
            data_dir=data.rossmann.data_dir,
            preset=data.rossmann.preset,
            seed=data.rossmann.seed,
            holdout_weeks=data.rossmann.holdout_weeks,
        )
        return frames.X_train, frames.y_train
    path = data.path
    assert path is not None and data.target is not None  # DataSpec guarantees it
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError) as e:
        raise DataError(f"data.path: cannot read {str(path)!r}: {e}") from e
    if frame.empty:
        raise DataError(f"data.path: {str(path)!r} has no rows")
    return frame.drop(columns=[data.target]), frame[data.target]


def run_tune(
    spec_path: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    out: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    cluster: str | None = None,
    namespace: str | None = None,
    security: Any = None,
    max_trials: int | None = None,
    max_time: float | str | None = None,
    max_cost: float | None = None,
    fit_timeout: float | str | None = None,
    mlflow: Any = None,
) -> TuneResult:
    """Run the search a spec file describes; the spec is fully checked before any cluster starts.

    Args:
        spec_path: the TOML spec (``docs/spec.md``).
        scheduler: address of a running Dask scheduler; default: a local cluster.
        cluster, namespace: a daskcloud cluster by name (``daskcloud cluster up``) instead.
        security: a ``distributed.security.Security`` for a ``tls://`` scheduler.
        workers: worker processes of the local cluster (default: one per core).
        out: run directory (default ``runs/<timestamp>-<name>``); with ``resume`` a rerun
            into the same directory skips every fit its journal already holds.
        progress: show the search's progress bar (on stderr).
        max_trials, max_time, max_cost: override the spec's ``[budget]`` (``max_time`` in
            seconds or a duration such as ``"10m"``).
        fit_timeout: override the spec's ``fit_timeout`` (seconds or a duration): a fit
            running longer is scored ``error_score`` and its worker restarted.
        mlflow: log to MLflow (``True``, a tracking URI or a
            :class:`daskcloud.tracking.MlflowLogger`); the extra ``daskcloud[mlflow]``.

    Raises:
        ConfigError, DataError: a bad spec or missing data (before anything runs).
    """
    check_where(scheduler, workers, cluster)
    job: TuneJob = check_spec(load_spec(spec_path), where=spec_path)
    budget = resolve_budget(job.budget, max_trials=max_trials, max_time=max_time, max_cost=max_cost)
    if fit_timeout is not None:
        fit_timeout = resolve_fit_timeout(fit_timeout)
    X, y = load_table(job.spec.data)
    spec = job.spec
    options = SearchOptions(
        strategy=job.strategy,
        strategy_options=job.strategy_options,
        n_candidates=spec.n_candidates,
        scoring=job.scoring,
        refit=job.refit,
        error_score=spec.error_score,
        return_train_score=spec.return_train_score,
        seed=spec.seed,
        budget=budget,
        fit_timeout=spec.fit_timeout if fit_timeout is None else fit_timeout,
    )
    tracker = resolve_logger(mlflow)
    run_dir = resolve_run_dir(out, job.name)
    # the search opens the cluster once it has checked the splitter and dry-fitted its data
    connect = functools.partial(
        open_client, scheduler, workers, cluster=cluster, namespace=namespace, security=security
    )
    result = search(
        job.estimator,
        job.space,
        X,
        y,
        cv=job.cv,
        options=options,
        run_dir=run_dir,
        client=connect,
        resume=resume,
        progress=progress,
        name=job.name,
        extra={"spec": spec.model_dump(mode="json"), "spec_file": str(spec_path)},
        tracker=tracker,
    )
    write_report(run_dir)
    if tracker is not None:
        tracker.finish(run_dir)
    return result


def detach_tune(
    spec_path: str | Path,
    *,
    cluster: str | None,
    namespace: str | None = None,
    resume: bool = True,
    max_trials: int | None = None,
    max_time: float | str | None = None,
    max_cost: float | None = None,
    out: str | Path | None = None,
    fit_timeout: float | str | None = None,
) -> str:
    """Start ``daskcloud tune`` as a Job inside Kubernetes cluster ``cluster`` (``--detach``),
    or as a batch job of Slurm cluster ``cluster`` (see :func:`_detach_slurm`).

    The spec is checked here first, so a bad one fails on the laptop. In the pod, the spec is
    mounted from a ConfigMap and the run directory (journal included) lives on a
    PersistentVolumeClaim that ``cluster down`` keeps; the data the spec names must be
    readable from the pod (a path in the image or on the volume, or a URL pandas reads).
    Unverified against a real cluster. Budget flags are checked here and passed on.

    Returns:
        the name of the driver Job (``daskcloud cluster logs NAME --driver`` follows it).
    """
    from daskcloud.cluster._state import load_record
    from daskcloud.cluster.kubernetes._detach import JOURNAL_MOUNT, SPEC_MOUNT
    from daskcloud.cluster.kubernetes._lifecycle import kube_api, submit_driver

    if cluster is None:
        raise ConfigError("--detach runs the search inside a daskcloud cluster; add --cluster NAME")
    job: TuneJob = check_spec(load_spec(spec_path), where=spec_path)
    flags = {"--max-trials": max_trials, "--max-time": max_time, "--max-cost": max_cost,
             "--fit-timeout": fit_timeout}  # fmt: skip
    given = {flag: value for flag, value in flags.items() if value is not None}
    resolve_budget(job.budget, max_trials=max_trials, max_time=max_time, max_cost=max_cost)
    if fit_timeout is not None:
        resolve_fit_timeout(fit_timeout)
    budget_args = [part for flag, value in given.items() for part in (flag, str(value))]
    path = Path(spec_path)
    if load_record("slurm", cluster) is not None:
        return _detach_slurm(cluster, path, job.name, out, resume, budget_args)
    api = kube_api(namespace=namespace)
    ns = namespace or api.namespace or "default"
    args = [
        "tune",
        f"{SPEC_MOUNT}/{path.name}",
        "--out",
        f"{JOURNAL_MOUNT}/{job.name}",
        # Kubernetes expands $(VAR) in args from the container's environment
        "--scheduler",
        "$(DASK_SCHEDULER_ADDRESS)",
        "--resume" if resume else "--no-resume",
        *budget_args,
    ]
    return submit_driver(cluster, ns, args=args, spec_file=(path.name, path.read_text()), api=api)


def _detach_slurm(
    cluster: str, spec: Path, name: str, out: str | Path | None, resume: bool, budget: list[str]
) -> str:
    """``tune SPEC --cluster NAME`` as a batch job of a Slurm cluster; returns the job id.

    On Slurm the spec, its data and the run directory are on the shared filesystem, so the job
    reads them in place: the run directory (``--out``, default ``runs/<timestamp>-<name>``
    here) is made absolute now, so its journal is where this command says.
    """
    from daskcloud.cluster.slurm._lifecycle import submit_driver as submit_slurm_driver

    run_dir = Path(out) if out is not None else default_run_dir(name)
    argv = ["tune", str(spec.resolve()), "--cluster", cluster, "--out", str(run_dir.resolve())]
    argv += ["--resume" if resume else "--no-resume", *budget]
    return submit_slurm_driver(cluster, argv, cwd=Path.cwd())

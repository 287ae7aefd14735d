"""The ``daskcloud tune`` command, and what every search command shares: parse, call, print.

The options that say where a search runs and what bounds it (``--scheduler``, ``--cluster``,
``--workers``, the TLS files, the budget, ``--json``...) are declared once here, as are
`where_to_run` (those options as ``run_tune``/``run_rossmann`` keywords) and
:func:`print_search` (a search's result on the terminal); :mod:`daskcloud._cli_rossmann` uses
them too. :mod:`daskcloud.cli` registers the commands.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import typer
from rich.console import Console

__all__ = [
    "CLUSTER",
    "CLUSTER_NAMESPACE",
    "INSTALL_MISSING",
    "JSON",
    "MAX_COST",
    "MAX_TIME",
    "MAX_TRIALS",
    "MLFLOW",
    "RESUME",
    "SCHEDULER",
    "TLS_CA",
    "TLS_CERT",
    "TLS_KEY",
    "WORKERS",
    "install_missing_config",
    "print_search",
    "stdout_to_stderr",
    "tune",
    "where_to_run",
]

console = Console()
err_console = Console(stderr=True)


# --- where a search runs: options shared by `rossmann` and `tune` ------------------------------

SCHEDULER = typer.Option(
    None, "--scheduler", help="Address of a running Dask scheduler (tcp://HOST:8786)."
)
WORKERS = typer.Option(
    None, "--workers", min=1, help="Local cluster worker processes (default: one per core)."
)
RESUME = typer.Option(
    True, "--resume/--no-resume", help="Skip fits already in the run directory's journal."
)
JSON = typer.Option(False, "--json", help="Print one JSON object on stdout.")
MLFLOW = typer.Option(
    False,
    "--mlflow",
    help="Log the search to MLflow ($MLFLOW_TRACKING_URI, $MLFLOW_EXPERIMENT_NAME; "
    "pip install 'daskcloud[mlflow]').",
)
CLUSTER = typer.Option(
    None, "--cluster", help="Run on a daskcloud cluster by name (`daskcloud cluster up`)."
)
CLUSTER_NAMESPACE = typer.Option(
    None, "--namespace", help="Kubernetes namespace of --cluster (default: the kube context's)."
)
TLS_CA = typer.Option(None, "--tls-ca-file", help="CA certificate of a tls:// --scheduler.")
TLS_CERT = typer.Option(None, "--tls-cert", help="Client certificate for a tls:// --scheduler.")
TLS_KEY = typer.Option(None, "--tls-key", help="Client key for a tls:// --scheduler.")
INSTALL_MISSING = typer.Option(
    False,
    "--install-missing",
    help="On a cluster daskcloud did not create (--scheduler): pip-install the packages its "
    "scheduler and workers lack, or hold at other versions, at this machine's versions "
    "(opt-in: it changes their environment; dask config daskcloud.packages.install-missing).",
)
MAX_TRIALS = typer.Option(None, "--max-trials", min=1, help="Budget: stop after N trials.")
MAX_TIME = typer.Option(
    None, "--max-time", help="Budget: stop after this long, e.g. 30s, 10m, 2h or 1h30m."
)
MAX_COST = typer.Option(
    None, "--max-cost", help="Budget: stop at this cost (the cluster's price per hour)."
)
FIT_TIMEOUT = typer.Option(
    None,
    "--fit-timeout",
    help="Give up a fit running longer than this (e.g. 90s, 10m): it scores error_score and "
    "its worker is restarted; overrides the spec's fit_timeout.",
)


def install_missing_config(install: bool) -> contextlib.AbstractContextManager[object]:
    """``--install-missing`` as the dask config key the engine reads (``False``: as configured)."""
    import dask.config

    if not install:
        return contextlib.nullcontext()
    return dask.config.set({"daskcloud.packages.install-missing": True})


def where_to_run(
    cluster: str | None,
    namespace: str | None,
    tls: tuple[Path | None, Path | None, Path | None],
) -> dict[str, object]:
    """The keyword arguments of ``run_tune``/``run_rossmann`` that say where to run."""
    from daskcloud.cluster import tls_security

    ca, cert, key = (None if p is None else str(p) for p in tls)
    return {"cluster": cluster, "namespace": namespace, "security": tls_security(ca, cert, key)}


def stdout_to_stderr(as_json: bool) -> contextlib.AbstractContextManager[object]:
    """With ``--json``, progress and anything else printed goes to stderr; stdout gets the JSON."""
    return contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()


def print_search(result: object, as_json: bool) -> None:
    """``--json``: one JSON object on stdout, the leaderboard on stderr; else a human report."""
    import json

    if as_json:
        err_console.print(result.leaderboard())  # type: ignore[attr-defined]
        typer.echo(json.dumps(result.to_json(), allow_nan=False))  # type: ignore[attr-defined]
        return
    console.print(result.leaderboard())  # type: ignore[attr-defined]
    summary = result.summary  # type: ignore[attr-defined]
    best = summary.get("best_metric")
    console.print(
        f"{summary['n_fits']} fits ({summary['n_fits_skipped']} from the journal) "
        f"in {summary.get('wall_s') or 0:.1f} s"
        + ("" if best is None else f"; best {best['name']} {best['value']:.5g}")
    )
    if summary.get("stop_reason"):
        console.print(summary["stop_reason"], highlight=False, soft_wrap=True)
    console.print(f"run directory: {summary['run_dir']}", highlight=False, soft_wrap=True)


def tune(
    spec: Path = typer.Argument(..., help="TOML spec file (see docs/spec.md)."),
    scheduler: str | None = SCHEDULER,
    cluster: str | None = CLUSTER,
    namespace: str | None = CLUSTER_NAMESPACE,
    tls_ca_file: Path | None = TLS_CA,
    tls_cert: Path | None = TLS_CERT,
    tls_key: Path | None = TLS_KEY,
    detach: bool = typer.Option(
        False,
        "--detach",
        help="With --cluster: run the search driver in the cluster (a Kubernetes Job with its "
        "journal on a volume, or a Slurm batch job writing --out on the shared filesystem).",
    ),
    workers: int | None = WORKERS,
    out: Path | None = typer.Option(
        None, "--out", help="Run directory (default: runs/<timestamp>-<name>)."
    ),
    resume: bool = RESUME,
    max_trials: int | None = MAX_TRIALS,
    max_time: str | None = MAX_TIME,
    max_cost: float | None = MAX_COST,
    fit_timeout: str | None = FIT_TIMEOUT,
    mlflow: bool = MLFLOW,
    install_missing: bool = INSTALL_MISSING,
    as_json: bool = JSON,
) -> None:
    """Run the hyperparameter search a TOML spec describes; write results to a run directory."""
    from daskcloud.jobs import run_tune

    if detach and install_missing:
        from daskcloud.exceptions import ConfigError

        raise ConfigError(
            "--install-missing is for a search driven from here on a cluster daskcloud did not "
            "create; a --detach driver runs on a daskcloud cluster, whose pods install the "
            "pinned packages when they start: drop --install-missing"
        )
    if detach:
        from daskcloud.jobs import detach_tune

        driver = detach_tune(
            spec, cluster=cluster, namespace=namespace, resume=resume,
            max_trials=max_trials, max_time=max_time, max_cost=max_cost, out=out,
            fit_timeout=fit_timeout,
        )  # fmt: skip
        console.print(
            f"driver job {driver} started in cluster {cluster}; follow it with "
            f"`daskcloud cluster logs {cluster} --driver`",
            highlight=False,
            soft_wrap=True,
        )
        return
    where = where_to_run(cluster, namespace, (tls_ca_file, tls_cert, tls_key))
    with stdout_to_stderr(as_json), install_missing_config(install_missing):
        result = run_tune(
            spec, scheduler=scheduler, workers=workers, out=out, resume=resume,
            max_trials=max_trials, max_time=max_time, max_cost=max_cost, mlflow=mlflow,
            fit_timeout=fit_timeout, **where,
        )  # fmt: skip
    print_search(result, as_json)

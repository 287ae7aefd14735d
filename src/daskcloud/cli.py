"""The ``daskcloud`` command line: parse, call the library, print.

No logic lives here. Each command converts its options, calls one library
function and renders the result. Errors derived from
:class:`~daskcloud.exceptions.DaskcloudError` become one line on stderr and
exit code 2 (bad input) or 1 (runtime failure); never a traceback.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

import typer
from rich.console import Console

from daskcloud._cli_tools import cloud_app, config, export_app, image_app, report
from daskcloud._version import __version__
from daskcloud.exceptions import DaskcloudError, Interrupted

app = typer.Typer(
    name="daskcloud",
    help="Distributed, journaled hyperparameter search on Dask: local, a scheduler, or Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console()
err_console = Console(stderr=True)


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"daskcloud {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Distributed, journaled hyperparameter search on Dask."""


# --- command groups -------------------------------------------------------------------------
# Each group lives in this one file, a few lines per command; the work is done by the library.

data_app = typer.Typer(help="Generate and validate Rossmann data.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("generate")
def data_generate(
    preset: str = typer.Option(
        "small", "--preset", help="small (50 stores), medium (250) or full (the real 1,115)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same bytes."),
    out: Path = typer.Option(Path("data"), "--out", help="Directory to write the CSVs to."),
) -> None:
    """Write synthetic Rossmann data (train, test, store, sample_submission, truth CSVs)."""
    from daskcloud.rossmann import generate

    path = generate(preset=preset, seed=seed, out_dir=out)
    console.print(f"wrote {preset} preset (seed {seed}) to {path}", highlight=False)


@data_app.command("validate")
def data_validate(
    data_dir: Path = typer.Argument(..., help="Directory with train.csv, store.csv, test.csv."),
) -> None:
    """Check columns, dtypes and value domains; one line per problem, exit code 2 if any."""
    from daskcloud.exceptions import DataError
    from daskcloud.rossmann import validate_dir

    report = validate_dir(data_dir)
    for line in report.lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if not report.ok:
        raise DataError(f"{data_dir}: {len(report.problems)} problem(s); fix the lines above")


# --- where a search runs: options shared by `rossmann` and `tune` ------------------------------

_SCHEDULER = typer.Option(
    None, "--scheduler", help="Address of a running Dask scheduler (tcp://HOST:8786)."
)
_WORKERS = typer.Option(
    None, "--workers", min=1, help="Local cluster worker processes (default: one per core)."
)
_RESUME = typer.Option(
    True, "--resume/--no-resume", help="Skip fits already in the run directory's journal."
)
_JSON = typer.Option(False, "--json", help="Print one JSON object on stdout.")
_MLFLOW = typer.Option(
    False,
    "--mlflow",
    help="Log the search to MLflow ($MLFLOW_TRACKING_URI, $MLFLOW_EXPERIMENT_NAME; "
    "pip install 'daskcloud[mlflow]').",
)
_CLUSTER = typer.Option(
    None, "--cluster", help="Run on a daskcloud cluster by name (`daskcloud cluster up`)."
)
_CLUSTER_NAMESPACE = typer.Option(
    None, "--namespace", help="Kubernetes namespace of --cluster (default: the kube context's)."
)
_TLS_CA = typer.Option(None, "--tls-ca-file", help="CA certificate of a tls:// --scheduler.")
_TLS_CERT = typer.Option(None, "--tls-cert", help="Client certificate for a tls:// --scheduler.")
_TLS_KEY = typer.Option(None, "--tls-key", help="Client key for a tls:// --scheduler.")
_INSTALL_MISSING = typer.Option(
    False,
    "--install-missing",
    help="On a cluster daskcloud did not create (--scheduler): pip-install the packages its "
    "scheduler and workers lack, or hold at other versions, at this machine's versions "
    "(opt-in: it changes their environment; dask config daskcloud.packages.install-missing).",
)
_MAX_TRIALS = typer.Option(None, "--max-trials", min=1, help="Budget: stop after N trials.")
_MAX_TIME = typer.Option(
    None, "--max-time", help="Budget: stop after this long, e.g. 30s, 10m, 2h or 1h30m."
)
_MAX_COST = typer.Option(
    None, "--max-cost", help="Budget: stop at this cost (the cluster's price per hour)."
)
_FIT_TIMEOUT = typer.Option(
    None,
    "--fit-timeout",
    help="Give up a fit running longer than this (e.g. 90s, 10m): it scores error_score and "
    "its worker is restarted; overrides the spec's fit_timeout.",
)


def _install_missing(install: bool) -> contextlib.AbstractContextManager[object]:
    """``--install-missing`` as the dask config key the engine reads (``False``: as configured)."""
    import dask.config

    if not install:
        return contextlib.nullcontext()
    return dask.config.set({"daskcloud.packages.install-missing": True})


def _where(
    cluster: str | None,
    namespace: str | None,
    tls: tuple[Path | None, Path | None, Path | None],
) -> dict[str, object]:
    """The keyword arguments of ``run_tune``/``run_rossmann`` that say where to run."""
    from daskcloud.cluster import tls_security

    ca, cert, key = (None if p is None else str(p) for p in tls)
    return {"cluster": cluster, "namespace": namespace, "security": tls_security(ca, cert, key)}


# --- rossmann: the flagship example -----------------------------------------------------------

rossmann_app = typer.Typer(help="The Rossmann Store Sales example: baselines and the MLP search.")
app.add_typer(rossmann_app, name="rossmann", invoke_without_command=True)


@rossmann_app.callback(invoke_without_command=True)
def _rossmann(
    ctx: typer.Context,
    data: Path | None = typer.Option(
        None, "--data", help="Directory with the Kaggle files (default: synthetic data)."
    ),
    preset: str | None = typer.Option(
        None, "--preset", help="Synthetic data preset: small (default), medium or full."
    ),
    model: str = typer.Option(
        "mlp", "--model", help="mlp (scikit-learn) or embedding (PyTorch; the torch extra)."
    ),
    strategy: str = typer.Option(
        "halving",
        "--strategy",
        help="halving (72 candidates, successive halving over training rows), grid (all of "
        "them on all rows), random or tpe (Optuna).",
    ),
    n_candidates: int | None = typer.Option(
        None, "--n-candidates", min=1, help="random/tpe: number of candidates (24)."
    ),
    workers: int | None = _WORKERS,
    scheduler: str | None = _SCHEDULER,
    cluster: str | None = _CLUSTER,
    namespace: str | None = _CLUSTER_NAMESPACE,
    tls_ca_file: Path | None = _TLS_CA,
    tls_cert: Path | None = _TLS_CERT,
    tls_key: Path | None = _TLS_KEY,
    out: Path | None = typer.Option(
        None, "--out", help="Run directory (default: runs/<timestamp>-rossmann-<preset>)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic data and the sampling."),
    resume: bool = _RESUME,
    quick: bool = typer.Option(
        False, "--quick", help="Smoke test: 2 small candidates, 2 folds (seconds, not minutes)."
    ),
    max_trials: int | None = _MAX_TRIALS,
    max_time: str | None = _MAX_TIME,
    max_cost: float | None = _MAX_COST,
    mlflow: bool = _MLFLOW,
    install_missing: bool = _INSTALL_MISSING,
    as_json: bool = _JSON,
) -> None:
    """The main job: tune the MLP pipeline on (synthetic) Rossmann data; score it on a holdout."""
    if ctx.invoked_subcommand is not None:
        return
    from daskcloud.jobs import run_rossmann

    with _stdout_to_stderr(as_json), _install_missing(install_missing):
        result = run_rossmann(
            data_dir=data,
            preset=preset,
            strategy=strategy,
            n_candidates=n_candidates,
            workers=workers,
            scheduler=scheduler,
            out=out,
            seed=seed,
            resume=resume,
            progress=True,
            quick=quick,
            model=model,
            mlflow=mlflow,
            budget={"max_trials": max_trials, "max_time": max_time, "max_cost": max_cost},
            **_where(cluster, namespace, (tls_ca_file, tls_cert, tls_key)),
        )
    _print_search(result, as_json)
    printer = err_console if as_json else console
    printer.print(result.holdout_table())
    if result.submission is not None:
        printer.print(f"submission: {result.submission}", highlight=False, soft_wrap=True)
    printer.print(f"report: {result.report}", highlight=False, soft_wrap=True)


@rossmann_app.command("baseline")
def rossmann_baseline(
    data: Path | None = typer.Option(
        None, "--data", help="Directory with train.csv and store.csv (and truth.csv)."
    ),
    preset: str | None = typer.Option(
        None, "--preset", help="Generate synthetic data instead: small, medium or full."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the generated data and of the MLP."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Holdout RMSPE (last 6 weeks) of the median baseline, the default MLP and the oracle."""
    import json

    from daskcloud.exceptions import ConfigError
    from daskcloud.rossmann import load_rossmann
    from daskcloud.rossmann.holdout import holdout_table
    from daskcloud.rossmann.job import baseline_report, preset_data_dir

    if data is not None and preset is not None:
        raise ConfigError("pass either --data DIR or --preset NAME, not both")
    data_dir = data if data is not None else preset_data_dir(preset or "small", seed)
    report = baseline_report(load_rossmann(data_dir), seed=seed)
    if as_json:
        typer.echo(json.dumps(report))
        return
    title = f"Holdout RMSPE, {report['holdout_start']}..{report['holdout_end']}"
    console.print(holdout_table(report["rmspe"], title))
    console.print(
        f"data: {report['data_dir']}; MLP fit {report['mlp_fit_seconds']:.1f} s "
        f"({report['mlp_iterations']} epochs)",
        highlight=False,
        soft_wrap=True,
    )


# --- cloud: plans that create the Kubernetes cluster itself (_cli_tools) -------------------

app.add_typer(cloud_app, name="cloud")


# --- tune: a search described by a TOML spec --------------------------------------------------


def _stdout_to_stderr(as_json: bool) -> contextlib.AbstractContextManager[object]:
    """With ``--json``, progress and anything else printed goes to stderr; stdout gets the JSON."""
    return contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()


def _print_search(result: object, as_json: bool) -> None:
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


@app.command("tune")
def tune(
    spec: Path = typer.Argument(..., help="TOML spec file (see docs/spec.md)."),
    scheduler: str | None = _SCHEDULER,
    cluster: str | None = _CLUSTER,
    namespace: str | None = _CLUSTER_NAMESPACE,
    tls_ca_file: Path | None = _TLS_CA,
    tls_cert: Path | None = _TLS_CERT,
    tls_key: Path | None = _TLS_KEY,
    detach: bool = typer.Option(
        False,
        "--detach",
        help="With --cluster: run the search driver in the cluster (a Kubernetes Job with its "
        "journal on a volume, or a Slurm batch job writing --out on the shared filesystem).",
    ),
    workers: int | None = _WORKERS,
    out: Path | None = typer.Option(
        None, "--out", help="Run directory (default: runs/<timestamp>-<name>)."
    ),
    resume: bool = _RESUME,
    max_trials: int | None = _MAX_TRIALS,
    max_time: str | None = _MAX_TIME,
    max_cost: float | None = _MAX_COST,
    fit_timeout: str | None = _FIT_TIMEOUT,
    mlflow: bool = _MLFLOW,
    install_missing: bool = _INSTALL_MISSING,
    as_json: bool = _JSON,
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
    where = _where(cluster, namespace, (tls_ca_file, tls_cert, tls_key))
    with _stdout_to_stderr(as_json), _install_missing(install_missing):
        result = run_tune(
            spec, scheduler=scheduler, workers=workers, out=out, resume=resume,
            max_trials=max_trials, max_time=max_time, max_cost=max_cost, mlflow=mlflow,
            fit_timeout=fit_timeout, **where,
        )  # fmt: skip
    _print_search(result, as_json)


# --- report, export, config: around a run directory and the settings (_cli_tools) ----------

app.command("report")(report)
app.add_typer(export_app, name="export")
app.command("config")(config)


# --- manifests and cluster: declared in _cli_cluster (one option set from ClusterSpec) -----------

from daskcloud._cli_cluster import cluster_app, manifests  # noqa: E402  (after the app exists)

app.command("manifests")(manifests)
app.add_typer(cluster_app, name="cluster")


# --- image: the production tier (_cli_tools) ---------------------------------------------

app.add_typer(image_app, name="image")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``daskcloud`` console script."""
    code = _main(argv)
    if argv is None:  # the program ends now (not a caller's process, as in the tests)
        # skip the interpreter's final garbage collection: after a search it walks every
        # object left (the data, the client, an error's frames) for seconds on a busy machine
        import gc

        gc.freeze()
    return code


def _main(argv: list[str] | None) -> int:
    from daskcloud.jobs._signals import stop_on_signals

    try:
        with stop_on_signals() as received:
            code = app(args=argv, prog_name="daskcloud", standalone_mode=False)
    except Interrupted as exc:  # a search: how far it got and how to resume
        err_console.print(str(exc), highlight=False, soft_wrap=True)
        return exc.exit_code
    except DaskcloudError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        err_console.print(str(exc) or "interrupted", highlight=False, soft_wrap=True)
        return getattr(exc, "exit_code", 130)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print("aborted")
        return 1
    except typer.TyperException as exc:  # usage errors: unknown option, bad parameter
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        return getattr(exc, "exit_code", 2)
    if received:  # outside a search; typer turned the KeyboardInterrupt into its exit code
        err_console.print(f"interrupted by {signal.Signals(received[0]).name}", highlight=False)
        return 128 + received[0]
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

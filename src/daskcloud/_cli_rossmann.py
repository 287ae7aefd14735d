"""The Rossmann example's commands: ``daskcloud data ...`` and ``daskcloud rossmann [baseline]``.

Parse, call the library, print, as in :mod:`daskcloud.cli`, which registers the two groups.
The options ``rossmann`` shares with ``tune`` are declared in :mod:`daskcloud._cli_search`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from daskcloud._cli_search import (
    CLUSTER,
    CLUSTER_NAMESPACE,
    INSTALL_MISSING,
    JSON,
    MAX_COST,
    MAX_TIME,
    MAX_TRIALS,
    MLFLOW,
    RESUME,
    SCHEDULER,
    TLS_CA,
    TLS_CERT,
    TLS_KEY,
    WORKERS,
    install_missing_config,
    print_search,
    stdout_to_stderr,
    where_to_run,
)

__all__ = ["data_app", "rossmann_app"]

console = Console()
err_console = Console(stderr=True)


# --- data: the synthetic generator and the validator -------------------------------------------

data_app = typer.Typer(help="Generate and validate Rossmann data.", no_args_is_help=True)


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


# --- rossmann: the flagship example -----------------------------------------------------------

rossmann_app = typer.Typer(help="The Rossmann Store Sales example: baselines and the MLP search.")


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
    workers: int | None = WORKERS,
    scheduler: str | None = SCHEDULER,
    cluster: str | None = CLUSTER,
    namespace: str | None = CLUSTER_NAMESPACE,
    tls_ca_file: Path | None = TLS_CA,
    tls_cert: Path | None = TLS_CERT,
    tls_key: Path | None = TLS_KEY,
    out: Path | None = typer.Option(
        None, "--out", help="Run directory (default: runs/<timestamp>-rossmann-<preset>)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic data and the sampling."),
    resume: bool = RESUME,
    quick: bool = typer.Option(
        False, "--quick", help="Smoke test: 2 small candidates, 2 folds (seconds, not minutes)."
    ),
    max_trials: int | None = MAX_TRIALS,
    max_time: str | None = MAX_TIME,
    max_cost: float | None = MAX_COST,
    mlflow: bool = MLFLOW,
    install_missing: bool = INSTALL_MISSING,
    as_json: bool = JSON,
) -> None:
    """The main job: tune the MLP pipeline on (synthetic) Rossmann data; score it on a holdout."""
    if ctx.invoked_subcommand is not None:
        return
    from daskcloud.jobs import run_rossmann

    with stdout_to_stderr(as_json), install_missing_config(install_missing):
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
            **where_to_run(cluster, namespace, (tls_ca_file, tls_cert, tls_key)),
        )
    print_search(result, as_json)
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
    as_json: bool = JSON,
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

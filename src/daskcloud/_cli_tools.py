"""The commands around a run and its deployment: report, export, config, cloud plan, image build.

Parse, call the library, print, as in :mod:`daskcloud.cli`, which registers them on the
``daskcloud`` app in its order (``cloud``, ``report``, ``export``, ``config``, ``image``).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

__all__ = ["cloud_app", "config", "export_app", "image_app", "report"]

console = Console()
err_console = Console(stderr=True)


# --- cloud: plans that create the Kubernetes cluster itself -----------------------------------

cloud_app = typer.Typer(
    help="Create the Kubernetes cluster itself (eksctl, gcloud, az, minikube).",
    no_args_is_help=True,
)


@cloud_app.command("plan")
def cloud_plan(
    provider: str = typer.Argument(..., help="aws, gcp, azure or minikube."),
    nodes: int = typer.Option(2, "--nodes", help="Number of nodes in the pool."),
    instance: str | None = typer.Option(
        None, "--instance", help="Node type, e.g. m5.xlarge (default: a 4-CPU node)."
    ),
    region: str | None = typer.Option(
        None, "--region", help="e.g. us-east-1 (default: the provider's reference region)."
    ),
    spot: bool = typer.Option(False, "--spot", help="Spot/preemptible nodes."),
    name: str = typer.Option("daskcloud", "--name", help="Name of the Kubernetes cluster."),
    execute: bool = typer.Option(False, "--execute", help="Run the commands (tool on PATH)."),
    delete: bool = typer.Option(False, "--delete", help="With --execute: run the delete commands."),
) -> None:
    """Print (or run) the commands that create and delete a Kubernetes cluster, and its cost."""
    from daskcloud.cluster.cloud import execute_commands, plan_cluster

    plan = plan_cluster(
        provider, nodes=nodes, instance=instance, region=region, spot=spot, name=name
    )
    if not execute:
        typer.echo(plan.render())
        return
    execute_commands(plan.delete if delete else plan.create)


# --- report: one self-contained HTML file of a run directory ---------------------------------


def report(
    run_dir: Path = typer.Argument(..., help="Run directory of `tune` or `rossmann` (--out)."),
) -> None:
    """Write RUN_DIR/report.html: leaderboard, history, parameters, worker timeline (offline)."""
    from daskcloud.report import write_report

    path = write_report(run_dir)
    console.print(f"report: {path}", highlight=False, soft_wrap=True)


# --- export: a run directory into the tools people already use --------------------------------

export_app = typer.Typer(help="Export a run to other tools (Optuna).", no_args_is_help=True)


@export_app.command("optuna")
def export_optuna(
    run_dir: Path = typer.Argument(..., help="Run directory of `tune` or `rossmann` (--out)."),
    storage: str = typer.Option(
        ..., "--storage", help="Optuna storage: sqlite:///study.db, journal:///path/study.log, ..."
    ),
    study_name: str | None = typer.Option(
        None, "--study-name", help="Name of the new study (default: the run's name)."
    ),
) -> None:
    """Write a run (any strategy) as an Optuna study: one trial per candidate."""
    from daskcloud.report import export_study

    study = export_study(run_dir, storage, study_name)
    console.print(
        f"study {study.study_name!r}: {len(study.trials)} trials in {storage}; "
        f"optuna-dashboard {storage}",
        highlight=False,
        soft_wrap=True,
    )


# --- config: daskcloud's settings in dask config -------------------------------------------


def config(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    write: bool = typer.Option(
        False, "--write", help="Copy the settings file, commented out, to ~/.config/dask/."
    ),
) -> None:
    """Print the effective settings (dask config, DASK_DASKCLOUD__*) and where each came from."""
    import json

    from daskcloud import config as cfg

    if write:
        console.print(f"settings file: {cfg.write_template()}", highlight=False, soft_wrap=True)
        return
    rows = cfg.settings()
    if as_json:
        typer.echo(json.dumps({s.key: {"value": s.value, "source": s.source} for s in rows}))
        return
    from rich.table import Table

    table = Table(title="daskcloud settings (dask config)")
    for column in ("setting", "value", "source"):
        table.add_column(column, overflow="fold")
    for s in rows:
        table.add_row(f"daskcloud.{s.key}", "null" if s.value is None else str(s.value), s.source)
    console.print(table)


# --- image: the production tier ---------------------------------------------------------------

image_app = typer.Typer(
    help="The production tier: an image with everything the pods need (see docs/delivery.md).",
    no_args_is_help=True,
)


@image_app.command("build")
def image_build(
    tag: str = typer.Option(..., "--tag", "-t", help="Image to build, REGISTRY/NAME:TAG."),
    push: bool = typer.Option(False, "--push", help="Push it after the build."),
    packages: list[str] = typer.Option(
        [], "--packages", help="Another package to bake in at this machine's version."
    ),
    builder: str | None = typer.Option(
        None, "--builder", help="docker, podman or buildah (default: the first on PATH)."
    ),
    context: Path | None = typer.Option(
        None, "--context", help="Write the build context here and keep it (default: a temp dir)."
    ),
    write_only: bool = typer.Option(
        False, "--write-only", help="Write the context and stop: build it elsewhere."
    ),
) -> None:
    """Build an image from this machine's environment: nothing installed when pods start.

    The default tier (sync) needs no image: pods run the official dask image and an init
    container installs this machine's pinned packages at every start. For production — fast
    starts, air-gapped clusters, an artefact to scan and keep — bake them into an image
    instead: the Dockerfile (deploy/Dockerfile rendered on the official dask image at this
    machine's dask and Python versions), requirements.txt (every package pinned to the versions
    here) and wheels of daskcloud and local packages, built with docker, podman or buildah.
    Pass the printed --image to `daskcloud cluster up` or `daskcloud manifests`.
    """
    import tempfile

    from daskcloud.exceptions import ConfigError
    from daskcloud.sync._image import build_image, write_context

    with tempfile.TemporaryDirectory(prefix="daskcloud-image-") as tmp:
        where = context or Path(tmp)
        written = write_context(where, packages)
        err_console.print(
            f"build context in {where}: FROM {written.base_image}, "
            f"{len(written.requirements)} pinned packages, {', '.join(written.wheels)}",
            highlight=False,
        )
        if write_only:
            if context is None:
                raise ConfigError("--write-only needs --context DIR to keep the context in")
            return
        for command in build_image(written, tag, push=push, builder=builder):
            err_console.print(f"ran: {command}", highlight=False)
    typer.echo(f"--image {tag}")

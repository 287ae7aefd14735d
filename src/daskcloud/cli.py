"""The ``daskcloud`` command line: parse, call the library, print.

No logic lives here. Each command converts its options, calls one library
function and renders the result. Errors derived from
:class:`~daskcloud.exceptions.DaskcloudError` become one line on stderr and
exit code 2 (bad input) or 1 (runtime failure); never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from daskcloud._version import __version__
from daskcloud.exceptions import DaskcloudError

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


# --- cloud: plans that create the Kubernetes cluster itself -----------------------------------

cloud_app = typer.Typer(
    help="Create the Kubernetes cluster itself (eksctl, gcloud, az, minikube).",
    no_args_is_help=True,
)
app.add_typer(cloud_app, name="cloud")


@cloud_app.command("plan")
def cloud_plan(
    provider: str = typer.Argument(..., help="aws, gcp, azure or minikube."),
    nodes: int = typer.Option(2, "--nodes", help="Number of nodes in the pool."),
    instance: str = typer.Option(..., "--instance", help="Node type, e.g. m5.xlarge."),
    region: str = typer.Option(..., "--region", help="e.g. us-east-1 (local for minikube)."),
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``daskcloud`` console script."""
    try:
        app(args=argv, prog_name="daskcloud", standalone_mode=False)
    except DaskcloudError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
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
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

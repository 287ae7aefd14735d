"""The ``daskcloud`` command line: parse, call the library, print.

No logic lives here. Each command converts its options, calls one library function and
renders the result. The commands live in ``_cli_*`` modules by group and are registered on
:data:`app` here: ``_cli_search`` (``tune``, and the options every search shares),
``_cli_rossmann`` (``data``, ``rossmann``), ``_cli_cluster`` (``manifests``, ``cluster``),
``_cli_tools`` (``report``, ``export``, ``config``, ``cloud``, ``image``). Errors derived from
:class:`~daskcloud.exceptions.DaskcloudError` become one line on stderr and exit code 2 (bad
input) or 1 (runtime failure); never a traceback.
"""

from __future__ import annotations

import signal
import sys

import typer
from rich.console import Console

from daskcloud._cli_cluster import cluster_app, manifests
from daskcloud._cli_rossmann import data_app, rossmann_app
from daskcloud._cli_search import tune
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


# --- the commands: each group in its own module, registered here in this order ----------------
# (typer lists the single commands first, then the groups, each in the order added)

app.add_typer(data_app, name="data")
app.add_typer(rossmann_app, name="rossmann", invoke_without_command=True)
app.add_typer(cloud_app, name="cloud")
app.command("tune")(tune)
app.command("report")(report)
app.add_typer(export_app, name="export")
app.command("config")(config)
app.command("manifests")(manifests)
app.add_typer(cluster_app, name="cluster")
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

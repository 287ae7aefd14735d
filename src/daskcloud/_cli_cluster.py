"""The ``daskcloud manifests`` and ``daskcloud cluster ...`` commands: parse, call, print.

Cluster options are not declared here: :func:`spec_options` adds one typer option per
:class:`~daskcloud.cluster._spec.ClusterSpec` field to a command, and the command builds one
spec from the flags given and its ``--config`` file (:func:`~daskcloud.cluster._config.build_spec`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from daskcloud.cluster._spec import spec_options as _declared

__all__ = ["cluster_app", "manifests"]

console = Console()
err_console = Console(stderr=True)

cluster_app = typer.Typer(
    help="Start, inspect, change and stop Dask clusters (local processes or Kubernetes).",
    no_args_is_help=True,
)


def spec_options(*only: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the ClusterSpec options (or ``only`` these) to a command as typer options.

    The command receives those given on the command line as ``flags`` (field -> value); the
    others stay unset, so a ``--config`` file or the model's default supplies them.
    """
    declared = _declared(list(only) if only else None)
    types = {"value": str | None, "list": list[str] | None, "flag": bool | None}

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "flags"]
        added = []
        for o in declared:
            names = [f"{o.flag}/--no-{o.flag[2:]}"] if o.kind == "flag" else [o.flag]
            shown = o.default in (None, (), {}) or "default" in o.help
            default = "" if shown else f" (default: {o.default})"
            option = typer.Option(
                None, *names, *([o.short] if o.short else []), help=o.help + default,
                metavar=o.metavar, show_default=False,
            )  # fmt: skip
            added.append(
                inspect.Parameter(
                    o.field,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=option,
                    annotation=types[o.kind],
                )
            )

        def command(**kwargs: Any) -> Any:
            flags = {}
            for o in declared:
                value = kwargs.pop(o.field)
                if value is not None and value != []:
                    flags[o.field] = value
            return func(**kwargs, flags=flags)

        command.__name__, command.__doc__ = func.__name__, func.__doc__
        command.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        return command

    return decorate


_CONFIG = typer.Option(
    None, "--config", help="YAML or TOML file with the options below; flags override it."
)
_NAMESPACE = typer.Option(
    None, "--namespace", "-n", help="Kubernetes namespace (default: the kube context's)."
)
_BACKEND = typer.Option(
    None, "--backend", help="local, kubernetes, ... (default: look in every backend)."
)
_CONTEXT = typer.Option(None, "--context", help="kubeconfig context.")
_NAME = typer.Argument(..., help="Cluster name.")
_HOURS = typer.Option(8, "--hours", help="Keep the port-forward open this long.")


def _holder(name: str, namespace: str | None, backend: str | None, context: str | None) -> Any:
    """The backend that holds cluster ``name`` (find_cluster says in one line when none does)."""
    from daskcloud.cluster.backends import find_cluster

    found, _, _ = find_cluster(name, namespace, backend=backend, context=context)
    assert found is not None
    return found


# --- manifests: a hardened Kubernetes cluster as YAML -----------------------------------------


@spec_options()
def manifests(
    config: Path | None = _CONFIG,
    rbac: bool = typer.Option(False, "--rbac", help="Add the launcher's Role and RoleBinding."),
    flags: dict[str, Any] | None = None,
) -> None:
    """Print a hardened, self-ending Dask cluster as YAML for `kubectl apply -f -`."""
    from daskcloud.cluster._config import build_spec
    from daskcloud.cluster.kubernetes import manifests_for_apply
    from daskcloud.cluster.kubernetes._lifecycle import KubernetesBackend

    spec = build_spec(flags or {}, config)
    KubernetesBackend().check_options(spec)
    text, creds = manifests_for_apply(spec, rbac=rbac)
    typer.echo(text, nl=False)
    err_console.print(f"client certificate written to {creds.directory}", highlight=False)


# --- cluster: up, status, update, scale, logs, down, list --------------------------------------


@cluster_app.command("up")
@spec_options()
def cluster_up(
    config: Path | None = _CONFIG,
    backend: str = typer.Option("local", "--backend", help="local, kubernetes, ..."),
    timeout: float = typer.Option(300, "--timeout", help="Seconds to wait for readiness."),
    connect: bool = typer.Option(True, "--connect/--no-connect", help="Check a client connects."),
    context: str | None = _CONTEXT,
    flags: dict[str, Any] | None = None,
) -> None:
    """Create a cluster and wait (bounded) until it is ready; explain why when it is not."""
    from daskcloud.cluster._config import build_spec
    from daskcloud.cluster.backends import get_backend

    spec = build_spec(flags or {}, config)
    chosen = get_backend(backend, context=context)
    status = chosen.up(spec, timeout=timeout, progress=lambda line: err_console.print(line))
    typer.echo(status.render())
    if connect:
        with chosen.connect(spec.name, status.namespace) as conn:
            n = len(conn.client.scheduler_info(n_workers=-1)["workers"])
            typer.echo(f"connected: a client reached the scheduler and sees {n} workers")
            if conn.dashboard_url:  # the real URL (a port-forward's closes with this command)
                typer.echo(f"dashboard: {conn.dashboard_url}")
    ns = f" --namespace {status.namespace}" if status.namespace else ""
    typer.echo(f"use it:    daskcloud tune SPEC --cluster {spec.name}   (Python: connect_cluster)")
    typer.echo(f"dashboard: daskcloud cluster dashboard {spec.name}{ns}   (keeps it reachable)")
    if spec.jupyter:
        typer.echo(f"notebook:  daskcloud cluster jupyter {spec.name}{ns} [--open]")
    typer.echo(f"stop it:   daskcloud cluster down {spec.name}{ns}")


@cluster_app.command("update")
@spec_options(*(o.field for o in _declared() if o.field not in ("name", "namespace")))
def cluster_update(
    name: str = _NAME,
    config: Path | None = _CONFIG,
    namespace: str | None = _NAMESPACE,
    backend: str | None = _BACKEND,
    context: str | None = _CONTEXT,
    flags: dict[str, Any] | None = None,
) -> None:
    """Change a running cluster in place (workers, image, resources); the scheduler stays."""
    found = _holder(name, namespace, backend, context)
    changed = found.update(name, namespace, flags=flags or {}, config=config)
    if not changed:
        typer.echo(f"cluster {name}: nothing to change")
        return
    typer.echo(f"cluster {name}: updated {', '.join(changed)}; the scheduler kept running")
    typer.echo(found.status(name, namespace).render())


def _looked(notes: list[str]) -> None:
    for note in notes:
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)


@cluster_app.command("status")
def cluster_status(
    name: str | None = typer.Argument(None, help="Cluster name (default: all known here)."),
    namespace: str | None = _NAMESPACE,
    backend: str | None = _BACKEND,
    context: str | None = _CONTEXT,
) -> None:
    """Pods, ready workers, age, time left, idle time, cost so far and any rollout."""
    from daskcloud.cluster._state import list_records
    from daskcloud.cluster.backends import find_cluster, get_backend

    if name:
        _, status, _ = find_cluster(name, namespace, backend=backend, context=context)
        assert status is not None
        typer.echo(status.render())
        return
    records = list_records()
    if not records:
        typer.echo("no clusters recorded on this machine; `daskcloud cluster list` asks the API")
    for r in records:
        chosen = get_backend(r.backend, context=context or r.context)
        typer.echo(chosen.status(r.name, r.namespace).render())


@cluster_app.command("scale")
def cluster_scale(
    name: str = _NAME,
    workers: int = typer.Argument(..., help="Number of workers."),
    namespace: str | None = _NAMESPACE,
    backend: str | None = _BACKEND,
    context: str | None = _CONTEXT,
) -> None:
    """Set the number of workers."""
    found = _holder(name, namespace, backend, context)
    found.scale(name, workers, namespace)
    typer.echo(f"cluster {name}: scaled to {workers} workers")


@cluster_app.command("logs")
def cluster_logs(
    name: str = _NAME,
    worker: int | None = typer.Option(None, "--worker", help="Worker number (default: scheduler)."),
    driver: bool = typer.Option(False, "--driver", help="The detached search driver's log."),
    tail: int = typer.Option(200, "--tail", help="Number of lines."),
    namespace: str | None = _NAMESPACE,
    backend: str | None = _BACKEND,
    context: str | None = _CONTEXT,
) -> None:
    """The last log lines of the scheduler, a worker or the detached driver."""
    found = _holder(name, namespace, backend, context)
    typer.echo(found.logs(name, namespace, worker=worker, driver=driver, tail=tail))


@cluster_app.command("down")
def cluster_down(
    name: str = _NAME,
    namespace: str | None = _NAMESPACE,
    backend: str | None = _BACKEND,
    context: str | None = _CONTEXT,
) -> None:
    """Delete the cluster (idempotent: a cluster that is already gone is not an error)."""
    from daskcloud.cluster.backends import find_cluster, get_backend

    if backend is not None:  # asked for one backend: it deletes whatever is left there
        found = get_backend(backend, context=context).down(name, namespace)
        typer.echo(f"cluster {name}: {'deleted' if found else 'already gone'}")
        return
    chosen, _, looked = find_cluster(name, namespace, context=context, missing_ok=True)
    if chosen is None:
        typer.echo(f"cluster {name}: already gone ({'; '.join(looked)})")
        return
    chosen.down(name, namespace)
    typer.echo(f"cluster {name}: deleted ({chosen.kind})")


@cluster_app.command("list")
def cluster_list(
    namespace: str | None = _NAMESPACE,
    backend: str | None = _BACKEND,
    context: str | None = _CONTEXT,
) -> None:
    """Every daskcloud cluster with age, state and cost so far (find forgotten ones)."""
    from daskcloud.cluster.backends import list_clusters

    found, notes = list_clusters(namespace, backend=backend, context=context)
    rows = [s.row() for s in found]
    header = ("NAME", "BACKEND", "STATE", "WORKERS", "AGE", "LEFT", "COST")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    _looked(notes)


@cluster_app.command("dashboard")
def cluster_dashboard(
    name: str = _NAME,
    namespace: str | None = _NAMESPACE,
    backend: str | None = _BACKEND,
    context: str | None = _CONTEXT,
    hours: float = _HOURS,
) -> None:
    """Print the dashboard URL and keep its port-forward open until Ctrl-C (or --hours)."""
    import time

    from daskcloud.cluster.backends import connect_cluster

    with connect_cluster(name, namespace, backend=backend, context=context) as conn:
        typer.echo(f"dashboard: {conn.dashboard_url or 'not reachable'}  (Ctrl-C to stop)")
        time.sleep(hours * 3600)


@cluster_app.command("jupyter")
def cluster_jupyter(
    name: str = typer.Argument(..., help="Cluster name (made with --jupyter)."),
    namespace: str | None = _NAMESPACE,
    backend: str | None = _BACKEND,
    context: str | None = _CONTEXT,
    open_browser: bool = typer.Option(False, "--open", help="Open the URL in a browser."),
    hours: float = _HOURS,
) -> None:
    """Print the notebook's URL with its token; on Kubernetes, keep its port-forward open."""
    import time
    import webbrowser

    found = _holder(name, namespace, backend, context)
    endpoint = found.notebook(name, namespace)
    try:
        held = "  (Ctrl-C to stop)" if endpoint.closers else ""
        typer.echo(f"notebook: {endpoint.url}{held}")
        if open_browser:
            webbrowser.open(endpoint.url)
        if endpoint.closers:  # a port-forward: it lives as long as this command
            time.sleep(hours * 3600)
    finally:
        endpoint.close()

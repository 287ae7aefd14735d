"""Cluster backends behind one lifecycle: up, status, scale, logs, down, list, connect.

A backend turns options into its own spec and implements the verbs; connecting, closing and the
context manager are written once, here, in :class:`ClusterConnection`::

    Backend                      up / status / scale / logs / down / list / endpoint
    ├── LocalBackend             detached dask processes on this machine   (_local_processes)
    ├── KubernetesBackend        a self-ending cluster via the Kubernetes API (kubernetes/)
    └── SlurmBackend             workers as Slurm batch jobs                  (slurm/)

    connect_cluster(name) -> ClusterConnection   .client, .dashboard_url, close(), with-block

Example:
    >>> from daskcloud.cluster.backends import connect_cluster       # doctest: +SKIP
    >>> with connect_cluster("hpo", namespace="dask") as conn:
    ...     conn.client.submit(sum, [1, 2]).result()
    3
"""

from __future__ import annotations

import contextlib
import os
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from daskcloud.cluster._state import load_record
from daskcloud.cluster._status import ClusterStatus
from daskcloud.exceptions import ClusterError, ConfigError

__all__ = [
    "Backend",
    "ClusterConnection",
    "ClusterOptions",
    "Endpoint",
    "KubernetesBackend",
    "LocalBackend",
    "NotebookEndpoint",
    "connect_cluster",
    "get_backend",
    "tls_security",
]

BACKENDS = ("local", "kubernetes", "slurm")


@dataclass(frozen=True)
class ClusterOptions:
    """What ``cluster up`` asks for; each backend maps it onto its own spec."""

    name: str
    namespace: str | None = None
    workers: int = 2
    cpu: str = "1"
    memory: str = "4Gi"
    gpu: int = 0
    image: str | None = None
    idle_timeout: str = "20m"
    max_lifetime: str = "8h"
    price_per_hour: float | None = None
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()
    context: str | None = None
    slurm: Any = None  # SlurmOptions of --backend slurm (partition, account, qos, ...)
    jupyter: bool = False  # JupyterLab next to the scheduler (docs/notebook.md)
    notebook_storage: str | None = None  # Kubernetes: a PersistentVolumeClaim home


@dataclass
class Endpoint:
    """How to reach a scheduler: address, TLS settings, and what to close afterwards."""

    address: str
    security: Any = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    dashboard_url: str | None = None


@dataclass
class NotebookEndpoint:
    """The URL of a cluster's JupyterLab (token included), and what to close afterwards."""

    url: str
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Close the port-forward, if any (idempotent)."""
        closers, self.closers = self.closers, []
        for closer in reversed(closers):
            with contextlib.suppress(Exception):
                closer()


class Backend(ABC):
    """One way to run clusters. Subclasses implement the verbs; nothing else."""

    kind: ClassVar[str]

    @abstractmethod
    def up(self, options: ClusterOptions, *, timeout: float = 300.0,
           progress: Callable[[str], None] | None = None) -> ClusterStatus:  # fmt: skip
        """Create the cluster and wait (bounded) until it is ready."""

    @abstractmethod
    def status(self, name: str, namespace: str | None = None) -> ClusterStatus:
        """The cluster's state now."""

    @abstractmethod
    def list(self, namespace: str | None = None) -> list[ClusterStatus]:
        """Every cluster this backend can see."""

    @abstractmethod
    def scale(self, name: str, workers: int, namespace: str | None = None) -> int:
        """Set the number of workers."""

    @abstractmethod
    def logs(self, name: str, namespace: str | None = None, *, worker: int | None = None,
             driver: bool = False, tail: int = 200) -> str:  # fmt: skip
        """The last log lines of the scheduler, a worker or the detached driver."""

    @abstractmethod
    def down(self, name: str, namespace: str | None = None) -> bool:
        """Delete the cluster; False when it was already gone (never an error)."""

    @abstractmethod
    def endpoint(self, name: str, namespace: str | None = None) -> Endpoint:
        """Where a client connects (opening a port-forward when one is needed)."""

    def notebook(self, name: str, namespace: str | None = None) -> NotebookEndpoint:
        """The JupyterLab of a cluster made with ``jupyter=True`` (port-forwarded if need be)."""
        raise ConfigError(
            f"the {self.kind} backend has no notebook; use --backend local or kubernetes"
        )


class LocalBackend(Backend):
    """Scheduler and workers as detached processes on this machine (127.0.0.1 only)."""

    kind = "local"

    def up(self, options, *, timeout=300.0, progress=None):
        from daskcloud.cluster._local_processes import local_up
        from daskcloud.cluster.kubernetes._spec import parse_duration, parse_memory

        if options.gpu:
            raise ConfigError("--gpu needs --backend kubernetes; the local backend has no GPUs")
        try:
            cpu = float(options.cpu.removesuffix("m")) / (1000 if options.cpu.endswith("m") else 1)
            idle = parse_duration(options.idle_timeout, "idle timeout")
            life = parse_duration(options.max_lifetime, "max lifetime")
            memory = parse_memory(options.memory)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if options.notebook_storage:
            raise ConfigError(
                "--notebook-storage needs --backend kubernetes; the local notebook keeps its "
                "files in the cluster's directory until cluster down"
            )
        return local_up(
            options.name, workers=options.workers, threads=max(1, int(cpu)), memory=str(memory),
            idle_timeout_s=idle, max_lifetime_s=life, price_per_hour=options.price_per_hour,
            jupyter=options.jupyter, timeout=min(timeout, 120.0),
        )  # fmt: skip

    def status(self, name, namespace=None):
        from daskcloud.cluster._local_processes import local_status

        return local_status(name)

    def list(self, namespace=None):
        from daskcloud.cluster._local_processes import local_list

        return local_list()

    def scale(self, name, workers, namespace=None):
        from daskcloud.cluster._local_processes import local_scale

        return local_scale(name, workers)

    def logs(self, name, namespace=None, *, worker=None, driver=False, tail=200):
        from daskcloud.cluster._local_processes import local_logs

        if driver:
            raise ConfigError("--driver needs --backend kubernetes (a detached search)")
        return local_logs(name, worker=worker, tail=tail)

    def down(self, name, namespace=None):
        from daskcloud.cluster._local_processes import local_down

        return local_down(name)

    def notebook(self, name, namespace=None):
        from daskcloud.cluster._local_processes import local_jupyter_url

        return NotebookEndpoint(local_jupyter_url(name))

    def endpoint(self, name, namespace=None):
        status = self.status(name)
        if status.state == "finished" or not status.address:
            raise ClusterError(f"local cluster {name!r} is not running ({status.reason})")
        return Endpoint(address=status.address, dashboard_url=status.dashboard_url)


def _in_cluster() -> bool:
    """True inside a pod (and not told to port-forward anyway)."""
    from daskcloud.config import get

    forced = bool(get("cluster.port-forward"))
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not forced


class KubernetesBackend(Backend):
    """A self-ending cluster created through the Kubernetes API (see docs/cluster.md)."""

    kind = "kubernetes"

    def __init__(self, context: str | None = None) -> None:
        self.context = context

    def _api(self, namespace: str | None = None):
        from daskcloud.cluster.kubernetes._lifecycle import kube_api

        return kube_api(context=self.context, namespace=namespace)

    def _ns(self, namespace: str | None) -> str:
        from daskcloud.config import get

        return namespace or get("cluster.namespace") or self._api().namespace or "default"

    def up(self, options, *, timeout=300.0, progress=None):
        from daskcloud.cluster.kubernetes._lifecycle import create_cluster
        from daskcloud.cluster.kubernetes._spec import ClusterSpec

        skip = ("context", "slurm")
        fields = {k: v for k, v in vars(options).items() if k not in skip and v is not None}
        fields["namespace"] = self._ns(options.namespace)
        spec = ClusterSpec(**fields)
        api = self._api(spec.namespace)
        return create_cluster(spec, api=api, timeout=timeout, context=self.context,
                              progress=progress)  # fmt: skip

    def status(self, name, namespace=None):
        from daskcloud.cluster.kubernetes._lifecycle import get_status

        ns = self._ns(namespace)
        return get_status(name, ns, api=self._api(ns))

    def list(self, namespace=None):
        from daskcloud.cluster.kubernetes._lifecycle import list_clusters

        ns = self._ns(namespace)
        return list_clusters(ns, api=self._api(ns))

    def scale(self, name, workers, namespace=None):
        from daskcloud.cluster.kubernetes._lifecycle import scale_cluster

        ns = self._ns(namespace)
        return scale_cluster(name, ns, workers, api=self._api(ns))

    def logs(self, name, namespace=None, *, worker=None, driver=False, tail=200):
        from daskcloud.cluster.kubernetes._lifecycle import cluster_logs

        ns = self._ns(namespace)
        return cluster_logs(name, ns, worker=worker, driver=driver, tail=tail, api=self._api(ns))

    def down(self, name, namespace=None):
        from daskcloud.cluster.kubernetes._lifecycle import delete_cluster

        ns = self._ns(namespace)
        return delete_cluster(name, ns, api=self._api(ns))

    def endpoint(self, name, namespace=None):
        from kr8s.objects import Service

        from daskcloud.cluster.kubernetes._portforward import KubePortForward, ManagedPortForward
        from daskcloud.cluster.kubernetes._spec import DASHBOARD_PORT, SCHEDULER_PORT
        from daskcloud.cluster.kubernetes._tls import client_security

        ns = self._ns(namespace)
        security = client_security(ns, name)
        status = self.status(name, ns)
        if not status.scheduler_ready:
            raise ClusterError(
                f"cluster {ns}/{name} is {status.state}, its scheduler is not ready; see "
                f"`daskcloud cluster status {name} --namespace {ns}`"
            )
        host = f"{name}-scheduler.{ns}.svc"
        if _in_cluster():
            # the NetworkPolicy admits only this cluster's pods: probe, else port-forward
            with contextlib.suppress(OSError), socket.create_connection((host, SCHEDULER_PORT), 5):
                return Endpoint(address=f"tls://{host}:{SCHEDULER_PORT}", security=security)
        service = Service(f"{name}-scheduler", namespace=ns, api=self._api(ns))
        comm = ManagedPortForward(
            KubePortForward(service, SCHEDULER_PORT), name="scheduler-forward"
        )
        comm.start()
        closers: list[Callable[[], None]] = [comm.close]
        dashboard = None
        try:
            dash = ManagedPortForward(KubePortForward(service, DASHBOARD_PORT), name="dash-forward")
            dash.start()
            closers.append(dash.close)
            dashboard = f"http://{dash.address}/status"
        except ClusterError:  # the dashboard is a convenience; the scheduler is what matters
            pass
        return Endpoint(f"tls://{comm.address}", security, closers, dashboard)

    def notebook(self, name, namespace=None):
        from kr8s.objects import Service

        from daskcloud.cluster._notebook import notebook_url, read_notebook_token
        from daskcloud.cluster.kubernetes._notebook import JUPYTER_PORT
        from daskcloud.cluster.kubernetes._portforward import KubePortForward, ManagedPortForward

        ns = self._ns(namespace)
        token = read_notebook_token(ns, name)
        service = Service(f"{name}-jupyter", namespace=ns, api=self._api(ns))
        forward = ManagedPortForward(KubePortForward(service, JUPYTER_PORT), name="jupyter-forward")
        forward.start()
        port = int(forward.address.rsplit(":", 1)[1])
        return NotebookEndpoint(notebook_url(port, token), [forward.close])


def get_backend(
    backend: str | Backend | None = None, *, name: str | None = None, context: str | None = None
) -> Backend:
    """Normalise ``"local" | "kubernetes" | Backend | None`` to a Backend.

    ``None`` picks ``local`` or ``slurm`` when this machine has a record of a cluster called
    ``name`` there, else ``kubernetes``.
    """
    if isinstance(backend, Backend):
        return backend
    if backend is None:
        recorded = [k for k in ("local", "slurm") if name and load_record(k, name)]
        backend = recorded[0] if recorded else "kubernetes"
    if backend == "local":
        return LocalBackend()
    if backend == "kubernetes":
        return KubernetesBackend(context=context)
    if backend == "slurm":
        from daskcloud.cluster.slurm._backend import SlurmBackend

        return SlurmBackend()
    raise ConfigError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")


class ClusterConnection:
    """A ``distributed.Client`` connected to a cluster, plus what keeps it connected.

    ``close()`` closes the client and then any port-forward; it is safe to call twice. Use it
    as a context manager. Closing never deletes the cluster (``cluster down`` does).
    """

    def __init__(self, endpoint: Endpoint, *, timeout: float = 60.0) -> None:
        from distributed import Client

        self.endpoint = endpoint
        self.dashboard_url = endpoint.dashboard_url
        self._closed = False
        try:
            self.client = Client(
                endpoint.address, security=endpoint.security, timeout=timeout,
                set_as_default=False,
            )  # fmt: skip
        except (OSError, TimeoutError) as exc:
            self.close()
            raise ClusterError(
                f"cannot connect to the scheduler at {endpoint.address} within {timeout:.0f} s "
                f"({exc}); check `daskcloud cluster status`"
            ) from exc

    def close(self) -> None:
        """Close the client, then the port-forwards (idempotent)."""
        if self._closed:
            return
        self._closed = True
        client = getattr(self, "client", None)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        for closer in reversed(self.endpoint.closers):
            with contextlib.suppress(Exception):
                closer()

    def __enter__(self) -> ClusterConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_cluster(
    name: str | None = None,
    namespace: str | None = None,
    *,
    backend: str | Backend | None = None,
    context: str | None = None,
    timeout: float = 60.0,
) -> ClusterConnection:
    """Connect to cluster ``name``: a context manager with ``.client`` and ``.dashboard_url``.

    Kubernetes clusters are reached through in-cluster DNS when this runs in a pod of the
    cluster's network policy, otherwise through a managed port-forward that repairs itself; the
    client uses the cluster's TLS certificate from this machine's state directory.

    Without a name it connects to the cluster the environment names — in the notebook of
    ``cluster up --jupyter``, ``DASK_SCHEDULER_ADDRESS`` and dask's TLS settings — as
    ``Client()`` would.

    Raises:
        ClusterError: no such cluster, not ready, no client certificate, or unreachable.
        ConfigError: no name, and no ``DASK_SCHEDULER_ADDRESS`` either.
    """
    if name is None:
        return ClusterConnection(_environment_endpoint(), timeout=timeout)
    chosen = get_backend(backend, name=name, context=context)
    return ClusterConnection(chosen.endpoint(name, namespace), timeout=timeout)


def _environment_endpoint() -> Endpoint:
    """The scheduler of dask's configuration (``DASK_SCHEDULER_ADDRESS``, ``DASK_...TLS...``)."""
    import dask.config
    from distributed.security import Security

    address = dask.config.get("scheduler-address", None)
    if not address:
        raise ConfigError(
            "connect_cluster() without a name needs DASK_SCHEDULER_ADDRESS (set in the notebook "
            "of `daskcloud cluster up --jupyter`); give the cluster's name, e.g. "
            'connect_cluster("hpo")'
        )
    return Endpoint(address=address, security=Security())


def parse_node_selector(items: list[str]) -> dict[str, str]:
    """``["pool=spot", "zone=a"]`` -> ``{"pool": "spot", "zone": "a"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"node selector {item!r} is not KEY=VALUE; write e.g. pool=spot")
        out[key] = value
    return out


def parse_toleration(item: str) -> dict[str, Any]:
    """``key=value:Effect``, ``key:Effect`` (operator Exists) or ``key=value`` -> a toleration."""
    body, _, effect = item.partition(":")
    key, sep, value = body.partition("=")
    if not key:
        raise ConfigError(
            f"toleration {item!r} has no key; write KEY=VALUE:EFFECT, e.g. "
            "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
        )
    out: dict[str, Any] = {"key": key, "operator": "Equal" if sep else "Exists"}
    if sep:
        out["value"] = value
    if effect:
        out["effect"] = effect
    return out


def tls_security(
    ca_file: str | None = None, cert: str | None = None, key: str | None = None
) -> Any:
    """A ``distributed.security.Security`` from ``--tls-ca-file/--tls-cert/--tls-key``, or None.

    For ``--scheduler tls://...`` against clusters made by the dask Helm chart, the operator or
    dask-gateway with your own certificates. All three files or none.
    """
    given = {"--tls-ca-file": ca_file, "--tls-cert": cert, "--tls-key": key}
    if not any(given.values()):
        return None
    missing = [flag for flag, value in given.items() if not value]
    if missing:
        raise ConfigError(
            f"TLS needs all of --tls-ca-file, --tls-cert, --tls-key; add {missing[0]}"
        )
    for flag, value in given.items():
        if not os.path.isfile(str(value)):
            raise ConfigError(f"{flag} {value!r} is not a file; give the path of the PEM file")
    from distributed.security import Security

    return Security(
        tls_ca_file=ca_file, tls_client_cert=cert, tls_client_key=key, require_encryption=True
    )

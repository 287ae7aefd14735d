"""Cluster backends behind one lifecycle: up, status, update, scale, logs, down, list, connect.

Like distributed's ``SpecCluster``, the lifecycle is written once, here, in :class:`Backend`;
a backend turns a :class:`~daskcloud.cluster._spec.ClusterSpec` into running pieces and
implements a small interface (``create``, ``wait``, ``find``, ``delete``, ``list``,
``scale``, ``logs``, ``endpoint``, and for ``update`` ``current_spec`` + ``apply_update``)::

    Backend                      up / status / update / down / connect, written once
    ├── LocalBackend             detached dask processes on this machine   (_local_backend)
    ├── KubernetesBackend        a self-ending cluster via the Kubernetes API (kubernetes/)
    └── SlurmBackend             workers as Slurm batch jobs                  (slurm/)

    connect_cluster(name) -> ClusterConnection   .client, .dashboard_url, close(), with-block
                                                 (ClusterConnection, Endpoint: _connect)
    find_cluster(name) / list_clusters()         every registered backend, saying where it looked

Registering a backend is one line in :data:`BACKENDS`.

Example:
    >>> from daskcloud.cluster.backends import connect_cluster       # doctest: +SKIP
    >>> with connect_cluster("hpo", namespace="dask") as conn:
    ...     conn.client.submit(sum, [1, 2]).result()
    3
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from daskcloud.cluster._config import spec_changes
from daskcloud.cluster._connect import (
    ClusterConnection,
    Endpoint,
    NotebookEndpoint,
    environment_endpoint,
    tls_security,
)
from daskcloud.cluster._spec import ClusterSpec, spec_options
from daskcloud.cluster._status import ClusterStatus
from daskcloud.exceptions import ClusterError, ConfigError

__all__ = [
    "BACKENDS",
    "Backend",
    "ClusterConnection",
    "Endpoint",
    "NotebookEndpoint",
    "connect_cluster",
    "find_cluster",
    "get_backend",
    "list_clusters",
    "tls_security",
]

#: name -> "module:class", imported on first use (kr8s only loads when Kubernetes is asked).
#: Verbs without --backend look in these in this order.
BACKENDS: dict[str, str] = {
    "local": "daskcloud.cluster._local_backend:LocalBackend",
    "kubernetes": "daskcloud.cluster.kubernetes._lifecycle:KubernetesBackend",
    "slurm": "daskcloud.cluster.slurm._backend:SlurmBackend",
}

Progress = Callable[[str], None] | None


class Backend(ABC):
    """One way to run clusters: the lifecycle written once over a small interface.

    A subclass sets :attr:`kind`, :attr:`options` (the ClusterSpec fields it honours; others
    given a non-default value are refused) and :attr:`updatable` (those ``update`` may change
    in place, with the reason for the others in :attr:`fixed`), and implements the abstract
    methods. Call order of :meth:`up`: ``check_options`` -> ``prepare`` -> ``find`` (refuse a
    live cluster of that name, clear a finished one) -> ``create`` -> ``wait``; on any failure,
    ``delete`` before the error propagates.
    """

    kind: ClassVar[str]
    options: ClassVar[frozenset[str]]
    updatable: ClassVar[frozenset[str]] = frozenset({"workers"})
    #: why a field cannot change in place (default: "it is fixed when the cluster starts")
    fixed: ClassVar[Mapping[str, str]] = {}
    #: what to do instead of an option this backend does not support
    hints: ClassVar[Mapping[str, str]] = {}

    def __init__(self, *, context: str | None = None) -> None:
        self.context = context

    # --- the interface a backend implements ---------------------------------------------------

    def prepare(self, spec: ClusterSpec) -> ClusterSpec:
        """Fill in what depends on the backend's environment (a default namespace)."""
        return spec

    @abstractmethod
    def where(self, namespace: str | None = None) -> str:
        """Where this backend looks, for messages: ``on this machine``, ``in namespace x``."""

    @abstractmethod
    def create(self, spec: ClusterSpec, *, timeout: float, progress: Progress) -> None:
        """Start the cluster's pieces (nothing of that name exists)."""

    @abstractmethod
    def wait(self, spec: ClusterSpec, *, timeout: float, progress: Progress) -> ClusterStatus:
        """Wait (bounded) until the scheduler and the workers are ready; explain when not."""

    @abstractmethod
    def find(self, name: str, namespace: str | None = None) -> ClusterStatus | None:
        """The cluster's state now, or None when this backend has no such cluster."""

    @abstractmethod
    def delete(self, name: str, namespace: str | None = None) -> bool:
        """Remove the cluster; False when it was already gone (never an error)."""

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
    def endpoint(self, name: str, namespace: str | None = None) -> Endpoint:
        """Where a client connects (opening a port-forward when one is needed)."""

    def notebook(self, name: str, namespace: str | None = None) -> NotebookEndpoint:
        """The JupyterLab of a cluster made with ``--jupyter`` (port-forwarded if need be)."""
        raise ConfigError(
            f"the {self.kind} backend runs no notebook; use --backend local or kubernetes"
        )

    def current_spec(self, name: str, namespace: str | None = None) -> ClusterSpec:
        """The spec of the running cluster, read back (for ``update``)."""
        raise ConfigError(f"the {self.kind} backend cannot update a cluster in place")

    def apply_update(
        self, current: ClusterSpec, desired: ClusterSpec, changed: list[str], *, timeout: float
    ) -> None:
        """Change the running cluster from ``current`` to ``desired`` (``changed`` fields)."""
        raise ConfigError(f"the {self.kind} backend cannot update a cluster in place")

    # --- the lifecycle, written once -------------------------------------------------------

    def check_options(self, spec: ClusterSpec, fields: list[str] | None = None) -> None:
        """Refuse options this backend would silently ignore."""
        flags = {o.field: o.flag for o in spec_options()}
        for name in spec.set_options() if fields is None else fields:
            if name not in self.options:
                hint = self.hints.get(name, "leave it out or choose another --backend")
                raise ConfigError(
                    f"{flags.get(name, name)} is not supported by the {self.kind} backend; {hint}"
                )

    def up(
        self, spec: ClusterSpec, *, timeout: float = 300.0, progress: Progress = None
    ) -> ClusterStatus:
        """Create the cluster and wait (bounded) until it is ready; clean up on failure."""
        self.check_options(spec)
        spec = self.prepare(spec)
        existing = self.find(spec.name, spec.namespace)
        if existing is not None and existing.state != "finished":
            raise ClusterError(
                f"{self.kind} cluster {spec.name!r} already exists {self.where(spec.namespace)} "
                f"({existing.state}); use it (daskcloud cluster status {spec.name}), pick "
                f"another --name, or delete it first (daskcloud cluster down {spec.name})"
            )
        if existing is not None:  # a finished cluster of that name: its leftovers go
            self.delete(spec.name, spec.namespace)
        try:
            self.create(spec, timeout=timeout, progress=progress)
            return self.wait(spec, timeout=timeout, progress=progress)
        except BaseException:
            self.delete(spec.name, spec.namespace)
            raise

    def status(self, name: str, namespace: str | None = None) -> ClusterStatus:
        """The cluster's state; ClusterError when this backend has no such cluster."""
        status = self.find(name, namespace)
        if status is None:
            raise ClusterError(
                f"no {self.kind} cluster {name!r} {self.where(namespace)}; "
                "`daskcloud cluster list` shows the clusters there"
            )
        return status

    def down(self, name: str, namespace: str | None = None) -> bool:
        """Delete the cluster (idempotent): True when it existed."""
        return self.delete(name, namespace)

    def update(
        self,
        name: str,
        namespace: str | None = None,
        *,
        flags: Mapping[str, Any] | None = None,
        config: Path | None = None,
        timeout: float = 300.0,
    ) -> list[str]:
        """Change what can change in place (like ``helm upgrade``); returns the changed fields.

        The options of ``flags`` and the ``config`` file are applied to the running cluster's
        spec and checked by the same model as ``up``. A change that needs a new scheduler is
        refused with one line saying what to run instead; nothing is changed then.
        """
        current = self.current_spec(name, namespace)
        desired = spec_changes(current, dict(flags or {}), config)
        changed = current.differences(desired)
        self.check_options(desired, changed)
        flag = {o.field: o.flag for o in spec_options()}
        for f in changed:
            if f not in self.updatable:
                why = self.fixed.get(f, "it is fixed when the cluster starts")
                raise ConfigError(
                    f"{flag[f]} cannot change in place on a running {self.kind} cluster ({why}); "
                    f"run `daskcloud cluster down {name}`, then `daskcloud cluster up` with the "
                    "new value"
                )
        if changed:
            self.apply_update(current, desired, changed, timeout=timeout)
        return changed

    def connect(self, name: str, namespace: str | None = None, *, timeout: float = 60.0):
        """A :class:`ClusterConnection` to the cluster (closing it never deletes it)."""
        return ClusterConnection(self.endpoint(name, namespace), timeout=timeout)


def get_backend(backend: str | Backend = "local", *, context: str | None = None) -> Backend:
    """Normalise ``"local" | "kubernetes" | ... | Backend`` to a Backend."""
    if isinstance(backend, Backend):
        return backend
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    module, _, cls = BACKENDS[backend].partition(":")
    return getattr(importlib.import_module(module), cls)(context=context)


def _candidates(backend: str | Backend | None, context: str | None) -> list[Backend]:
    kinds = list(BACKENDS) if backend is None else [backend]
    return [get_backend(kind, context=context) for kind in kinds]


def _unreachable(b: Backend, exc: ClusterError) -> str:
    return f"{b.kind}: not reachable ({str(exc).split('; ')[0]})"


def find_cluster(
    name: str,
    namespace: str | None = None,
    *,
    backend: str | Backend | None = None,
    context: str | None = None,
    missing_ok: bool = False,
) -> tuple[Backend | None, ClusterStatus | None, list[str]]:
    """Look for cluster ``name`` in ``backend``, or in every registered one (in order).

    Returns the backend that has it, its status and where it looked (``local: not found on
    this machine``, ``kubernetes: not reachable (...)``). A backend that cannot be reached is noted,
    not fatal; when no backend has the cluster, ClusterError says where it looked (or, with
    ``missing_ok``, ``(None, None, looked)`` is returned).
    """
    looked: list[str] = []
    for b in _candidates(backend, context):
        try:
            status = b.find(name, namespace)
        except ClusterError as exc:
            if backend is not None:
                raise
            looked.append(_unreachable(b, exc))
            continue
        if status is not None:
            return b, status, looked
        looked.append(f"{b.kind}: not found {b.where(namespace)}")
        if backend is not None and not missing_ok:
            b.status(name, namespace)  # raises its own "no <kind> cluster ..." line
    if missing_ok:
        return None, None, looked
    raise ClusterError(
        f"no cluster {name!r} ({'; '.join(looked)}); `daskcloud cluster list` shows the "
        "clusters there"
    )


def list_clusters(
    namespace: str | None = None,
    *,
    backend: str | Backend | None = None,
    context: str | None = None,
) -> tuple[list[ClusterStatus], list[str]]:
    """Every cluster of ``backend`` (or of every backend), and notes on those not reachable."""
    found: list[ClusterStatus] = []
    notes: list[str] = []
    for b in _candidates(backend, context):
        try:
            found += b.list(namespace)
        except ClusterError as exc:
            if backend is not None:
                raise
            notes.append(_unreachable(b, exc))
    return found, notes


def connect_cluster(
    name: str | None = None,
    namespace: str | None = None,
    *,
    backend: str | Backend | None = None,
    context: str | None = None,
    timeout: float = 60.0,
) -> ClusterConnection:
    """Connect to cluster ``name``: a context manager with ``.client`` and ``.dashboard_url``.

    ``backend=None`` looks in every backend (local first). Kubernetes clusters are reached
    through in-cluster DNS when this runs in a pod of the cluster's network policy, otherwise
    through a managed port-forward that repairs itself; the client uses the cluster's TLS
    certificate from this machine's state directory.

    Without a name it connects to the cluster the environment names — in the notebook of
    ``cluster up --jupyter``, ``DASK_SCHEDULER_ADDRESS`` and dask's TLS settings — as
    ``Client()`` would.

    Raises:
        ClusterError: no such cluster, not ready, no client certificate, or unreachable.
        ConfigError: no name, and no ``DASK_SCHEDULER_ADDRESS`` either.
    """
    if name is None:
        return ClusterConnection(environment_endpoint(), timeout=timeout)
    found, _, _ = find_cluster(name, namespace, backend=backend, context=context)
    assert found is not None
    return found.connect(name, namespace, timeout=timeout)

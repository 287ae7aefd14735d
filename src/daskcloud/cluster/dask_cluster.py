"""daskcloud's clusters as a ``distributed.deploy.Cluster``: the object Dask users already use.

:class:`DaskcloudCluster` wraps a :class:`~daskcloud.cluster.backends.Backend` (local
processes, Kubernetes, Slurm): it creates the cluster through ``Backend.up`` (or attaches to
one that runs, :meth:`DaskcloudCluster.from_name`), connects to the scheduler through
``Backend.endpoint`` (a port-forward and TLS for Kubernetes) and implements ``scale`` with
``Backend.scale``. Everything else comes from distributed's ``Cluster``: ``Client(cluster)``,
``adapt(minimum, maximum)`` (the scheduler's adaptive target drives ``scale``, so for
Kubernetes the worker Deployment's replicas follow it), ``get_logs()``, ``scheduler_info``,
the notebook widget (``_repr_html_``), ``close()`` and the ``with`` block::

    with DaskcloudCluster("hpo", backend="local", workers=2) as cluster, Client(cluster) as client:
        client.submit(sum, [1, 2]).result()

Closing deletes the cluster only when this object created it (``shutdown_on_close``); a
cluster it attached to keeps running, like ``KubeCluster.from_name``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from distributed.deploy.cluster import Cluster

from daskcloud.cluster._spec import ClusterSpec
from daskcloud.cluster.backends import Backend, find_cluster, get_backend
from daskcloud.exceptions import ClusterError

__all__ = ["DaskcloudCluster"]


class DaskcloudCluster(Cluster):
    """A daskcloud cluster (``local``, ``kubernetes`` or ``slurm``) as a Dask ``Cluster``.

    Args:
        name: the cluster's name (a DNS label).
        backend: ``"local"`` (default), ``"kubernetes"``, ``"slurm"`` or a Backend.
        namespace: Kubernetes namespace (default: the kube context's).
        create: create the cluster when none of that name runs (else ClusterError).
        shutdown_on_close: delete the cluster on ``close()``; default: when created here.
        timeout: seconds to wait for a new cluster to be ready.
        **options: ClusterSpec fields for a new cluster (``workers``, ``cpu``, ``memory``,
            ``idle_timeout``, ``max_lifetime``, ``price_per_hour``, ``image``, ...).

    >>> from distributed import Client                                    # doctest: +SKIP
    >>> with DaskcloudCluster("demo", workers=1) as cluster, Client(cluster) as client:
    ...     cluster.scale(2)
    ...     client.wait_for_workers(2)
    """

    def __init__(
        self,
        name: str = "dask",
        *,
        backend: str | Backend = "local",
        namespace: str | None = None,
        create: bool = True,
        shutdown_on_close: bool | None = None,
        timeout: float = 300.0,
        context: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(asynchronous=False, name=name)
        self.backend = get_backend(backend, context=context)
        status = self.backend.find(name, namespace)
        created = False
        if status is None or status.state == "finished":
            if not create:
                raise ClusterError(
                    f"no {self.backend.kind} cluster {name!r} is running; create it with "
                    f"DaskcloudCluster({name!r}, backend={self.backend.kind!r}) or "
                    "`daskcloud cluster up`"
                )
            where = {} if namespace is None else {"namespace": namespace}
            spec = ClusterSpec(name=name, **where, **options)
            status = self.backend.up(spec, timeout=timeout)
            created = True
        self.namespace = status.namespace
        self.shutdown_on_close = created if shutdown_on_close is None else shutdown_on_close
        self._wanted = status.workers_wanted
        self._endpoint = self.backend.endpoint(name, self.namespace)
        self.security = self._endpoint.security  # Client(cluster) reads it for tls://
        self._loop_runner.start()
        try:
            self.sync(self._start)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_name(
        cls, name: str, namespace: str | None = None, *, backend: str | Backend | None = None,
        context: str | None = None,
    ) -> DaskcloudCluster:  # fmt: skip
        """Attach to a running cluster (any backend that has it); closing keeps it running."""
        found, _, _ = find_cluster(name, namespace, backend=backend, context=context)
        return cls(name, backend=found, namespace=namespace, create=False)

    async def _start(self) -> None:
        from distributed.core import rpc

        args = self.security.get_connection_args("client") if self.security else {}
        self.scheduler_comm = rpc(self._endpoint.address, connection_args=args)
        await super()._start()

    @property
    def dashboard_link(self) -> str:
        """The dashboard's URL as reachable from here (through the port-forward, if any)."""
        return self._endpoint.dashboard_url or super().dashboard_link

    # -- scaling: the backend does it; adaptive calls these from the event loop --------------

    @property
    def plan(self) -> set[str]:
        return {f"{self.name}-{i}" for i in range(self._wanted)}

    requested = plan

    def scale(self, n: int) -> Any:
        """Ask the backend for ``n`` workers (non-blocking when adaptive calls it)."""
        self._wanted = int(n)
        if self.called_from_running_loop:
            return asyncio.get_running_loop().run_in_executor(None, self._scale, self._wanted)
        self._scale(self._wanted)
        return None

    def _scale(self, n: int) -> None:
        self.backend.scale(self.name, n, self.namespace)
        self._log(f"scaled to {n} workers")

    def scale_down(self, workers: Any) -> Any:
        """Adaptive retired ``workers`` on the scheduler; shrink the backend by as many."""
        return self.scale(max(0, self._wanted - len(list(workers))))

    # -- closing -------------------------------------------------------------------------------

    async def _close(self) -> None:
        await super()._close()
        for closer in reversed(self._endpoint.closers if hasattr(self, "_endpoint") else []):
            with contextlib.suppress(Exception):
                closer()
        if getattr(self, "shutdown_on_close", False):
            await asyncio.get_running_loop().run_in_executor(
                None, self.backend.down, self.name, self.namespace
            )

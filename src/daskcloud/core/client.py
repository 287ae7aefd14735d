"""A ``distributed.Client`` from what the user gave: nothing, an address, or a Client.

:func:`open_client` normalises ``client=`` once, at the entry point
(``DaskSearchCV.fit``, the jobs); the rest of the code sees a connected Client:

==================  ===========================================================
``None``            a new :class:`LocalDaskCluster` (worker processes, one thread
                    each, one per core), closed afterwards
``"tcp://..."``     :func:`connect` to that scheduler (``tls://`` with a
                    ``Security``), closed afterwards
a ``Client``        used as it is and left open
==================  ===========================================================

``LocalDaskCluster`` turns a few friendly options into a ``distributed.LocalCluster``,
connects a ``Client`` and tears both down in :meth:`~LocalDaskCluster.close`, which is
safe to call twice. Use it as a context manager::

    with LocalDaskCluster(n_workers=2) as cluster:
        cluster.client.submit(sum, [1, 2]).result()

Cluster *backends* (``daskcloud.cluster``: detached local processes, Kubernetes) build
on this module; it knows nothing about them.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from daskcloud.core.closing import Closing
from daskcloud.exceptions import ClusterError, ConfigError

__all__ = ["LocalDaskCluster", "connect", "default_n_workers", "open_client"]


def default_n_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class LocalDaskCluster(Closing):
    """A local Dask cluster of ``n_workers`` processes x ``threads_per_worker`` threads.

    Nothing starts in ``__init__``; :meth:`start` (or ``with``) starts the
    scheduler and workers and connects :attr:`client`.
    """

    def __init__(
        self,
        n_workers: int | None = None,
        *,
        threads_per_worker: int = 1,
        memory_limit: str | float | None = "auto",
        dashboard_address: str | None = ":0",
        silence_logs: int = logging.ERROR,
        **options: Any,
    ) -> None:
        n = default_n_workers() if n_workers is None else n_workers
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n_workers must be a positive integer, got {n_workers!r}")
        if threads_per_worker < 1:
            raise ConfigError(f"threads_per_worker must be >= 1, got {threads_per_worker!r}")
        self.n_workers = n
        self.threads_per_worker = threads_per_worker
        self._kwargs: dict[str, Any] = {
            "n_workers": n,
            "threads_per_worker": threads_per_worker,
            "processes": True,
            "memory_limit": memory_limit,
            "dashboard_address": dashboard_address,
            "silence_logs": silence_logs,
            **options,
        }
        self.cluster: Any = None
        self.client: Any = None

    def start(self) -> LocalDaskCluster:
        """Start the scheduler and the workers, connect a client; return self."""
        if self.client is not None:
            return self
        from distributed import Client, LocalCluster

        try:
            self.cluster = LocalCluster(**self._kwargs)
            self.closing(self.cluster.close)
            self.client = Client(self.cluster)
            self.closing(self.client.close)
        except Exception as e:
            self.close()
            raise ClusterError(
                f"cannot start a local Dask cluster with {self.n_workers} workers: {e}; "
                "try fewer workers or pass client= an existing cluster"
            ) from e
        return self

    @property
    def address(self) -> str | None:
        """The scheduler's address once started."""
        return None if self.cluster is None else self.cluster.scheduler_address

    def close(self) -> None:
        """Close the client, then the cluster (:class:`~daskcloud.core.closing.Closing`);
        safe to call twice."""
        super().close()
        self.client = self.cluster = None

    def __enter__(self) -> LocalDaskCluster:
        return self.start()

    def __repr__(self) -> str:
        state = self.address or "not started"
        return f"LocalDaskCluster(n_workers={self.n_workers}, {state})"


def connect(address: str, *, security: Any = None, timeout: float = 30) -> Any:
    """Return a ``distributed.Client`` connected to the scheduler at ``address``.

    ``tls://`` addresses need ``security`` (a ``distributed.security.Security``
    with the cluster's CA and client certificate).
    """
    from distributed import Client

    if not isinstance(address, str) or ("://" not in address and ":" not in address):
        raise ConfigError(
            f"invalid scheduler address {address!r}; give one like tcp://10.0.0.5:8786"
        )
    if address.startswith("tls://") and security is None:
        security = _security_from_config()
    if address.startswith("tls://") and security is None:
        raise ConfigError(
            f"the scheduler {address} uses TLS; pass security= a distributed Security object "
            "with the cluster's CA and client certificate"
        )
    try:
        return Client(address, security=security, timeout=timeout)
    except (OSError, TimeoutError) as e:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s: {e}; check "
            "the address, that the scheduler runs, and any port-forward or firewall"
        ) from e


def _security_from_config() -> Any:
    """TLS settings from Dask's configuration (``DASK_DISTRIBUTED__COMM__TLS__*``), if any.

    This is how a pod of a daskcloud cluster (the ``--detach`` driver) finds its certificate.
    """
    from distributed.security import Security

    security = Security()
    return security if security.tls_ca_file and security.tls_client_cert else None


@contextlib.contextmanager
def open_client(
    client: Any = None, *, n_workers: int | None = None, security: Any = None
) -> Iterator[Any]:
    """Yield a Client: a new local cluster (closed afterwards), a connection to an address
    (closed afterwards; ``security`` for ``tls://``), or the given Client (left open)."""
    if client is None:
        with LocalDaskCluster(n_workers=n_workers) as cluster:
            yield cluster.client
    elif isinstance(client, str):
        c = connect(client, security=security)
        try:
            yield c
        finally:
            c.close()
    else:
        yield client

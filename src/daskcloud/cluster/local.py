"""An embedded LocalCluster: worker processes with one thread each, closed when done.

``LocalDaskCluster`` turns a few friendly options into a ``distributed.LocalCluster``
(worker *processes*, one thread each, as many as cores; the dashboard on Dask's default
port 8787 when it is free, else on a free port), connects a ``Client``
and tears both down in :meth:`~LocalDaskCluster.close`, which is safe to call
twice. Use it as a context manager::

    with LocalDaskCluster(n_workers=2) as cluster:
        cluster.client.submit(sum, [1, 2]).result()
"""

from __future__ import annotations

import logging
import os
from typing import Any

from daskcloud.exceptions import ClusterError, ConfigError

__all__ = ["LocalDaskCluster", "default_n_workers"]


def default_n_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class LocalDaskCluster:
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
        dashboard_address: str | None = ":8787",
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
            self.client = Client(self.cluster)
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
        """Close the client and the cluster; safe to call twice."""
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def __enter__(self) -> LocalDaskCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = self.address or "not started"
        return f"LocalDaskCluster(n_workers={self.n_workers}, {state})"

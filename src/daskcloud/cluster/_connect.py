"""Reaching a cluster: where its scheduler is (:class:`Endpoint`) and a connected client.

A backend says how to reach a cluster (:meth:`~daskcloud.cluster.backends.Backend.endpoint`:
address, TLS, a port-forward to close afterwards); :class:`ClusterConnection` holds the
``distributed.Client`` and closes what keeps it connected. :func:`tls_security` turns the
``--tls-*`` flags into dask's ``Security``. All of it is re-exported by
:mod:`daskcloud.cluster.backends`, with ``connect_cluster``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from daskcloud.core.closing import Closing
from daskcloud.exceptions import ClusterError, ConfigError

__all__ = [
    "ClusterConnection",
    "Endpoint",
    "NotebookEndpoint",
    "environment_endpoint",
    "tls_security",
]


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


class ClusterConnection(Closing):
    """A ``distributed.Client`` connected to a cluster, plus what keeps it connected.

    ``close()`` closes the client and then any port-forward; it is safe to call twice (the one
    idempotent close of :class:`~daskcloud.core.closing.Closing`, which the embedded
    ``LocalDaskCluster`` shares). Use it as a context manager. Closing never deletes the
    cluster (``cluster down`` does).
    """

    def __init__(self, endpoint: Endpoint, *, timeout: float = 60.0) -> None:
        from distributed import Client

        self.endpoint = endpoint
        self.dashboard_url = endpoint.dashboard_url
        if endpoint.dashboard_url:  # links Dask prints (client.dashboard_link) use the forward
            import dask.config

            restore = dask.config.set({"distributed.dashboard.link": endpoint.dashboard_url})
            self.closing(lambda: restore.__exit__(None, None, None))  # runs last
        for closer in endpoint.closers:
            self.closing(closer)
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
        self.closing(self.client.close)

    def __enter__(self) -> ClusterConnection:
        return self


def environment_endpoint() -> Endpoint:
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

"""Where searches run: an embedded local cluster, any scheduler by address, or Kubernetes.

:func:`open_client` normalises ``client=`` (None, an address or a Client) once,
at the entry point; the rest of the code sees a connected ``distributed.Client``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from daskcloud.cluster._versions import check_versions, compare_versions
from daskcloud.cluster.address import connect
from daskcloud.cluster.backends import ClusterConnection, connect_cluster, tls_security
from daskcloud.cluster.local import LocalDaskCluster, default_n_workers

__all__ = [
    "ClusterConnection",
    "LocalDaskCluster",
    "check_versions",
    "compare_versions",
    "connect",
    "connect_cluster",
    "default_n_workers",
    "open_client",
    "tls_security",
]


@contextlib.contextmanager
def open_client(
    client: Any = None, *, n_workers: int | None = None, security: Any = None
) -> Iterator[Any]:
    """Yield a Client: a new local cluster (closed afterwards), a connection to an address
    (closed afterwards; ``security`` for ``tls://``), the given Client (left open), or what
    a zero-argument callable's context manager yields (opened only now, so that the
    caller's inputs are checked before any cluster starts)."""
    if callable(client) and not hasattr(client, "submit"):
        with client() as opened:
            yield opened
    elif client is None:
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

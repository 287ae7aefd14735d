"""Where searches run: an embedded local cluster, any scheduler by address, or Kubernetes.

:func:`open_client` (from :mod:`daskcloud.core.client`) normalises ``client=`` (None, an
address or a Client) once, at the entry point; the rest of the code sees a connected
``distributed.Client``. The backends (:mod:`daskcloud.cluster.backends`) create and
manage clusters of their own.
"""

from __future__ import annotations

from daskcloud.cluster._state import cluster_price
from daskcloud.cluster.backends import ClusterConnection, connect_cluster, tls_security
from daskcloud.core.client import LocalDaskCluster, connect, default_n_workers, open_client
from daskcloud.core.versions import check_versions, compare_versions

__all__ = [
    "ClusterConnection",
    "LocalDaskCluster",
    "check_versions",
    "cluster_price",
    "compare_versions",
    "connect",
    "connect_cluster",
    "default_n_workers",
    "open_client",
    "tls_security",
]

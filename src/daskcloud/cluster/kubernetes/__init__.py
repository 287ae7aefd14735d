"""Dask clusters on Kubernetes: the typed spec and the pure builders of its objects.

:class:`ClusterSpec` describes a cluster; :func:`build_scheduler_job` and :func:`build_cluster`
turn it into Kubernetes objects (plain dicts); :func:`generate_tls` makes its per-cluster
certificates; :func:`build_notebook` the JupyterLab next to the scheduler (``--jupyter``);
:func:`build_rbac` the launcher's namespaced Role. Nothing here talks to an API
server — see ``docs/kubernetes.md``.
"""

from __future__ import annotations

from daskcloud.cluster.kubernetes._manifests import (
    build_cluster,
    build_scheduler_job,
    build_worker_deployment,
)
from daskcloud.cluster.kubernetes._meta import (
    CLIENT_LABEL,
    CLUSTER_ID_LABEL,
    CLUSTER_LABEL,
    Owner,
)
from daskcloud.cluster.kubernetes._network import (
    build_network_policies,
    build_service,
    client_labels,
)
from daskcloud.cluster.kubernetes._notebook import (
    JUPYTER_PORT,
    NotebookFiles,
    build_notebook,
    build_notebook_pvc,
)
from daskcloud.cluster.kubernetes._rbac import LAUNCHER_RULES, build_rbac
from daskcloud.cluster.kubernetes._spec import (
    DASHBOARD_PORT,
    SCHEDULER_PORT,
    ClusterSpec,
    Toleration,
    default_image,
)
from daskcloud.cluster.kubernetes._sync import (
    OVERLAY_PATH,
    add_overlay,
    build_sync_config_map,
    cluster_bundle_of,
)
from daskcloud.cluster.kubernetes._tls import (
    ClientCredentials,
    ClusterTLS,
    build_tls_secret,
    client_credentials,
    client_security,
    generate_tls,
    state_home,
    write_client_credentials,
)
from daskcloud.cluster.kubernetes._yaml import delete_command, manifests_for_apply, render_yaml

__all__ = [
    "CLIENT_LABEL",
    "CLUSTER_ID_LABEL",
    "CLUSTER_LABEL",
    "DASHBOARD_PORT",
    "JUPYTER_PORT",
    "LAUNCHER_RULES",
    "OVERLAY_PATH",
    "SCHEDULER_PORT",
    "ClientCredentials",
    "ClusterSpec",
    "ClusterTLS",
    "NotebookFiles",
    "Owner",
    "Toleration",
    "add_overlay",
    "build_cluster",
    "build_network_policies",
    "build_notebook",
    "build_notebook_pvc",
    "build_rbac",
    "build_scheduler_job",
    "build_service",
    "build_sync_config_map",
    "build_tls_secret",
    "build_worker_deployment",
    "client_credentials",
    "client_labels",
    "client_security",
    "cluster_bundle_of",
    "default_image",
    "delete_command",
    "generate_tls",
    "manifests_for_apply",
    "render_yaml",
    "state_home",
    "write_client_credentials",
]

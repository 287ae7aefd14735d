"""Pure builders: who reaches the scheduler — its Service, the NetworkPolicies, client pods.

::

    Service <name>-scheduler              ClusterIP, 8786 comm (TLS) and 8787 dashboard
    NetworkPolicy <name>-scheduler        8786 only from this cluster's workers and clients
    NetworkPolicy <name>-workers          workers only from this cluster's pods and clients

An in-cluster client (a detached search driver, a notebook) wears :func:`client_labels` and
gets :func:`client_pod_env`, so ``Client()`` connects with no arguments. Nothing here performs
I/O.
"""

from __future__ import annotations

from typing import Any

from daskcloud.cluster.kubernetes._meta import CLIENT_LABEL, Owner, labels, metadata, selector
from daskcloud.cluster.kubernetes._pods import TMP, pod_env
from daskcloud.cluster.kubernetes._spec import DASHBOARD_PORT, SCHEDULER_PORT, ClusterSpec
from daskcloud.cluster.kubernetes._tls import TLS_MOUNT_PATH

__all__ = [
    "build_network_policies",
    "build_service",
    "client_labels",
    "client_pod_env",
    "network_policy",
]


def build_service(spec: ClusterSpec, *, owner: Owner | None = None) -> dict[str, Any]:
    """ClusterIP Service for the scheduler; never a LoadBalancer or NodePort."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, spec.scheduler_name, "scheduler", owner),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(spec, "scheduler"),
            "ports": [
                {"name": "tcp-comm", "port": SCHEDULER_PORT, "targetPort": "tcp-comm"},
                {"name": "http-dashboard", "port": DASHBOARD_PORT, "targetPort": "http-dashboard"},
            ],
        },
    }


def network_policy(
    spec: ClusterSpec,
    name: str,
    component: str,
    *,
    ingress: list[dict[str, Any]],
    pods: dict[str, str] | None = None,
    owner: Owner | None = None,
) -> dict[str, Any]:
    """An Ingress NetworkPolicy: the ``pods`` selected (default: the component's) admit only
    what the ``ingress`` rules name."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(spec, name, component, owner),
        "spec": {
            "podSelector": {"matchLabels": selector(spec, component) if pods is None else pods},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }


def build_network_policies(
    spec: ClusterSpec, *, owner: Owner | None = None
) -> list[dict[str, Any]]:
    """Ingress rules: 8786 from this cluster's workers and clients only; workers from the cluster.

    Clients are pods labelled as this cluster's clients (:func:`client_labels`) or pods of the
    namespace labelled ``daskcloud.io/client: "true"``; the policies never look outside the
    namespace (no ``namespaceSelector``, no ``ipBlock``).

    Nothing admits 8787: the dashboard listens on loopback and is reached through
    ``kubectl port-forward`` only. Port-forwarded traffic enters the pod's network namespace
    through the kubelet and the container runtime and connects to localhost, so no
    NetworkPolicy applies to it; ``pods/portforward`` RBAC permission is what guards it.
    """
    peers = _client_peers(spec)
    workers = {"podSelector": {"matchLabels": selector(spec, "worker")}}
    comm = {"from": [workers, *peers], "ports": [{"protocol": "TCP", "port": SCHEDULER_PORT}]}
    # scheduler -> worker/nanny, worker <-> worker (random ports), in-cluster clients
    cluster = {"from": [{"podSelector": {"matchLabels": selector(spec)}}, *peers]}
    return [
        network_policy(spec, spec.scheduler_name, "scheduler", ingress=[comm], owner=owner),
        network_policy(spec, spec.workers_name, "worker", ingress=[cluster], owner=owner),
    ]


def client_labels(spec: ClusterSpec) -> dict[str, str]:
    """Labels of an in-cluster client pod of this cluster (e.g. a detached search driver).

    Any pod of the namespace labelled ``daskcloud.io/client: "true"`` (a notebook, say) may
    reach the scheduler too; it still needs the client certificate to be let in.
    """
    return {**labels(spec, "client"), CLIENT_LABEL: "true"}


def client_pod_env(spec: ClusterSpec) -> list[dict[str, Any]]:
    """Environment of an in-cluster client pod: ``Client()`` connects with no arguments.

    ``DASK_SCHEDULER_ADDRESS`` and the ``DASK_DISTRIBUTED__COMM__TLS__*`` settings point at the
    scheduler Service and the mounted TLS Secret; the pod authenticates with the workers'
    certificate (the cluster's CA issued it for client and server use).
    """
    tls = TLS_MOUNT_PATH
    return [
        *(e for e in pod_env(tmpdir=TMP) if not e["name"].startswith("DASK_")),
        {"name": "DASK_SCHEDULER_ADDRESS", "value": spec.scheduler_address},
        {"name": "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION", "value": "True"},
        {"name": "DASK_DISTRIBUTED__COMM__TLS__CA_FILE", "value": f"{tls}/ca.pem"},
        {"name": "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT", "value": f"{tls}/worker.pem"},
        {"name": "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY", "value": f"{tls}/worker-key.pem"},
    ]


def _client_peers(spec: ClusterSpec) -> list[dict[str, Any]]:
    """NetworkPolicy peers for in-cluster clients: this cluster's, or the namespace's labelled."""
    return [
        {"podSelector": {"matchLabels": selector(spec, "client")}},
        {"podSelector": {"matchLabels": {CLIENT_LABEL: "true"}}},
    ]

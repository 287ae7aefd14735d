"""Object metadata shared by every manifest: names, labels and the owner reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from daskcloud._version import __version__
from daskcloud.cluster.kubernetes._spec import ClusterSpec

__all__ = [
    "CLIENT_LABEL",
    "CLUSTER_ID_LABEL",
    "CLUSTER_LABEL",
    "COMPONENT_LABEL",
    "ROLE_LABEL",
    "Owner",
    "labels",
    "metadata",
    "selector",
]

CLUSTER_LABEL = "daskcloud.io/cluster"
CLUSTER_ID_LABEL = "daskcloud.io/cluster-id"
#: in-cluster client pods of the namespace (e.g. a notebook) carry ``daskcloud.io/client: "true"``
CLIENT_LABEL = "daskcloud.io/client"
COMPONENT_LABEL = "app.kubernetes.io/component"
#: which in-cluster client a client pod is: ``driver`` (a detached search) or ``jupyter``
ROLE_LABEL = "daskcloud.io/role"


@dataclass(frozen=True)
class Owner:
    """The scheduler Job that owns a cluster's other objects, known once the Job exists.

    Kubernetes' garbage collector deletes every object that names the Job in its
    ``ownerReferences`` when the Job is deleted or removed by ``ttlSecondsAfterFinished``.
    """

    name: str
    uid: str

    def reference(self) -> dict[str, Any]:
        """The ``metadata.ownerReferences`` entry pointing at the Job."""
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": self.name,
            "uid": self.uid,
            "blockOwnerDeletion": True,
        }


def labels(spec: ClusterSpec, component: str) -> dict[str, str]:
    """The ``app.kubernetes.io/*`` labels plus the cluster's name and id."""
    return {
        "app.kubernetes.io/name": "dask",
        "app.kubernetes.io/instance": spec.name,
        COMPONENT_LABEL: component,
        "app.kubernetes.io/part-of": "daskcloud",
        "app.kubernetes.io/managed-by": "daskcloud",
        "app.kubernetes.io/version": __version__,
        CLUSTER_LABEL: spec.name,
        CLUSTER_ID_LABEL: spec.cluster_id,
    }


def selector(spec: ClusterSpec, component: str | None = None) -> dict[str, str]:
    """Labels that select this cluster's pods (of one component, when given)."""
    out = {CLUSTER_ID_LABEL: spec.cluster_id}
    if component is not None:
        out[COMPONENT_LABEL] = component
    return out


def metadata(
    spec: ClusterSpec, name: str, component: str, owner: Owner | None = None
) -> dict[str, Any]:
    """``metadata`` of one object: name, namespace, labels and, when owned, the Job reference."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": spec.namespace,
        "labels": labels(spec, component),
    }
    if owner is not None:
        meta["ownerReferences"] = [owner.reference()]
    return meta

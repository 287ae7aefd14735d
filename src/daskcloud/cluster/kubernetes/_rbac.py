"""Least-privilege RBAC for whoever launches clusters: one namespaced Role and its RoleBinding.

The rules list exactly what the lifecycle does, and nothing cluster-scoped or wildcarded:

- ``jobs``: create the scheduler Job, watch it, delete it (which deletes the cluster);
  ``jobs/finalizers`` update, because owned objects set ``blockOwnerDeletion`` and clusters
  running the ``OwnerReferencesPermissionEnforcement`` admission plugin (OpenShift) require it.
- ``deployments``: create the workers, patch ``spec.replicas`` to scale; no delete (the garbage
  collector deletes them with the Job).
- ``services``, ``networkpolicies``: create and read.
- ``secrets``: **create only**. RBAC cannot limit ``create`` to names, and granting ``get`` would
  expose every Secret in the namespace; the launcher never reads its TLS Secret back (it keeps
  the client's files locally). Use a namespace dedicated to Dask clusters all the same: ``create``
  on deployments lets a pod mount any Secret of its namespace.
- ``pods``, ``pods/log``, ``events``: read, to explain Pending and failing pods.
- ``pods/portforward``: create, to reach the scheduler from outside the cluster.
"""

from __future__ import annotations

from typing import Any

from daskcloud._version import __version__

__all__ = ["LAUNCHER_NAME", "LAUNCHER_RULES", "build_rbac"]

LAUNCHER_NAME = "daskcloud-launcher"

#: (apiGroup, resource) -> verbs the launcher is granted
LAUNCHER_RULES: dict[tuple[str, str], tuple[str, ...]] = {
    ("batch", "jobs"): ("create", "get", "list", "watch", "delete"),
    ("batch", "jobs/finalizers"): ("update",),
    ("apps", "deployments"): ("create", "get", "list", "patch"),
    ("", "services"): ("create", "get", "list"),
    ("networking.k8s.io", "networkpolicies"): ("create", "get", "list"),
    ("", "secrets"): ("create",),
    ("", "pods"): ("get", "list", "watch"),
    ("", "pods/log"): ("get",),
    ("", "pods/portforward"): ("create",),
    ("", "events"): ("list", "watch"),
    # --detach: the search spec as a ConfigMap, the journal on a PersistentVolumeClaim
    ("", "configmaps"): ("create",),
    ("", "persistentvolumeclaims"): ("get", "create"),
}


def build_rbac(
    namespace: str, *, service_account: str = LAUNCHER_NAME, create_service_account: bool = True
) -> list[dict[str, Any]]:
    """ServiceAccount (optional), Role and RoleBinding granting :data:`LAUNCHER_RULES`.

    To grant a person instead of the ServiceAccount, bind the same Role:
    ``kubectl create rolebinding alice-daskcloud --role=daskcloud-launcher --user=alice -n NS``.
    """
    meta = {
        "namespace": namespace,
        "labels": {
            "app.kubernetes.io/name": "daskcloud",
            "app.kubernetes.io/component": "launcher",
            "app.kubernetes.io/part-of": "daskcloud",
            "app.kubernetes.io/managed-by": "daskcloud",
            "app.kubernetes.io/version": __version__,
        },
    }
    rules = [
        {"apiGroups": [group], "resources": [resource], "verbs": list(verbs)}
        for (group, resource), verbs in LAUNCHER_RULES.items()
    ]
    objects: list[dict[str, Any]] = []
    if create_service_account:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": service_account, **meta},
                # pods that act as the launcher opt in to a token explicitly
                "automountServiceAccountToken": False,
            }
        )
    objects += [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": LAUNCHER_NAME, **meta},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": LAUNCHER_NAME, **meta},
            "subjects": [
                {"kind": "ServiceAccount", "name": service_account, "namespace": namespace}
            ],
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": LAUNCHER_NAME,
            },
        },
    ]
    return objects

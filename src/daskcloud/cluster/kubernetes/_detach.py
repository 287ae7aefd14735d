"""Pure builders for a detached search: the driver as a Job in the cluster, its journal on a PVC.

``daskcloud tune SPEC --cluster N --detach`` lets a long search outlive the laptop: the search
driver runs in a pod next to the scheduler and appends to a journal on a PersistentVolumeClaim,
so a driver restarted by Kubernetes resumes by replaying it::

    Job <name>-driver          daskcloud <args>   (owned by the scheduler Job: down deletes it)
    ├── ConfigMap <name>-driver-spec   the search spec file, mounted read-only at /spec
    PersistentVolumeClaim <name>-journal   NOT owned: the results survive `cluster down`

The driver pod reuses the scheduler pod's hardened spec (non-root, read-only root filesystem,
no service-account token, the cluster's TLS Secret) and carries the cluster's *client* labels,
which the scheduler's NetworkPolicy admits. It authenticates with the workers' certificate
(issued for client and server use by the cluster's CA). Nothing here performs I/O.

Unverified against a real cluster: these objects validate against the Kubernetes schemas, but no
driver pod has run in a real cluster yet (see docs/cluster.md).
"""

from __future__ import annotations

import copy
from typing import Any

from daskcloud.cluster.kubernetes._manifests import build_scheduler_job
from daskcloud.cluster.kubernetes._meta import ROLE_LABEL, Owner, labels
from daskcloud.cluster.kubernetes._network import client_labels, client_pod_env
from daskcloud.cluster.kubernetes._spec import ClusterSpec
from daskcloud.cluster.kubernetes._sync import add_overlay
from daskcloud.sync import SyncBundle

__all__ = [
    "DRIVER_ROLE_LABEL",
    "JOURNAL_MOUNT",
    "SPEC_MOUNT",
    "build_detached_driver",
    "build_journal_pvc",
]

DRIVER_ROLE_LABEL = ROLE_LABEL
JOURNAL_MOUNT = "/journal"
SPEC_MOUNT = "/spec"
_DRIVER_RETRIES = 3  # a driver killed with its node resumes from the journal


def build_journal_pvc(
    spec: ClusterSpec, *, size: str = "1Gi", storage_class: str | None = None
) -> dict[str, Any]:
    """The journal's PersistentVolumeClaim (ReadWriteOnce), labelled but not owned."""
    pvc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": f"{spec.name}-journal",
            "namespace": spec.namespace,
            "labels": labels(spec, "journal"),
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }
    if storage_class:
        pvc["spec"]["storageClassName"] = storage_class
    return pvc


def build_detached_driver(
    spec: ClusterSpec,
    *,
    owner: Owner,
    args: list[str],
    spec_file: tuple[str, str] | None = None,
    cpu: str = "1",
    memory: str = "2Gi",
    bundle: SyncBundle | None = None,
) -> list[dict[str, Any]]:
    """The driver Job (and the ConfigMap with the search spec), owned by the scheduler Job.

    Args:
        spec: the cluster.
        owner: the scheduler Job (its name and uid).
        args: arguments of the ``daskcloud`` command in the pod, e.g.
            ``["tune", "/spec/search.yaml", "--journal", "/journal/search.db"]``; the scheduler
            address and TLS settings reach it through ``DASK_*`` environment variables.
        spec_file: ``(file name, text)`` of the search spec, mounted at ``/spec/<file name>``.
        cpu, memory: the driver pod's requests == limits.
        bundle: the cluster's sync bundle: the driver's init container installs all of
            daskcloud's requirements (``requirements-driver.txt`` of the cluster's sync
            ConfigMap) into its overlay. ``None``: the image holds them.
    """
    job_name = f"{spec.name}-driver"
    pod = copy.deepcopy(build_scheduler_job(spec)["spec"]["template"]["spec"])
    (container,) = pod["containers"]
    env = [
        *client_pod_env(spec),
        {"name": "DASKCLOUD_HOME", "value": f"{JOURNAL_MOUNT}/.daskcloud"},
    ]
    container.update(
        name="driver",
        command=["daskcloud"],
        args=list(args),
        env=env,
        resources={
            "requests": {"cpu": cpu, "memory": memory},
            "limits": {"cpu": cpu, "memory": memory},
        },
    )
    container.pop("ports", None)
    container["volumeMounts"].append({"name": "journal", "mountPath": JOURNAL_MOUNT})
    pod["volumes"].append(
        {"name": "journal", "persistentVolumeClaim": {"claimName": f"{spec.name}-journal"}}
    )
    objects: list[dict[str, Any]] = []
    if spec_file is not None:
        file_name, text = spec_file
        config_map = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(spec, f"{spec.name}-driver-spec", owner),
            "immutable": True,
            "data": {file_name: text},
        }
        objects.append(config_map)
        container["volumeMounts"].append(
            {"name": "spec", "mountPath": SPEC_MOUNT, "readOnly": True}
        )
        pod["volumes"].append(
            {"name": "spec", "configMap": {"name": config_map["metadata"]["name"]}}
        )
    pod["restartPolicy"] = "Never"
    if bundle is not None:
        add_overlay(spec, pod, bundle, requirements="requirements-driver.txt")
    pod_labels = {**client_labels(spec), DRIVER_ROLE_LABEL: "driver"}
    objects.append(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": _meta(spec, job_name, owner),
            "spec": {
                "backoffLimit": _DRIVER_RETRIES,
                "activeDeadlineSeconds": spec.max_lifetime_seconds,
                "ttlSecondsAfterFinished": 24 * 3600,  # keep the finished driver's log a day
                "template": {"metadata": {"labels": pod_labels}, "spec": pod},
            },
        }
    )
    return objects


def _meta(spec: ClusterSpec, name: str, owner: Owner) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": spec.namespace,
        "labels": {**labels(spec, "client"), DRIVER_ROLE_LABEL: "driver"},
        "ownerReferences": [owner.reference()],
    }

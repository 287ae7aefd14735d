"""Pure builders for the notebook next to the scheduler (``--jupyter``).

The objects, all owned by the scheduler Job like the rest of the cluster (an idle or over-age
cluster removes its notebook too)::

    Secret <name>-jupyter           the per-cluster Jupyter token (a file, JUPYTER_TOKEN_FILE)
    ConfigMap <name>-examples       the project's examples, copied into ~/examples at start
    Service <name>-jupyter          ClusterIP 8888, the target of `daskcloud cluster jupyter`
    NetworkPolicy <name>-jupyter    admits nothing: JupyterLab listens on the pod's loopback and
                                    is reached through `kubectl port-forward` only
    Deployment <name>-jupyter       one JupyterLab pod: the workers' image and hardening, the
                                    cluster's client labels, Client() connects with no arguments;
                                    its sync init container installs the client's JupyterLab and
                                    ipykernel with daskcloud (the dask image holds no JupyterLab)
    PersistentVolumeClaim <name>-notebook   only with notebook_storage; NOT owned, so the home
                                    directory survives the cluster (like the search journal)

JupyterLab loads :mod:`daskcloud.cluster.jupyter_extension`, which copies the examples and
keeps the cluster alive while a kernel is busy. Nothing here performs I/O.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from daskcloud.cluster.kubernetes._meta import (
    CLUSTER_ID_LABEL,
    COMPONENT_LABEL,
    ROLE_LABEL,
    Owner,
    labels,
    metadata,
)
from daskcloud.cluster.kubernetes._network import client_labels, client_pod_env, network_policy
from daskcloud.cluster.kubernetes._pods import HOME, container_spec, pod_spec, requests_and_limits
from daskcloud.cluster.kubernetes._spec import ClusterSpec
from daskcloud.cluster.kubernetes._sync import add_overlay
from daskcloud.sync import SyncBundle

__all__ = [
    "EXAMPLES_MOUNT",
    "JUPYTER_EXTENSION",
    "JUPYTER_PORT",
    "TOKEN_MOUNT",
    "NotebookFiles",
    "build_notebook",
    "build_notebook_pvc",
    "jupyter_selector",
    "keepalive_interval",
]

JUPYTER_PORT = 8888
JUPYTER_EXTENSION = "daskcloud.cluster.jupyter_extension"
TOKEN_MOUNT = "/etc/daskcloud/jupyter"
EXAMPLES_MOUNT = "/etc/daskcloud/examples"
#: the TLS Secret files the notebook mounts: the CA and the key pair it connects with
_CLIENT_TLS_FILES = ("ca.pem", "worker.pem", "worker-key.pem")


@dataclass(frozen=True)
class NotebookFiles:
    """What the notebook objects carry besides the spec: its token and the example files."""

    token: str
    examples: dict[str, str] = field(default_factory=dict)


def keepalive_interval(spec: ClusterSpec) -> int:
    """Seconds between two busy-kernel checks: a quarter of the idle timeout, 1 to 30 s."""
    return max(1, min(30, spec.idle_timeout_seconds // 4))


def jupyter_selector(spec: ClusterSpec) -> dict[str, str]:
    """Labels that select the notebook pod (a client pod of this cluster, role ``jupyter``)."""
    return {CLUSTER_ID_LABEL: spec.cluster_id, COMPONENT_LABEL: "client", ROLE_LABEL: "jupyter"}


def build_notebook(
    spec: ClusterSpec,
    files: NotebookFiles,
    *,
    owner: Owner | None = None,
    bundle: SyncBundle | None = None,
) -> list[dict[str, Any]]:
    """Token Secret, examples ConfigMap, Service, NetworkPolicy and Deployment, in that order.

    ``bundle``: the pod gets the sync overlay of a detached driver (daskcloud's command-line
    environment) plus JupyterLab and ipykernel, like the cluster's other pods get theirs.

    Raises:
        ValueError: ``bundle`` was made without the notebook's packages
            (``cluster_bundle(notebook=True)``).
    """
    if bundle is not None and not bundle.notebook_requirements:
        raise ValueError("the notebook pod needs a sync bundle made with notebook=True")
    name = spec.jupyter_name
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(spec, name, "jupyter", owner),
        "type": "Opaque",
        "immutable": True,
        "data": {"token": base64.b64encode(files.token.encode()).decode()},
    }
    examples = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(spec, f"{spec.name}-examples", "jupyter", owner),
        "immutable": True,
        "data": dict(sorted(files.examples.items())),
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, name, "jupyter", owner),
        "spec": {
            "type": "ClusterIP",
            "selector": jupyter_selector(spec),
            "ports": [{"name": "http-jupyter", "port": JUPYTER_PORT, "targetPort": "http-jupyter"}],
        },
    }
    # no rule: nothing is admitted over the network. Port-forwarded traffic enters the pod's
    # network namespace through the kubelet and reaches 127.0.0.1, where JupyterLab listens;
    # no NetworkPolicy applies to it (pods/portforward RBAC does).
    policy = network_policy(
        spec, name, "jupyter", pods=jupyter_selector(spec), ingress=[], owner=owner
    )
    return [secret, examples, service, policy, _deployment(spec, owner, bundle)]


def build_notebook_pvc(spec: ClusterSpec, *, storage_class: str | None = None) -> dict[str, Any]:
    """The notebook home's PersistentVolumeClaim (ReadWriteOnce), labelled but not owned."""
    pvc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": f"{spec.name}-notebook",
            "namespace": spec.namespace,
            "labels": labels(spec, "jupyter"),
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": spec.notebook_storage or "1Gi"}},
        },
    }
    if storage_class:
        pvc["spec"]["storageClassName"] = storage_class
    return pvc


def _deployment(
    spec: ClusterSpec, owner: Owner | None, bundle: SyncBundle | None
) -> dict[str, Any]:
    args = [
        # loopback only, like the dashboard: reachable through `kubectl port-forward` alone
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={JUPYTER_PORT}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={HOME}",
        "--ServerApp.jpserver_extensions",
        f"{JUPYTER_EXTENSION}=True",
    ]
    env = [
        *client_pod_env(spec),
        {"name": "JUPYTER_TOKEN_FILE", "value": f"{TOKEN_MOUNT}/token"},
        {"name": "DASKCLOUD_NOTEBOOK_EXAMPLES", "value": EXAMPLES_MOUNT},
        {"name": "DASKCLOUD_KEEPALIVE_INTERVAL", "value": str(keepalive_interval(spec))},
    ]
    container = container_spec(
        spec,
        name="jupyter",
        # `jupyter lab`, able to run from the sync overlay (see the module)
        command=["python", "-m", "daskcloud.cluster.notebook_server"],
        args=args,
        env=env,
        resources=requests_and_limits(spec.cpu, spec.memory),
        ports=[{"name": "http-jupyter", "containerPort": JUPYTER_PORT, "protocol": "TCP"}],
        scratch=False,
    )
    container["volumeMounts"] += [
        {"name": "jupyter-token", "mountPath": TOKEN_MOUNT, "readOnly": True},
        {"name": "examples", "mountPath": EXAMPLES_MOUNT, "readOnly": True},
    ]
    # the kubelet cannot reach a loopback listener, so readiness is checked from inside the pod
    # (/api answers without the token)
    url = f"http://127.0.0.1:{JUPYTER_PORT}/api"
    probe = f"import urllib.request as u; u.urlopen({url!r}, timeout=5)"
    container["readinessProbe"] = {
        "exec": {"command": ["python", "-c", probe]},
        "periodSeconds": 10,
        "timeoutSeconds": 8,
    }
    pod = pod_spec(spec, container, scratch=False, placement=False)
    volumes = {v["name"]: v for v in pod["volumes"]}
    # only the CA and the key pair it connects with, not the scheduler's key
    volumes["tls"]["secret"]["items"] = [{"key": f, "path": f} for f in _CLIENT_TLS_FILES]
    if spec.notebook_storage:
        volumes["home"].pop("emptyDir")
        volumes["home"]["persistentVolumeClaim"] = {"claimName": f"{spec.name}-notebook"}
    pod["volumes"] += [
        {
            "name": "jupyter-token",
            "secret": {"secretName": spec.jupyter_name, "defaultMode": 0o440},
        },
        {"name": "examples", "configMap": {"name": f"{spec.name}-examples", "defaultMode": 0o444}},
    ]
    if bundle is not None:
        add_overlay(spec, pod, bundle, requirements="requirements-notebook.txt")
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec, spec.jupyter_name, "jupyter", owner),
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 1,
            # a ReadWriteOnce home cannot be mounted by the old and the new pod at once
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": jupyter_selector(spec)},
            "template": {
                "metadata": {"labels": {**client_labels(spec), ROLE_LABEL: "jupyter"}},
                "spec": pod,
            },
        },
    }

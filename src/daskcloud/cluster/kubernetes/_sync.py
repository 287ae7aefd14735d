"""Pure builders: the sync ConfigMap, and the overlay + init container a pod needs to use it.

The default tier needs no image build: pods run the official dask image at the client's
versions (``ghcr.io/dask/dask:<version>-py<X.Y>``), and an init container installs the
client's pinned packages and the wheels built on the client into an emptyDir overlay that
the main containers put first on ``PYTHONPATH``::

    ConfigMap <name>-sync      install.py, requirements.txt, requirements-driver.txt,
                               (--jupyter) requirements-notebook.txt, *.whl
    pod
    ├── initContainer sync     python install.py -> /opt/daskcloud/overlay   (HTTPS to the index)
    └── container ...          PYTHONPATH=/opt/daskcloud/overlay, overlay mounted read-only

The root filesystem stays read-only and the pod non-root: pip writes only to the overlay and
to ``/tmp``. :func:`add_overlay` is the one function every pod builder calls (scheduler,
workers, the detached driver, a notebook).
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from daskcloud.cluster.kubernetes._meta import Owner, metadata
from daskcloud.cluster.kubernetes._spec import ClusterSpec
from daskcloud.exceptions import ConfigError
from daskcloud.sync import MAX_OBJECT_BYTES, SyncBundle, cluster_bundle, installer

__all__ = [
    "OVERLAY_PATH",
    "SYNC_MOUNT_PATH",
    "add_overlay",
    "build_sync_config_map",
    "cluster_bundle_of",
    "sync_config_map_name",
]

OVERLAY_PATH = "/opt/daskcloud/overlay"
SYNC_MOUNT_PATH = "/etc/daskcloud/sync"
#: the init container's requests == limits: pip needs little cpu and some memory for wheels
SYNC_CPU = "500m"
SYNC_MEMORY = "512Mi"


def cluster_bundle_of(spec: ClusterSpec) -> SyncBundle:
    """The sync bundle for ``spec``'s pods, read from this environment (the one impure call).

    ``spec.packages`` join daskcloud's own needs; ``spec.index_url`` and
    ``spec.extra_index_urls`` tell pip where to install from; ``spec.jupyter`` adds the
    notebook pod's JupyterLab and ipykernel.
    """
    return cluster_bundle(
        spec.packages,
        index_url=spec.index_url,
        extra_index_urls=spec.extra_index_urls,
        notebook=spec.jupyter,
    )


def sync_config_map_name(spec: ClusterSpec) -> str:
    return f"{spec.name}-sync"


def build_sync_config_map(
    spec: ClusterSpec, bundle: SyncBundle, *, owner: Owner | None = None
) -> dict[str, Any]:
    """The ConfigMap the init containers install from; checked against the 1 MiB object limit.

    Raises:
        ConfigError: the wheels do not fit in one Kubernetes object; the message points to
            the image tier.
    """
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(spec, sync_config_map_name(spec), "sync", owner),
        "immutable": True,
        "data": {
            "install.py": installer(),
            "requirements.txt": "".join(f"{r}\n" for r in bundle.requirements),
            "requirements-driver.txt": "".join(f"{r}\n" for r in bundle.driver_requirements),
        },
        "binaryData": {w.filename: base64.b64encode(w.data).decode() for w in bundle.wheels},
    }
    if bundle.notebook_requirements:
        notebook = "".join(f"{r}\n" for r in bundle.notebook_requirements)
        config_map["data"]["requirements-notebook.txt"] = notebook
    size = len(json.dumps(config_map))
    if size > MAX_OBJECT_BYTES:
        shipped = ", ".join(f"{w.filename} {len(w.data) // 1024} KiB" for w in bundle.wheels)
        raise ConfigError(
            f"the code to ship ({shipped}) makes a {size // 1024} KiB ConfigMap, over the "
            "1 MiB limit of a Kubernetes object; build an image that holds it instead: "
            "daskcloud image build --tag REGISTRY/NAME:TAG --push, then --image REGISTRY/NAME:TAG"
        )
    return config_map


def add_overlay(
    spec: ClusterSpec,
    pod: dict[str, Any],
    bundle: SyncBundle,
    *,
    requirements: str = "requirements.txt",
) -> dict[str, Any]:
    """Give ``pod`` the overlay: volumes, the ``sync`` init container, PYTHONPATH everywhere.

    Every container of the pod mounts the overlay read-only and gets ``PYTHONPATH``; the
    init container reuses the first container's image and security context. ``requirements``
    names the ConfigMap file to install (``requirements-driver.txt`` for a pod that runs
    daskcloud's command line, ``requirements-notebook.txt`` for the notebook). Returns
    ``pod``, changed in place.
    """
    first = pod["containers"][0]
    args = [
        f"{SYNC_MOUNT_PATH}/install.py",
        "--requirements",
        f"{SYNC_MOUNT_PATH}/{requirements}",
        "--wheels",
        SYNC_MOUNT_PATH,
        "--target",
        OVERLAY_PATH,
    ]
    if bundle.index_url:
        args += ["--index-url", bundle.index_url]
    for url in bundle.extra_index_urls:
        args += ["--extra-index-url", url]
    init = {
        "name": "sync",
        "image": first["image"],
        "imagePullPolicy": first.get("imagePullPolicy", "IfNotPresent"),
        "command": ["python"],
        "args": args,
        "env": [
            {"name": "HOME", "value": "/tmp"},
            {"name": "TMPDIR", "value": "/tmp"},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
            {"name": "PIP_NO_CACHE_DIR", "value": "1"},
        ],
        "resources": {
            "requests": {"cpu": SYNC_CPU, "memory": SYNC_MEMORY},
            "limits": {"cpu": SYNC_CPU, "memory": SYNC_MEMORY},
        },
        "volumeMounts": [
            {"name": "sync", "mountPath": SYNC_MOUNT_PATH, "readOnly": True},
            {"name": "overlay", "mountPath": OVERLAY_PATH},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        "securityContext": copy.deepcopy(first["securityContext"]),
    }
    for container in pod["containers"]:
        container["env"] = [
            {"name": "PYTHONPATH", "value": OVERLAY_PATH},
            *[e for e in container.get("env", []) if e["name"] != "PYTHONPATH"],
        ]
        container["volumeMounts"].append(
            {"name": "overlay", "mountPath": OVERLAY_PATH, "readOnly": True}
        )
    pod["initContainers"] = [init]
    pod["volumes"] += [
        {"name": "overlay", "emptyDir": {}},
        {"name": "sync", "configMap": {"name": sync_config_map_name(spec), "defaultMode": 0o444}},
    ]
    if not any(v["name"] == "tmp" for v in pod["volumes"]):
        pod["volumes"].append({"name": "tmp", "emptyDir": {}})
    return pod

"""Pure builders: the pod template every daskcloud pod starts from.

One hardened shape for the scheduler, the workers, the detached driver and the notebook::

    pod        non-root (uid/gid 10001), seccomp RuntimeDefault, no service account token,
    │          no service links; volumes: tls (Secret, 0440), tmp, home, (workers) scratch
    └── container   read-only root filesystem, no privilege escalation, every capability
                    dropped; requests == limits (:func:`requests_and_limits`)

The builders of :mod:`._manifests`, :mod:`._detach` and :mod:`._notebook` fill in the command,
arguments, environment and ports. Nothing here performs I/O.
"""

from __future__ import annotations

from typing import Any

from daskcloud.cluster.kubernetes._spec import ClusterSpec
from daskcloud.cluster.kubernetes._tls import TLS_MOUNT_PATH

__all__ = [
    "HOME",
    "RUN_AS_USER",
    "TMP",
    "WORKER_SCRATCH",
    "container_spec",
    "pod_env",
    "pod_spec",
    "requests_and_limits",
    "tls_args",
]

#: the non-root uid/gid of deploy/Dockerfile's user (>= 10000: no clash with host users)
RUN_AS_USER = 10001
#: writable scratch space; the root filesystem is read-only
HOME = "/home/dask"
TMP = "/tmp"
WORKER_SCRATCH = "/scratch"


def tls_args(role: str) -> list[str]:
    """``dask scheduler``/``dask worker`` arguments for the mounted key pair of ``role``."""
    return [
        "--tls-ca-file",
        f"{TLS_MOUNT_PATH}/ca.pem",
        "--tls-cert",
        f"{TLS_MOUNT_PATH}/{role}.pem",
        "--tls-key",
        f"{TLS_MOUNT_PATH}/{role}-key.pem",
    ]


def pod_env(*, tmpdir: str) -> list[dict[str, Any]]:
    """The environment of every dask container: writable home and temp, encryption required."""
    return [
        {"name": "HOME", "value": HOME},
        {"name": "TMPDIR", "value": TMP},
        {"name": "DASK_TEMPORARY_DIRECTORY", "value": tmpdir},
        {"name": "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION", "value": "True"},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
    ]


def requests_and_limits(cpu: str, memory: str, gpu: int = 0) -> dict[str, Any]:
    """A container's ``resources``: the same amounts requested and allowed."""
    amounts: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if gpu:
        amounts["nvidia.com/gpu"] = str(gpu)
    return {"requests": dict(amounts), "limits": dict(amounts)}


def container_spec(
    spec: ClusterSpec,
    *,
    name: str,
    command: list[str],
    args: list[str],
    env: list[dict[str, Any]],
    resources: dict[str, Any],
    ports: list[dict[str, Any]],
    scratch: bool,
) -> dict[str, Any]:
    """A hardened container of ``spec.image`` with the TLS, tmp, home (and scratch) mounts."""
    mounts = [
        {"name": "tls", "mountPath": TLS_MOUNT_PATH, "readOnly": True},
        {"name": "tmp", "mountPath": TMP},
        {"name": "home", "mountPath": HOME},
    ]
    if scratch:
        mounts.append({"name": "scratch", "mountPath": WORKER_SCRATCH})
    container: dict[str, Any] = {
        "name": name,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "args": args,
        "env": env,
        "resources": resources,
        "volumeMounts": mounts,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if ports:
        container["ports"] = ports
    return container


def pod_spec(
    spec: ClusterSpec, container: dict[str, Any], *, scratch: bool, placement: bool
) -> dict[str, Any]:
    """A hardened pod around ``container``; ``placement`` adds the node selector and tolerations."""
    volumes: list[dict[str, Any]] = [
        # 0440 + fsGroup: readable by the non-root user, by nobody else
        {"name": "tls", "secret": {"secretName": spec.secret_name, "defaultMode": 0o440}},
        {"name": "tmp", "emptyDir": {}},
        {"name": "home", "emptyDir": {}},
    ]
    if scratch:
        volumes.append({"name": "scratch", "emptyDir": {}})
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
        "volumes": volumes,
    }
    # Node selector and tolerations place the workers (spot or GPU pools); the scheduler stays
    # on regular nodes, so reclaiming a spot node costs a worker, not the whole cluster.
    if spec.image_pull_secret:
        pod["imagePullSecrets"] = [{"name": spec.image_pull_secret}]
    if placement and spec.node_selector:
        pod["nodeSelector"] = dict(spec.node_selector)
    if placement and spec.tolerations:
        pod["tolerations"] = [t.to_k8s() for t in spec.tolerations]
    return pod

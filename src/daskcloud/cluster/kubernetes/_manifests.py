"""Pure builders: a :class:`ClusterSpec` (plus its TLS material) in, Kubernetes objects out.

The objects of one cluster::

    Job <name>-scheduler            dask scheduler --idle-timeout; one pod, never restarted,
    │                               activeDeadlineSeconds = max lifetime, ttlSecondsAfterFinished
    ├── Secret <name>-tls           CA + scheduler/worker key pairs (owned by the Job)
    ├── ConfigMap <name>-sync       pinned requirements + wheels for the init containers
    ├── Service <name>-scheduler    ClusterIP, 8786 comm (TLS) and 8787 dashboard
    ├── NetworkPolicy <name>-scheduler   8786 only from this cluster's workers and clients
    ├── NetworkPolicy <name>-workers     workers only from this cluster's pods
    ├── Deployment <name>-workers   dask worker, requests == limits == --nthreads/--memory-limit
    └── (--jupyter) the notebook's Secret, ConfigMap, Service, NetworkPolicy, Deployment
                                    (:mod:`._notebook`)

Creating them in a live cluster (:mod:`._lifecycle`) goes: build and create the Job with
:func:`build_scheduler_job`, read its uid, then create ``build_cluster(spec, tls=...,
owner=Owner(name, uid))``. Deleting the Job (with ``propagationPolicy: Background`` — the API's
default for Jobs orphans dependents) or its expiry makes Kubernetes' garbage collector delete
the rest. Nothing here performs I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from daskcloud.cluster.kubernetes._meta import CLIENT_LABEL, Owner, labels, metadata, selector
from daskcloud.cluster.kubernetes._spec import DASHBOARD_PORT, SCHEDULER_PORT, ClusterSpec
from daskcloud.cluster.kubernetes._sync import add_overlay, build_sync_config_map
from daskcloud.cluster.kubernetes._tls import TLS_MOUNT_PATH, ClusterTLS, build_tls_secret
from daskcloud.sync import SyncBundle

if TYPE_CHECKING:  # pragma: no cover
    from daskcloud.cluster.kubernetes._notebook import NotebookFiles

__all__ = [
    "RUN_AS_USER",
    "SCHEDULER_CPU",
    "SCHEDULER_MEMORY",
    "TTL_AFTER_FINISHED_SECONDS",
    "build_cluster",
    "build_network_policies",
    "build_scheduler_job",
    "build_service",
    "build_worker_deployment",
    "client_labels",
    "client_pod_env",
]

#: the non-root uid/gid of deploy/Dockerfile's user (>= 10000: no clash with host users)
RUN_AS_USER = 10001
#: the scheduler pod's requests == limits (Guaranteed QoS: the scheduler is evicted last)
SCHEDULER_CPU = "1"
SCHEDULER_MEMORY = "2Gi"
#: a finished scheduler Job (and, through ownerReferences, the cluster) is deleted after this
TTL_AFTER_FINISHED_SECONDS = 60
#: writable scratch space; the root filesystem is read-only
HOME = "/home/dask"
TMP = "/tmp"
WORKER_SCRATCH = "/scratch"


def build_cluster(
    spec: ClusterSpec,
    *,
    tls: ClusterTLS,
    owner: Owner | None = None,
    bundle: SyncBundle | None = None,
    notebook: NotebookFiles | None = None,
) -> list[dict[str, Any]]:
    """The cluster's objects in the order to create them.

    Args:
        spec: the cluster.
        tls: its certificates (:func:`~._tls.generate_tls`); the Secret carries them.
        owner: the scheduler Job once it exists. Given, the result is the objects the Job owns
            (with ``ownerReferences``), to create after it. ``None``: every object including
            the Job, without ``ownerReferences`` — for ``kubectl apply``, where no uid exists.
        bundle: what the init containers install (:func:`daskcloud.sync.cluster_bundle`);
            adds the sync ConfigMap and each pod's overlay. ``None``: the image holds
            everything (an image built by ``daskcloud image build``).
        notebook: the notebook's token and examples; required when ``spec.jupyter``. The
            notebook's PersistentVolumeClaim (``spec.notebook_storage``) is among the objects
            for ``kubectl apply`` only: it is not owned, and the lifecycle creates it when
            missing (:func:`~._notebook.build_notebook_pvc`).
    """
    from daskcloud.cluster.kubernetes._notebook import build_notebook, build_notebook_pvc

    sync = [] if bundle is None else [build_sync_config_map(spec, bundle, owner=owner)]
    owned = [
        build_tls_secret(spec, tls, owner=owner),
        *sync,
        build_service(spec, owner=owner),
        *build_network_policies(spec, owner=owner),
        build_worker_deployment(spec, owner=owner, bundle=bundle),
    ]
    extra: list[dict[str, Any]] = []
    if spec.jupyter:
        if notebook is None:
            raise ValueError("spec.jupyter needs notebook=NotebookFiles(token, examples)")
        extra = build_notebook(spec, notebook, owner=owner, bundle=bundle)
        if owner is None and spec.notebook_storage:
            extra.insert(0, build_notebook_pvc(spec))
    if owner is not None:
        return owned + extra
    return [*owned[:-1], build_scheduler_job(spec, bundle=bundle), owned[-1], *extra]


def build_scheduler_job(spec: ClusterSpec, *, bundle: SyncBundle | None = None) -> dict[str, Any]:
    """The scheduler Job: one pod that ends after the idle timeout or the maximum lifetime."""
    args = [
        "--protocol",
        "tls",
        "--port",
        str(SCHEDULER_PORT),
        # loopback only: reachable through `kubectl port-forward` (which enters the pod's own
        # network namespace) and from nowhere else, whether or not the CNI enforces policies
        "--dashboard-address",
        f"127.0.0.1:{DASHBOARD_PORT}",
        "--idle-timeout",
        f"{spec.idle_timeout_seconds}s",
        *_tls_args("scheduler"),
    ]
    container = _container(
        spec,
        name="scheduler",
        command=["dask", "scheduler"],
        args=args,
        env=_env(tmpdir=TMP),
        resources=_resources(SCHEDULER_CPU, SCHEDULER_MEMORY),
        ports=[
            {"name": "tcp-comm", "containerPort": SCHEDULER_PORT, "protocol": "TCP"},
            {"name": "http-dashboard", "containerPort": DASHBOARD_PORT, "protocol": "TCP"},
        ],
        scratch=False,
    )
    pod = _pod_spec(spec, container, scratch=False, placement=False)
    pod["restartPolicy"] = "Never"
    if bundle is not None:
        add_overlay(spec, pod, bundle)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(spec, spec.scheduler_name, "scheduler"),
        "spec": {
            "completions": 1,
            "parallelism": 1,
            # a restarted scheduler would have lost every task; end the cluster instead
            "backoffLimit": 0,
            "activeDeadlineSeconds": spec.max_lifetime_seconds,
            "ttlSecondsAfterFinished": TTL_AFTER_FINISHED_SECONDS,
            "template": {"metadata": {"labels": labels(spec, "scheduler")}, "spec": pod},
        },
    }


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


def build_worker_deployment(
    spec: ClusterSpec, *, owner: Owner | None = None, bundle: SyncBundle | None = None
) -> dict[str, Any]:
    """The workers: requests == limits, and the same numbers handed to ``dask worker``."""
    args = [
        spec.scheduler_address,
        "--name",
        "$(DASK_WORKER_NAME)",
        "--nthreads",
        str(spec.threads_per_worker),
        "--memory-limit",
        str(spec.memory_bytes),
        "--local-directory",
        WORKER_SCRATCH,
        "--no-dashboard",
        *_tls_args("worker"),
    ]
    if spec.gpu:
        args += ["--resources", f"GPU={spec.gpu}"]
    env = [
        {"name": "DASK_WORKER_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        *_env(tmpdir=WORKER_SCRATCH),
    ]
    container = _container(
        spec,
        name="worker",
        command=["dask", "worker"],
        args=args,
        env=env,
        resources=_resources(spec.cpu, spec.memory, spec.gpu),
        ports=[],
        scratch=True,
    )
    pod = _pod_spec(spec, container, scratch=True, placement=True)
    if bundle is not None:
        add_overlay(spec, pod, bundle)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec, spec.workers_name, "worker", owner),
        "spec": {
            "replicas": spec.workers,
            "revisionHistoryLimit": 1,
            "selector": {"matchLabels": selector(spec, "worker")},
            "template": {
                "metadata": {"labels": labels(spec, "worker")},
                "spec": pod,
            },
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
    scheduler_policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(spec, spec.scheduler_name, "scheduler", owner),
        "spec": {
            "podSelector": {"matchLabels": selector(spec, "scheduler")},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": selector(spec, "worker")}},
                        *_client_peers(spec),
                    ],
                    "ports": [{"protocol": "TCP", "port": SCHEDULER_PORT}],
                }
            ],
        },
    }
    workers_policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(spec, spec.workers_name, "worker", owner),
        "spec": {
            "podSelector": {"matchLabels": selector(spec, "worker")},
            "policyTypes": ["Ingress"],
            # scheduler -> worker/nanny, worker <-> worker (random ports), in-cluster clients
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": selector(spec)}}, *_client_peers(spec)]}
            ],
        },
    }
    return [scheduler_policy, workers_policy]


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
        *(e for e in _env(tmpdir=TMP) if not e["name"].startswith("DASK_")),
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


# --- shared pod pieces ---------------------------------------------------------------------


def _tls_args(role: str) -> list[str]:
    return [
        "--tls-ca-file",
        f"{TLS_MOUNT_PATH}/ca.pem",
        "--tls-cert",
        f"{TLS_MOUNT_PATH}/{role}.pem",
        "--tls-key",
        f"{TLS_MOUNT_PATH}/{role}-key.pem",
    ]


def _env(*, tmpdir: str) -> list[dict[str, Any]]:
    return [
        {"name": "HOME", "value": HOME},
        {"name": "TMPDIR", "value": TMP},
        {"name": "DASK_TEMPORARY_DIRECTORY", "value": tmpdir},
        {"name": "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION", "value": "True"},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
    ]


def _resources(cpu: str, memory: str, gpu: int = 0) -> dict[str, Any]:
    amounts: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if gpu:
        amounts["nvidia.com/gpu"] = str(gpu)
    return {"requests": dict(amounts), "limits": dict(amounts)}


def _container(
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


def _pod_spec(
    spec: ClusterSpec, container: dict[str, Any], *, scratch: bool, placement: bool
) -> dict[str, Any]:
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

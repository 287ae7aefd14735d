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

Every pod starts from the hardened template of :mod:`._pods`; the Service and the
NetworkPolicies are built by :mod:`._network`. Creating them in a live cluster
(:mod:`._lifecycle`) goes: build and create the Job with :func:`build_scheduler_job`, read its
uid, then create ``build_cluster(spec, tls=..., owner=Owner(name, uid))``. Deleting the Job
(with ``propagationPolicy: Background`` — the API's default for Jobs orphans dependents) or
its expiry makes Kubernetes' garbage collector delete the rest. Nothing here performs I/O.
"""

from __future__ import annotations

from typing import Any

from daskcloud.cluster.kubernetes._meta import Owner, labels, metadata, selector
from daskcloud.cluster.kubernetes._network import build_network_policies, build_service
from daskcloud.cluster.kubernetes._notebook import NotebookFiles, build_notebook, build_notebook_pvc
from daskcloud.cluster.kubernetes._pods import (  # RUN_AS_USER: re-exported, its old home
    RUN_AS_USER,
    TMP,
    WORKER_SCRATCH,
    container_spec,
    pod_env,
    pod_spec,
    requests_and_limits,
    tls_args,
)
from daskcloud.cluster.kubernetes._spec import DASHBOARD_PORT, SCHEDULER_PORT, ClusterSpec
from daskcloud.cluster.kubernetes._sync import add_overlay, build_sync_config_map
from daskcloud.cluster.kubernetes._tls import ClusterTLS, build_tls_secret
from daskcloud.sync import SyncBundle

__all__ = [
    "RUN_AS_USER",
    "SCHEDULER_CPU",
    "SCHEDULER_MEMORY",
    "TTL_AFTER_FINISHED_SECONDS",
    "build_cluster",
    "build_scheduler_job",
    "build_worker_deployment",
]

#: the scheduler pod's requests == limits (Guaranteed QoS: the scheduler is evicted last)
SCHEDULER_CPU = "1"
SCHEDULER_MEMORY = "2Gi"
#: a finished scheduler Job (and, through ownerReferences, the cluster) is deleted after this
TTL_AFTER_FINISHED_SECONDS = 60


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
        *tls_args("scheduler"),
    ]
    container = container_spec(
        spec,
        name="scheduler",
        command=["dask", "scheduler"],
        args=args,
        env=pod_env(tmpdir=TMP),
        resources=requests_and_limits(SCHEDULER_CPU, SCHEDULER_MEMORY),
        ports=[
            {"name": "tcp-comm", "containerPort": SCHEDULER_PORT, "protocol": "TCP"},
            {"name": "http-dashboard", "containerPort": DASHBOARD_PORT, "protocol": "TCP"},
        ],
        scratch=False,
    )
    pod = pod_spec(spec, container, scratch=False, placement=False)
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
        *tls_args("worker"),
    ]
    if spec.gpu:
        args += ["--resources", f"GPU={spec.gpu}"]
    env = [
        {"name": "DASK_WORKER_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        *pod_env(tmpdir=WORKER_SCRATCH),
    ]
    container = container_spec(
        spec,
        name="worker",
        command=["dask", "worker"],
        args=args,
        env=env,
        resources=requests_and_limits(spec.cpu, spec.memory, spec.gpu),
        ports=[],
        scratch=True,
    )
    pod = pod_spec(spec, container, scratch=True, placement=True)
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

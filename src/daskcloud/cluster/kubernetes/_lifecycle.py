"""A cluster's life through the Kubernetes API, with kr8s' sync objects.

create -> wait -> (status | scale | logs)* -> down; list finds every daskcloud cluster in a
namespace. The manifests come from the pure builders (:mod:`._manifests`); this module only
sends them, reads back state and turns it into answers:

* :func:`create_cluster` creates the scheduler Job, reads its uid, creates the objects the Job
  owns, writes the client's TLS files and the local record, then waits — never longer than
  ``timeout``. A pod that cannot start (image pull, OOMKilled, crash loop) fails the wait at
  once; pods still Pending at the deadline are explained by the scheduler's events. On any
  failure everything created is deleted again before the error is raised.
* :func:`delete_cluster` deletes the Job with ``propagationPolicy: Background``; Kubernetes'
  garbage collector removes what it owns. Deleting a cluster that is gone is not an error.

Every error is a :class:`~daskcloud.exceptions.KubernetesError` (or ``ConfigError`` for bad
input) with one line that says what to do.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import kr8s
from kr8s.objects import Deployment, Event, Job, Pod, object_from_spec

from daskcloud.cluster._state import ClusterRecord, remove_record, save_record
from daskcloud.cluster._status import ClusterStatus
from daskcloud.cluster.kubernetes._detach import DRIVER_ROLE_LABEL
from daskcloud.cluster.kubernetes._diagnose import (
    explain_pending,
    fatal_problems,
)
from daskcloud.cluster.kubernetes._meta import (
    CLUSTER_ID_LABEL,
    CLUSTER_LABEL,
    COMPONENT_LABEL,
    Owner,
)
from daskcloud.cluster.kubernetes._observe import (
    PRICE_ANNOTATION,
    spec_from_job,
    status_from_objects,
)
from daskcloud.cluster.kubernetes._spec import ClusterSpec
from daskcloud.exceptions import ConfigError, DaskcloudError, KubernetesError

__all__ = [
    "PRICE_ANNOTATION",
    "REQUEST_TIMEOUT",
    "cluster_logs",
    "create_cluster",
    "delete_cluster",
    "get_status",
    "kube_api",
    "list_clusters",
    "scale_cluster",
    "submit_driver",
    "wait_ready",
]


_MANAGED = "app.kubernetes.io/managed-by=daskcloud"


#: seconds any single request to the API server may take (kr8s' default is no limit)
REQUEST_TIMEOUT = 30.0
_CONNECTOR = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="kube-api")


def kube_api(
    *, context: str | None = None, namespace: str | None = None, timeout: float = REQUEST_TIMEOUT
) -> kr8s.Api:
    """A sync kr8s client for the current (or the given) kubeconfig context.

    Connecting and every later request are bounded by ``timeout`` seconds, so an API server
    that accepts connections but never answers is an error, not a hang.
    """
    kubeconfig = os.environ.get("KUBECONFIG")
    # an explicit path keeps kr8s' per-argument client cache from serving a stale kubeconfig
    if kubeconfig and os.pathsep in kubeconfig:
        kubeconfig = None
    where = f" (context {context!r})" if context else ""
    future = _CONNECTOR.submit(
        kr8s.api, kubeconfig=kubeconfig, context=context, namespace=namespace
    )
    try:
        api = future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise KubernetesError(
            f"the Kubernetes API{where} did not answer within {timeout:.0f} s; check "
            "`kubectl config current-context`, that the cluster is running and your network"
        ) from None
    except Exception as exc:  # kr8s raises plain exceptions for missing/invalid kubeconfigs
        raise KubernetesError(
            f"cannot use the Kubernetes API{where}: {exc}; check `kubectl config current-context` "
            "and that the cluster is running (daskcloud cloud plan creates one)"
        ) from exc
    api.timeout = timeout
    return api


@contextlib.contextmanager
def _k8s(action: str) -> Iterator[None]:
    """Convert kr8s/httpx errors into one-line KubernetesErrors that say what to do."""
    try:
        yield
    except DaskcloudError:
        raise
    except kr8s.ServerError as exc:
        code = exc.response.status_code if exc.response is not None else None
        hint = {
            401: "your credentials were refused; refresh them (e.g. gcloud/aws/az get-credentials)",
            403: "your account may not do this; ask an admin to apply `daskcloud manifests --rbac`",
            409: "it already exists; pick another --name or run `daskcloud cluster down` first",
        }.get(code or 0, "see the message from the API server")
        raise KubernetesError(f"Kubernetes refused to {action}: {exc} ({hint})") from exc
    except (httpx.HTTPError, OSError) as exc:
        raise KubernetesError(
            f"cannot reach the Kubernetes API to {action} ({exc}); check the kube context "
            "and your network"
        ) from exc


# --- state -------------------------------------------------------------------------------------


def _fetch(cls: type[Any], name: str, namespace: str, api: kr8s.Api) -> Any:
    """One object by name, at once (kr8s' ``get`` keeps retrying a missing object for 2 s)."""
    obj = cls(name, namespace=namespace, api=api)
    obj.refresh()
    return obj


def _pods(api: kr8s.Api, namespace: str, selector: str | dict[str, str]) -> list[dict[str, Any]]:
    return [p.raw for p in Pod.list(api=api, namespace=namespace, label_selector=selector)]


def _job(api: kr8s.Api, name: str, namespace: str) -> dict[str, Any] | None:
    with _k8s(f"read cluster {namespace}/{name}"):
        try:
            return _fetch(Job, f"{name}-scheduler", namespace, api).raw
        except kr8s.NotFoundError:
            return None


def get_status(
    name: str, namespace: str, *, api: kr8s.Api | None = None, now: dt.datetime | None = None
) -> ClusterStatus:
    """The cluster's state, pods, ready workers, age, time left and cost so far."""
    return _snapshot(api or kube_api(namespace=namespace), name, namespace, now)[0]


def _snapshot(
    api: kr8s.Api, name: str, namespace: str, now: dt.datetime | None = None
) -> tuple[ClusterStatus, list[dict[str, Any]]]:
    job = _job(api, name, namespace)
    if job is None:
        raise KubernetesError(
            f"no daskcloud cluster {name!r} in namespace {namespace!r}; `daskcloud cluster list "
            f"--namespace {namespace}` shows the ones there"
        )
    cid = job["metadata"].get("labels", {}).get(CLUSTER_ID_LABEL, "")
    with _k8s(f"read cluster {namespace}/{name}"):
        try:
            deployment = _fetch(Deployment, f"{name}-workers", namespace, api).raw
        except kr8s.NotFoundError:
            deployment = None
        pods = _pods(api, namespace, {CLUSTER_ID_LABEL: cid})
    return status_from_objects(job, deployment, pods, now or dt.datetime.now(dt.UTC)), pods


def list_clusters(
    namespace: str, *, api: kr8s.Api | None = None, now: dt.datetime | None = None
) -> list[ClusterStatus]:
    """Every daskcloud cluster in ``namespace`` (to find forgotten ones), oldest first."""
    api = api or kube_api(namespace=namespace)
    now = now or dt.datetime.now(dt.UTC)
    with _k8s(f"list clusters in namespace {namespace}"):
        jobs = [
            j.raw
            for j in Job.list(
                api=api,
                namespace=namespace,
                label_selector=f"{_MANAGED},{COMPONENT_LABEL}=scheduler",
            )
        ]
        deployments = {
            d.raw["metadata"].get("labels", {}).get(CLUSTER_ID_LABEL): d.raw
            for d in Deployment.list(
                api=api, namespace=namespace, label_selector=f"{_MANAGED},{COMPONENT_LABEL}=worker"
            )
        }
        pods = _pods(api, namespace, _MANAGED)
    out = []
    for job in jobs:
        cid = job["metadata"].get("labels", {}).get(CLUSTER_ID_LABEL)
        mine = [p for p in pods if p["metadata"].get("labels", {}).get(CLUSTER_ID_LABEL) == cid]
        out.append(status_from_objects(job, deployments.get(cid), mine, now))
    return sorted(out, key=lambda s: s.created_at)


# --- create, wait, delete ------------------------------------------------------------------------


def _log_tail(api: kr8s.Api, namespace: str, lines: int = 10) -> Callable[[str, str], list[str]]:
    def tail(pod: str, container: str) -> list[str]:
        obj = _fetch(Pod, pod, namespace, api)
        try:
            got = list(obj.logs(container=container, previous=True, tail_lines=lines))
        except kr8s.ServerError:  # no previous container yet: the current one's log
            got = []
        return got or list(obj.logs(container=container, tail_lines=lines))

    return tail


def wait_ready(
    spec: ClusterSpec,
    *,
    api: kr8s.Api,
    timeout: float = 300.0,
    poll: float = 2.0,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> ClusterStatus:
    """Wait until the scheduler and ``workers`` (default: all) workers are ready.

    Raises:
        KubernetesError: at once when a pod cannot start (naming why), or when ``timeout``
            seconds pass (saying what was still missing and the scheduler's reasons).
    """
    wanted = spec.workers if workers is None else workers
    deadline = time.monotonic() + timeout
    tail = _log_tail(api, spec.namespace)
    last = ""
    while True:
        status, pods = _snapshot(api, spec.name, spec.namespace)
        problems = fatal_problems(pods, tail)
        if status.state == "failed":
            problems.append(f"the scheduler Job failed ({status.reason})")
        if problems:
            raise KubernetesError(f"cluster {spec.name!r} cannot start: " + "; ".join(problems))
        notebook = not spec.jupyter or any(
            m.ready and m.name.startswith(f"{spec.jupyter_name}-") for m in status.members
        )
        if status.scheduler_ready and status.workers_ready >= wanted and notebook:
            return status
        ready = "ready" if status.scheduler_ready else "starting"
        line = f"scheduler {ready}, {status.workers_ready}/{wanted} workers ready"
        line += "" if notebook else ", notebook starting"
        if progress and line != last:
            progress(line)
            last = line
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            with _k8s(f"read the events of namespace {spec.namespace}"):
                events = [e.raw for e in Event.list(api=api, namespace=spec.namespace)]
            reasons = explain_pending(pods, events) or [
                "no pods exist yet; check the Job and Deployment "
                f"(kubectl -n {spec.namespace} describe job {spec.scheduler_name})"
            ]
            raise KubernetesError(
                f"cluster {spec.name!r} was not ready after {timeout:.0f} s (waited for the "
                f"scheduler and {wanted} workers: {line}): "
                + "; ".join(reasons)
                + "; if nodes are still being added, retry with a longer --timeout"
            )
        time.sleep(min(poll, remaining))


def create_cluster(
    spec: ClusterSpec,
    *,
    api: kr8s.Api | None = None,
    timeout: float = 300.0,
    poll: float = 2.0,
    context: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ClusterStatus:
    """Create the cluster of ``spec`` and wait (at most ``timeout`` s) until it is ready.

    On any failure — an API error, a pod that cannot start, the timeout, Ctrl-C — every object
    created so far and the local TLS files are deleted before the error propagates.
    """
    from daskcloud.cluster._notebook import write_notebook_token
    from daskcloud.cluster.kubernetes._manifests import build_cluster, build_scheduler_job
    from daskcloud.cluster.kubernetes._notebook import build_notebook_pvc
    from daskcloud.cluster.kubernetes._tls import generate_tls, write_client_credentials

    api = api or kube_api(context=context, namespace=spec.namespace)
    if _job(api, spec.name, spec.namespace) is not None:
        raise KubernetesError(
            f"cluster {spec.name!r} already exists in namespace {spec.namespace!r}; use it "
            f"(daskcloud cluster status {spec.name}), pick another --name, or delete it first "
            f"(daskcloud cluster down {spec.name})"
        )
    job_manifest = build_scheduler_job(spec)
    if spec.price_per_hour is not None:
        annotations = job_manifest["metadata"].setdefault("annotations", {})
        annotations[PRICE_ANNOTATION] = f"{spec.price_per_hour:g}"
    tls = generate_tls(spec)
    notebook = _notebook_files(spec)
    job: Job | None = None
    try:
        with _k8s(f"create the scheduler Job of cluster {spec.name!r}"):
            job = Job(job_manifest, api=api)
            job.create()
        owner = Owner(name=job.name, uid=job.metadata["uid"])
        if spec.notebook_storage:
            _create_missing(api, build_notebook_pvc(spec))
        for manifest in build_cluster(spec, tls=tls, owner=owner, notebook=notebook):
            kind = manifest["kind"]
            with _k8s(f"create {kind} {manifest['metadata']['name']}"):
                object_from_spec(manifest, api=api).create()
        creds = write_client_credentials(spec, tls)
        if notebook is not None:
            write_notebook_token(spec.namespace, spec.name, notebook.token)
        save_record(
            ClusterRecord(
                name=spec.name,
                backend="kubernetes",
                namespace=spec.namespace,
                price_per_hour=spec.price_per_hour,
                tls_dir=str(creds.directory),
                idle_timeout_s=spec.idle_timeout_seconds,
                max_lifetime_s=spec.max_lifetime_seconds,
                context=context,
                extra={"cluster_id": spec.cluster_id},
            )
        )
        return wait_ready(spec, api=api, timeout=timeout, poll=poll, progress=progress)
    except BaseException:
        if job is not None:
            _delete(api, spec.name, spec.namespace)
        remove_record("kubernetes", spec.name, spec.namespace)
        raise


def _notebook_files(spec: ClusterSpec) -> Any:
    """The notebook's new token and the examples, with ``spec.jupyter``; else None."""
    if not spec.jupyter:
        return None
    from daskcloud.cluster._notebook import example_files, new_token
    from daskcloud.cluster.kubernetes._notebook import NotebookFiles

    return NotebookFiles(token=new_token(), examples=example_files())


def _create_missing(api: kr8s.Api, manifest: dict[str, Any]) -> None:
    """Create an object that outlives clusters (a PersistentVolumeClaim) unless it exists."""
    with _k8s(f"create {manifest['kind']} {manifest['metadata']['name']}"):
        obj = object_from_spec(manifest, api=api)
        if not obj.exists():
            obj.create()


def _delete(api: kr8s.Api, name: str, namespace: str) -> bool:
    """Delete the Job with Background propagation (the API's default for Jobs orphans pods)."""
    found = True
    with _k8s(f"delete cluster {namespace}/{name}"):
        try:
            _fetch(Job, f"{name}-scheduler", namespace, api).delete(propagation_policy="Background")
        except kr8s.NotFoundError:
            found = False
    return found


def delete_cluster(name: str, namespace: str, *, api: kr8s.Api | None = None) -> bool:
    """Delete the cluster (idempotent): True when it existed, False when it was already gone.

    Deleting the scheduler Job is enough: Kubernetes' garbage collector deletes the Secret,
    Service, NetworkPolicies and worker Deployment it owns. The local record and client TLS
    files go too.
    """
    api = api or kube_api(namespace=namespace)
    found = _delete(api, name, namespace)
    remove_record("kubernetes", name, namespace)
    return found


def scale_cluster(name: str, namespace: str, workers: int, *, api: kr8s.Api | None = None) -> int:
    """Set the number of worker pods; returns it."""
    if workers < 0:
        raise ConfigError(f"workers {workers} is negative; give 0 or more, e.g. 4")
    api = api or kube_api(namespace=namespace)
    with _k8s(f"scale cluster {namespace}/{name}"):
        try:
            deployment = _fetch(Deployment, f"{name}-workers", namespace, api)
        except kr8s.NotFoundError:
            raise KubernetesError(
                f"no daskcloud cluster {name!r} in namespace {namespace!r} to scale; "
                "`daskcloud cluster list` shows the ones there"
            ) from None
        deployment.patch({"spec": {"replicas": workers}})
    return workers


def cluster_logs(
    name: str,
    namespace: str,
    *,
    worker: int | None = None,
    driver: bool = False,
    tail: int = 200,
    api: kr8s.Api | None = None,
) -> str:
    """The last ``tail`` log lines of the scheduler, worker number ``worker``, or the driver."""
    api = api or kube_api(namespace=namespace)
    component = "driver" if driver else ("worker" if worker is not None else "scheduler")
    selector = {CLUSTER_LABEL: name}
    selector |= {DRIVER_ROLE_LABEL: "driver"} if driver else {COMPONENT_LABEL: component}
    with _k8s(f"read the logs of cluster {namespace}/{name}"):
        pods = sorted(
            _pods(api, namespace, selector),
            key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]),
        )
        index = worker or 0
        if index >= len(pods) or index < 0:
            have = f"{len(pods)} {component} pod{'s' if len(pods) != 1 else ''}"
            raise KubernetesError(
                f"cluster {name!r} in namespace {namespace!r} has {have}; "
                + (
                    f"give --worker between 0 and {len(pods) - 1}"
                    if pods
                    else "check `daskcloud cluster status` (is it running?)"
                )
            )
        pod = _fetch(Pod, pods[index]["metadata"]["name"], namespace, api)
        return "\n".join(pod.logs(tail_lines=tail))


def submit_driver(
    name: str,
    namespace: str,
    *,
    args: list[str],
    spec_file: tuple[str, str] | None = None,
    pvc_size: str = "1Gi",
    storage_class: str | None = None,
    api: kr8s.Api | None = None,
) -> str:
    """Run ``daskcloud <args>`` as a Job in cluster ``name`` (``--detach``); returns its name.

    Creates the journal PVC when missing (it is kept by ``cluster down``), then the driver Job
    and its spec ConfigMap, owned by the scheduler Job. Unverified against a real cluster.
    """
    from daskcloud.cluster.kubernetes._detach import build_detached_driver, build_journal_pvc

    api = api or kube_api(namespace=namespace)
    job = _job(api, name, namespace)
    if job is None:
        raise KubernetesError(
            f"no daskcloud cluster {name!r} in namespace {namespace!r} to run the search on; "
            f"create it first (daskcloud cluster up --backend kubernetes --name {name})"
        )
    spec = spec_from_job(job)
    owner = Owner(name=job["metadata"]["name"], uid=job["metadata"]["uid"])
    _create_missing(api, build_journal_pvc(spec, size=pvc_size, storage_class=storage_class))
    driver_name = ""
    for manifest in build_detached_driver(spec, owner=owner, args=args, spec_file=spec_file):
        with _k8s(f"create {manifest['kind']} {manifest['metadata']['name']}"):
            object_from_spec(manifest, api=api).create()
        driver_name = manifest["metadata"]["name"]
    return driver_name

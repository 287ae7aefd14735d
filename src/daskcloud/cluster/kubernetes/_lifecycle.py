"""The Kubernetes backend: a cluster's life through the Kubernetes API, with kr8s' sync objects.

:class:`KubernetesBackend` implements the :class:`~daskcloud.cluster.backends.Backend`
interface; the lifecycle around it (refuse a live name, clean up on failure, update's checks)
is the base class's. The manifests come from the pure builders (:mod:`._manifests`); this
module only sends them, reads back state and turns it into answers:

* ``create`` makes the scheduler Job, reads its uid, creates the objects the Job owns, writes
  the client's TLS files and the local record; ``wait`` polls — never longer than ``timeout``
  (:func:`~._ready.wait_ready`: a pod that cannot start fails it at once).
* ``delete`` deletes the Job with ``propagationPolicy: Background``; Kubernetes' garbage
  collector removes what it owns. Deleting a cluster that is gone is not an error.
* ``apply_update`` patches the worker Deployment (replicas, image, resources, placement),
  which rolls its pods; the scheduler Job is left running.
* ``endpoint`` and ``notebook`` reach the scheduler and the notebook (:mod:`._endpoint`).

:func:`submit_driver` (``tune --detach``) lives in :mod:`._submit`; it is re-exported here
with :func:`kube_api` and :func:`wait_ready`, where callers have found them.

Every error is a :class:`~daskcloud.exceptions.KubernetesError` (or ``ConfigError`` for bad
input) with one line that says what to do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar

import kr8s
from kr8s.objects import Deployment, Job, Pod

from daskcloud.cluster._spec import ClusterSpec
from daskcloud.cluster._state import ClusterRecord, remove_record, save_record
from daskcloud.cluster.backends import Backend
from daskcloud.cluster.kubernetes._api import (
    MANAGED,
    REQUEST_TIMEOUT,
    create_missing,
    create_objects,
    fetch,
    k8s_errors,
    kube_api,
    pods,
    scheduler_job,
)
from daskcloud.cluster.kubernetes._detach import DRIVER_ROLE_LABEL
from daskcloud.cluster.kubernetes._meta import (
    CLUSTER_ID_LABEL,
    CLUSTER_LABEL,
    COMPONENT_LABEL,
    Owner,
)
from daskcloud.cluster.kubernetes._observe import (
    PRICE_ANNOTATION,
    merge_patch,
    spec_from_objects,
    status_from_objects,
    sync_from_object,
)
from daskcloud.cluster.kubernetes._ready import snapshot, wait_ready
from daskcloud.cluster.kubernetes._submit import submit_driver
from daskcloud.exceptions import ClusterError, ConfigError, KubernetesError

__all__ = [
    "PRICE_ANNOTATION",
    "REQUEST_TIMEOUT",
    "KubernetesBackend",
    "kube_api",
    "submit_driver",
    "wait_ready",
]


class KubernetesBackend(Backend):
    """A self-ending cluster created through the Kubernetes API (see docs/cluster.md).

    ``context`` is the kubeconfig context (default: the current one); ``poll`` the seconds
    between two looks while waiting.
    """

    kind = "kubernetes"
    options = frozenset(
        {"name", "namespace", "workers", "cpu", "memory", "gpu", "image", "idle_timeout",
         "max_lifetime", "node_selector", "tolerations", "price_per_hour", "packages",
         "index_url", "extra_index_urls", "image_pull_secret", "jupyter", "notebook_storage"}
    )  # fmt: skip
    updatable = frozenset(
        {"workers", "image", "cpu", "memory", "gpu", "node_selector", "tolerations"}
    )
    fixed: ClassVar[Mapping[str, str]] = {
        "idle_timeout": "the scheduler's --idle-timeout; it needs a new scheduler",
        "max_lifetime": "the scheduler Job's activeDeadlineSeconds; it needs a new scheduler",
        "namespace": "a cluster in another namespace is another cluster",
        "name": "a cluster with another name is another cluster",
        "price_per_hour": "the cost so far is computed from it",
        # the scheduler unpickles every task graph, so a package the tasks need must be in its
        # pod too, and that pod installed its overlay once, when it started
        "packages": "the scheduler unpickles the search's tasks too, and its pod installed its "
        "packages when it started; pure-Python code needs no update, the search ships it",
        "index_url": "the pods installed from it when they started",
        "extra_index_urls": "the pods installed from it when they started",
        "jupyter": "the notebook is made with the cluster",
        "notebook_storage": "the notebook's home is mounted when its pod starts",
    }

    def __init__(self, *, context: str | None = None, poll: float = 2.0) -> None:
        super().__init__(context=context)
        self.poll = poll
        self._apis: dict[str | None, kr8s.Api] = {}

    def api(self, namespace: str | None = None) -> kr8s.Api:
        """A kr8s client for this backend's context (one per namespace)."""
        if namespace not in self._apis:
            self._apis[namespace] = kube_api(context=self.context, namespace=namespace)
        return self._apis[namespace]

    def ns(self, namespace: str | None) -> str:
        """``namespace``, or ``daskcloud.cluster.namespace``, or the kube context's, or
        ``default``."""
        from daskcloud.config import get

        return namespace or get("cluster.namespace") or self.api().namespace or "default"

    def where(self, namespace=None):
        context = f", context {self.context!r}" if self.context else ""
        return f"in namespace {self.ns(namespace)!r}{context}"

    def prepare(self, spec):
        if "namespace" in spec.model_fields_set:
            return spec
        return spec.model_copy(update={"namespace": self.ns(None)})

    # --- create, wait, find, delete --------------------------------------------------------

    def create(self, spec, *, timeout, progress):
        from daskcloud.cluster._notebook import write_notebook_token
        from daskcloud.cluster.kubernetes._manifests import build_cluster, build_scheduler_job
        from daskcloud.cluster.kubernetes._notebook import build_notebook_pvc
        from daskcloud.cluster.kubernetes._sync import build_sync_config_map, cluster_bundle_of
        from daskcloud.cluster.kubernetes._tls import generate_tls, write_client_credentials

        api = self.api(spec.namespace)
        # what the init containers install, read from this environment; built (and its size
        # checked against the 1 MiB object limit) before anything is created
        bundle = cluster_bundle_of(spec)
        build_sync_config_map(spec, bundle)
        job_manifest = build_scheduler_job(spec, bundle=bundle)
        if spec.price_per_hour is not None:
            annotations = job_manifest["metadata"].setdefault("annotations", {})
            annotations[PRICE_ANNOTATION] = f"{spec.price_per_hour:g}"
        tls = generate_tls(spec)
        notebook = _notebook_files(spec)
        with k8s_errors(f"create the scheduler Job of cluster {spec.name!r}"):
            job = Job(job_manifest, api=api)
            job.create()
        owner = Owner(name=job.name, uid=job.metadata["uid"])
        if spec.notebook_storage:
            create_missing(api, build_notebook_pvc(spec))
        create_objects(
            api, build_cluster(spec, tls=tls, owner=owner, bundle=bundle, notebook=notebook)
        )
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
                context=self.context,
                extra={"cluster_id": spec.cluster_id},
            )
        )

    def wait(self, spec, *, timeout, progress):
        api = self.api(spec.namespace)
        return wait_ready(spec, api=api, timeout=timeout, poll=self.poll, progress=progress)

    def find(self, name, namespace=None, *, now: dt.datetime | None = None):
        ns = self.ns(namespace)
        found = snapshot(self.api(ns), name, ns, now)
        return None if found is None else found[0]

    def delete(self, name, namespace=None):
        """Delete the scheduler Job (Background propagation: the API's default for Jobs
        orphans pods); the garbage collector deletes what it owns. The local record and
        client TLS files go too."""
        ns = self.ns(namespace)
        found = True
        with k8s_errors(f"delete cluster {ns}/{name}"):
            try:
                fetch(Job, f"{name}-scheduler", ns, self.api(ns)).delete(
                    propagation_policy="Background"
                )
            except kr8s.NotFoundError:
                found = False
        remove_record("kubernetes", name, ns)
        return found

    def list(self, namespace=None, *, now: dt.datetime | None = None):
        """Every daskcloud cluster in the namespace (to find forgotten ones), oldest first."""
        ns = self.ns(namespace)
        api = self.api(ns)
        now = now or dt.datetime.now(dt.UTC)
        with k8s_errors(f"list clusters in namespace {ns}"):
            selector = f"{MANAGED},{COMPONENT_LABEL}=scheduler"
            jobs = [j.raw for j in Job.list(api=api, namespace=ns, label_selector=selector)]
            deployments = {
                d.raw["metadata"].get("labels", {}).get(CLUSTER_ID_LABEL): d.raw
                for d in Deployment.list(
                    api=api, namespace=ns, label_selector=f"{MANAGED},{COMPONENT_LABEL}=worker"
                )
            }
            every = pods(api, ns, MANAGED)
        out = []
        for job in jobs:
            cid = job["metadata"].get("labels", {}).get(CLUSTER_ID_LABEL)
            mine = [
                p for p in every if p["metadata"].get("labels", {}).get(CLUSTER_ID_LABEL) == cid
            ]
            out.append(status_from_objects(job, deployments.get(cid), mine, now))
        return sorted(out, key=lambda s: s.created_at)

    # --- scale, update, logs -----------------------------------------------------------------

    def _workers_deployment(self, name: str, ns: str, verb: str) -> Deployment:
        try:
            return fetch(Deployment, f"{name}-workers", ns, self.api(ns))
        except kr8s.NotFoundError:
            raise _no_cluster(name, ns, verb) from None

    def scale(self, name, workers, namespace=None):
        if workers < 0:
            raise ConfigError(f"workers {workers} is negative; give 0 or more, e.g. 4")
        ns = self.ns(namespace)
        with k8s_errors(f"scale cluster {ns}/{name}"):
            deployment = self._workers_deployment(name, ns, "scale")
            deployment.patch({"spec": {"replicas": workers}})
        return workers

    def current_spec(self, name, namespace=None):
        ns = self.ns(namespace)
        job = scheduler_job(self.api(ns), name, ns)
        with k8s_errors(f"read cluster {ns}/{name}"):
            deployment = self._workers_deployment(name, ns, "update").raw
        if job is None:
            raise _no_cluster(name, ns, "update")
        return spec_from_objects(job, deployment)

    def apply_update(self, current, desired, changed, *, timeout):
        """Patch the worker Deployment to what ``desired`` builds; Kubernetes rolls its pods.

        The pods keep installing from the cluster's sync ConfigMap (its overlay is rebuilt
        with the same index settings); the ConfigMap itself is immutable and untouched.
        """
        from daskcloud.cluster.kubernetes._manifests import build_worker_deployment

        ns = desired.namespace
        with k8s_errors(f"update cluster {ns}/{desired.name}"):
            deployment = self._workers_deployment(desired.name, ns, "update")
            wanted = build_worker_deployment(desired, bundle=sync_from_object(deployment.raw))
            patch = merge_patch(
                {"spec": {k: deployment.raw["spec"].get(k) for k in ("replicas", "template")}},
                {"spec": {k: wanted["spec"][k] for k in ("replicas", "template")}},
            )
            if patch:
                deployment.patch(patch)

    def logs(self, name, namespace=None, *, worker=None, driver=False, tail=200):
        ns = self.ns(namespace)
        api = self.api(ns)
        component = "driver" if driver else ("worker" if worker is not None else "scheduler")
        selector = {CLUSTER_LABEL: name}
        selector |= {DRIVER_ROLE_LABEL: "driver"} if driver else {COMPONENT_LABEL: component}
        with k8s_errors(f"read the logs of cluster {ns}/{name}"):
            found = sorted(
                pods(api, ns, selector),
                key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]),
            )
            index = worker or 0
            if index >= len(found) or index < 0:
                have = f"{len(found)} {component} pod{'s' if len(found) != 1 else ''}"
                raise KubernetesError(
                    f"cluster {name!r} in namespace {ns!r} has {have}; "
                    + (
                        f"give --worker between 0 and {len(found) - 1}"
                        if found
                        else "check `daskcloud cluster status` (is it running?)"
                    )
                )
            pod = fetch(Pod, found[index]["metadata"]["name"], ns, api)
            return "\n".join(pod.logs(tail_lines=tail))

    # --- connect -----------------------------------------------------------------------------

    def notebook(self, name, namespace=None):
        from daskcloud.cluster._notebook import read_notebook_token
        from daskcloud.cluster.kubernetes._endpoint import notebook_endpoint

        ns = self.ns(namespace)
        token = read_notebook_token(ns, name)
        return notebook_endpoint(self.api(ns), name, ns, token)

    def endpoint(self, name, namespace=None):
        from daskcloud.cluster.kubernetes._endpoint import scheduler_endpoint
        from daskcloud.cluster.kubernetes._tls import client_security

        ns = self.ns(namespace)
        security = client_security(ns, name)
        status = self.status(name, ns)
        if not status.scheduler_ready:
            raise ClusterError(
                f"cluster {ns}/{name} is {status.state}, its scheduler is not ready; see "
                f"`daskcloud cluster status {name} --namespace {ns}`"
            )
        return scheduler_endpoint(self.api(ns), name, ns, security)


def _notebook_files(spec: ClusterSpec) -> Any:
    """The notebook's new token and the examples, with ``spec.jupyter``; else None."""
    if not spec.jupyter:
        return None
    from daskcloud.cluster._notebook import example_files, new_token
    from daskcloud.cluster.kubernetes._notebook import NotebookFiles

    return NotebookFiles(token=new_token(), examples=example_files())


def _no_cluster(name: str, namespace: str, verb: str) -> KubernetesError:
    return KubernetesError(
        f"no daskcloud cluster {name!r} in namespace {namespace!r} to {verb}; "
        "`daskcloud cluster list` shows the ones there"
    )

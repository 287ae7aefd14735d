"""Pure reading of a running cluster: its status and spec from the objects the API returns.

:mod:`._lifecycle` fetches the scheduler Job, the worker Deployment and the pods; these
functions turn those dicts into a :class:`~daskcloud.cluster._status.ClusterStatus` (state,
ready workers, age, time left, cost, rollout) or back into the :class:`ClusterSpec` a builder
needs (and the sync settings its pods install with), and compute the merge patch that takes
one object to another. No I/O.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from daskcloud.cluster._placement import Toleration
from daskcloud.cluster._status import ClusterStatus, MemberInfo
from daskcloud.cluster.kubernetes._diagnose import pod_is_ready, pod_summary
from daskcloud.cluster.kubernetes._meta import CLUSTER_ID_LABEL, CLUSTER_LABEL, COMPONENT_LABEL
from daskcloud.cluster.kubernetes._spec import ClusterSpec
from daskcloud.core.units import parse_duration
from daskcloud.sync import SyncBundle

__all__ = [
    "PRICE_ANNOTATION",
    "merge_patch",
    "rollout",
    "spec_from_job",
    "spec_from_objects",
    "status_from_objects",
    "sync_from_object",
]

PRICE_ANNOTATION = "daskcloud.io/price-per-hour"


def _parse_time(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime.now(dt.UTC)
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _idle_timeout(job: dict[str, Any]) -> int | None:
    for container in job["spec"]["template"]["spec"].get("containers", []):
        args = [*container.get("command", []), *container.get("args", [])]
        if "--idle-timeout" in args[:-1]:
            with contextlib.suppress(ValueError):
                return parse_duration(args[args.index("--idle-timeout") + 1])
    return None


def status_from_objects(
    job: dict[str, Any],
    deployment: dict[str, Any] | None,
    pods: list[dict[str, Any]],
    now: dt.datetime,
) -> ClusterStatus:
    """Pure: a ClusterStatus from the Job, the worker Deployment and the cluster's pods."""
    meta = job["metadata"]
    created = _parse_time(meta.get("creationTimestamp"))
    infos = tuple(
        MemberInfo(
            name=p["metadata"]["name"],
            component=p["metadata"].get("labels", {}).get(COMPONENT_LABEL, "pod"),
            state=pod_summary(p),
            ready=pod_is_ready(p),
            restarts=sum(
                c.get("restartCount", 0) for c in p.get("status", {}).get("containerStatuses", [])
            ),
        )
        for p in sorted(pods, key=lambda p: p["metadata"]["name"])
    )
    scheduler_ready = any(i.ready for i in infos if i.component == "scheduler")
    workers_ready = sum(1 for i in infos if i.component == "worker" and i.ready)
    wanted = int((deployment or {}).get("spec", {}).get("replicas", 0))
    conditions = {c.get("type"): c for c in job.get("status", {}).get("conditions", [])}
    reason = ""
    if conditions.get("Failed", {}).get("status") == "True":
        state = "failed"
        reason = conditions["Failed"].get("reason", "") or conditions["Failed"].get("message", "")
    elif conditions.get("Complete", {}).get("status") == "True":
        state, reason = "finished", "the scheduler exited (idle timeout)"
    elif scheduler_ready and workers_ready >= wanted:
        state = "running"
    elif scheduler_ready:
        state = (
            "degraded" if any(i.component == "worker" and i.restarts for i in infos) else "starting"
        )
    else:
        state = "starting"
    price = meta.get("annotations", {}).get(PRICE_ANNOTATION)
    return ClusterStatus(
        backend="kubernetes",
        name=meta.get("labels", {}).get(CLUSTER_LABEL, meta["name"].removesuffix("-scheduler")),
        namespace=meta["namespace"],
        cluster_id=meta.get("labels", {}).get(CLUSTER_ID_LABEL, ""),
        state=state,
        created_at=created,
        age_s=max(0.0, (now - created).total_seconds()),
        max_lifetime_s=job["spec"].get("activeDeadlineSeconds"),
        idle_timeout_s=_idle_timeout(job),
        workers_wanted=wanted,
        workers_ready=workers_ready,
        scheduler_ready=scheduler_ready,
        price_per_hour=float(price) if price else None,
        members=infos,
        reason=reason,
        rollout=rollout(deployment),
    )


def rollout(deployment: dict[str, Any] | None) -> str:
    """How the worker Deployment's last change is rolling out; "" before any change.

    What ``kubectl rollout status`` reads: the Deployment controller has seen the latest
    generation, and every wanted pod is updated and ready.
    """
    if not deployment:
        return ""
    generation = int(deployment.get("metadata", {}).get("generation") or 1)
    status = deployment.get("status") or {}
    if generation <= 1 or "observedGeneration" not in status:
        return ""
    wanted = int(deployment["spec"].get("replicas", 0))
    updated = int(status.get("updatedReplicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    total = int(status.get("replicas") or 0)
    if status["observedGeneration"] < generation or updated < wanted or ready < wanted:
        return f"in progress: {updated}/{wanted} workers updated, {ready} ready"
    if total > wanted:
        return f"in progress: {total - wanted} old workers still stopping"
    return f"complete (revision {generation})"


def spec_from_job(job: dict[str, Any]) -> ClusterSpec:
    """The parts of a running cluster's spec the driver's builder needs, read from its Job."""
    meta = job["metadata"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    lifetime = int(job["spec"].get("activeDeadlineSeconds") or 8 * 3600)
    return ClusterSpec(
        name=meta["labels"][CLUSTER_LABEL],
        namespace=meta["namespace"],
        cluster_id=meta["labels"][CLUSTER_ID_LABEL],
        image=container["image"],
        max_lifetime=f"{lifetime}s",
        idle_timeout=f"{min(_idle_timeout(job) or 1200, lifetime)}s",
    )


def _worker_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next((c for c in containers if c.get("name") == "worker"), containers[0])


_FROM_JOB = {"name", "namespace", "cluster_id", "idle_timeout", "max_lifetime"}


def spec_from_objects(job: dict[str, Any], deployment: dict[str, Any]) -> ClusterSpec:
    """The spec of a running cluster, read back from its scheduler Job and worker Deployment.

    The image is the workers' (``cluster update --image`` changes theirs, not the scheduler's).
    """
    base = spec_from_job(job)
    pod = deployment["spec"]["template"]["spec"]
    limits = _worker_container(deployment).get("resources", {}).get("limits", {})
    price = job["metadata"].get("annotations", {}).get(PRICE_ANNOTATION)
    return ClusterSpec(
        **base.model_dump(include=_FROM_JOB),
        image=_worker_container(deployment)["image"],
        workers=int(deployment["spec"].get("replicas", 0)),
        cpu=str(limits.get("cpu", "1")),
        memory=str(limits.get("memory", "4Gi")),
        gpu=int(limits.get("nvidia.com/gpu", 0)),
        node_selector=dict(pod.get("nodeSelector") or {}),
        tolerations=tuple(Toleration.from_k8s(t) for t in pod.get("tolerations") or []),
        price_per_hour=float(price) if price else None,
    )


def sync_from_object(obj: dict[str, Any]) -> SyncBundle | None:
    """The sync settings of a live scheduler Job or worker Deployment (its ConfigMap exists
    already), or None."""
    pod = obj["spec"]["template"]["spec"]
    inits = [c for c in pod.get("initContainers", []) if c["name"] == "sync"]
    if not inits:
        return None
    args = inits[0]["args"]
    index = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--index-url"]
    extra = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--extra-index-url"]
    return SyncBundle(
        (), (), (), index_url=index[0] if index else None, extra_index_urls=tuple(extra)
    )


def merge_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``; {} when equal.

    Keys missing from ``new`` become ``None`` (deleted); lists are replaced whole.
    """
    patch: dict[str, Any] = {key: None for key in old.keys() - new.keys()}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            if sub := merge_patch(before, value):
                patch[key] = sub
        elif value != before or key not in old:
            patch[key] = value
    return patch

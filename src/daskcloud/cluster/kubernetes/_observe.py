"""Pure reading of a running cluster: its status and spec from the objects the API returns.

:mod:`._lifecycle` fetches the scheduler Job, the worker Deployment and the pods; these
functions turn those dicts into a :class:`~daskcloud.cluster._status.ClusterStatus` (state,
ready workers, age, time left, cost) or back into the :class:`ClusterSpec` fields a builder
needs. No I/O.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from daskcloud.cluster._status import ClusterStatus, MemberInfo
from daskcloud.cluster.kubernetes._diagnose import pod_is_ready, pod_summary
from daskcloud.cluster.kubernetes._meta import CLUSTER_ID_LABEL, CLUSTER_LABEL, COMPONENT_LABEL
from daskcloud.cluster.kubernetes._spec import ClusterSpec
from daskcloud.core.units import parse_duration

__all__ = ["PRICE_ANNOTATION", "spec_from_job", "status_from_objects"]

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
    )


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

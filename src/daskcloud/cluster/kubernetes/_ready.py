"""A live cluster's state, and waiting until it is ready: reads through the Kubernetes API.

:func:`snapshot` fetches the scheduler Job, the worker Deployment and the cluster's pods and
turns them into a :class:`~daskcloud.cluster._status.ClusterStatus` (:mod:`._observe`).
:func:`wait_ready` polls it — never longer than ``timeout``: a pod that cannot start (image
pull, OOMKilled, crash loop) fails the wait at once; pods still Pending at the deadline are
explained by the scheduler's events (:mod:`._diagnose`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import kr8s
from kr8s.objects import Event, Pod

from daskcloud.cluster._spec import ClusterSpec
from daskcloud.cluster._status import ClusterStatus
from daskcloud.cluster.kubernetes._api import (
    fetch,
    k8s_errors,
    pods,
    scheduler_job,
    workers_deployment,
)
from daskcloud.cluster.kubernetes._diagnose import explain_pending, fatal_problems
from daskcloud.cluster.kubernetes._meta import CLUSTER_ID_LABEL
from daskcloud.cluster.kubernetes._observe import status_from_objects
from daskcloud.exceptions import KubernetesError

__all__ = ["snapshot", "wait_ready"]


def snapshot(
    api: kr8s.Api, name: str, namespace: str, now: dt.datetime | None = None
) -> tuple[ClusterStatus, list[dict[str, Any]]] | None:
    """The cluster's status and pods, or None when it has no scheduler Job."""
    job = scheduler_job(api, name, namespace)
    if job is None:
        return None
    cid = job["metadata"].get("labels", {}).get(CLUSTER_ID_LABEL, "")
    with k8s_errors(f"read cluster {namespace}/{name}"):
        deployment = workers_deployment(api, name, namespace)
        members = pods(api, namespace, {CLUSTER_ID_LABEL: cid})
    now = now or dt.datetime.now(dt.UTC)
    return status_from_objects(job, deployment, members, now), members


def _log_tail(api: kr8s.Api, namespace: str, lines: int = 10) -> Callable[[str, str], list[str]]:
    def tail(pod: str, container: str) -> list[str]:
        obj = fetch(Pod, pod, namespace, api)
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
        found = snapshot(api, spec.name, spec.namespace)
        if found is None:
            raise KubernetesError(
                f"cluster {spec.name!r} disappeared while starting (its scheduler Job was "
                "deleted); create it again"
            )
        status, members = found
        problems = fatal_problems(members, tail)
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
            with k8s_errors(f"read the events of namespace {spec.namespace}"):
                events = [e.raw for e in Event.list(api=api, namespace=spec.namespace)]
            reasons = explain_pending(members, events) or [
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

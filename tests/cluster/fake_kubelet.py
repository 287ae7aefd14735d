"""What the fake API server's kubelet makes (:mod:`fake_kube_api`): pods, events, statuses.

Pure functions of an owner (a Job or a Deployment, as the fake server stored it) and the
test's :class:`Scenario`, which says how the pods of each component behave (running, pending,
an image that cannot be pulled, a crash loop...); :class:`fake_kube_api.FakeKubeAPI` stores
what they return. Nothing here knows daskcloud's manifests beyond the
``app.kubernetes.io/component`` label of pod templates.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from typing import Any

COMPONENT = "app.kubernetes.io/component"


def now() -> str:
    """The current time as the API server writes timestamps."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PodBehaviour:
    """What the fake kubelet does with the pods of one component."""

    phase: str = "Running"
    ready: bool = True
    waiting_reason: str | None = None  # ImagePullBackOff, CrashLoopBackOff, ...
    waiting_message: str = ""
    terminated_reason: str | None = None  # OOMKilled, Error, ...
    exit_code: int = 0
    restart_count: int = 0
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    log: str = ""


@dataclass
class Scenario:
    """How the fake cluster answers: pod behaviour per component (scheduler, worker, ...)."""

    behaviours: dict[str, PodBehaviour] = field(default_factory=dict)
    default: PodBehaviour = field(default_factory=PodBehaviour)

    def for_component(self, component: str | None) -> PodBehaviour:
        return self.behaviours.get(component or "", self.default)

    def for_template(self, owner: dict[str, Any]) -> PodBehaviour:
        """The behaviour of the pods ``owner``'s template makes."""
        return self.for_component(_template_labels(owner).get(COMPONENT))


def owned_by(obj: dict[str, Any], uid: str) -> bool:
    """True when ``obj`` names the object with ``uid`` among its ``ownerReferences``."""
    return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences", []))


def wanted_pods(owner: dict[str, Any]) -> int:
    """How many pods the owner wants: one for a Job, ``replicas`` for a Deployment."""
    return 1 if owner.get("kind") == "Job" else int(owner["spec"].get("replicas", 1))


def new_pod(owner: dict[str, Any], behaviour: PodBehaviour) -> dict[str, Any]:
    """A pod of ``owner``'s template (random name suffix), with the status ``behaviour`` sets."""
    meta = owner["metadata"]
    template = owner["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{meta['name']}-{uuid.uuid4().hex[:5]}",
            "namespace": meta["namespace"],
            "uid": str(uuid.uuid4()),
            "creationTimestamp": now(),
            "labels": _template_labels(owner),
            "ownerReferences": [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                }
            ],
        },
        "spec": template["spec"],
        "status": pod_status(template["spec"], behaviour),
    }


def pod_events(pod: dict[str, Any], index: int, behaviour: PodBehaviour) -> list[dict[str, Any]]:
    """The Events ``behaviour`` prescribes for the ``index``-th pod made for its owner."""
    name, namespace = pod["metadata"]["name"], pod["metadata"]["namespace"]
    return [
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{name}.{index}{n}", "namespace": namespace},
            "involvedObject": {"kind": "Pod", "name": name, "namespace": namespace},
            "type": etype,
            "reason": reason,
            "message": message,
            "lastTimestamp": now(),
        }
        for n, (etype, reason, message) in enumerate(behaviour.events)
    ]


def pod_status(spec: dict[str, Any], b: PodBehaviour) -> dict[str, Any]:
    """A pod's ``status``: phase, the Ready condition and (unless plainly Pending) each
    container's state."""
    statuses = []
    for container in spec.get("containers", []):
        state: dict[str, Any]
        if b.waiting_reason:
            state = {"waiting": {"reason": b.waiting_reason, "message": b.waiting_message}}
        elif b.terminated_reason:
            state = {"terminated": {"reason": b.terminated_reason, "exitCode": b.exit_code}}
        else:
            state = {"running": {"startedAt": now()}} if b.phase == "Running" else {}
        status = {
            "name": container["name"],
            "image": container.get("image", ""),
            "ready": b.ready and b.phase == "Running",
            "restartCount": b.restart_count,
            "state": state,
        }
        if b.terminated_reason and b.waiting_reason:
            status["lastState"] = {
                "terminated": {"reason": b.terminated_reason, "exitCode": b.exit_code}
            }
            status["state"] = {
                "waiting": {"reason": b.waiting_reason, "message": b.waiting_message}
            }
        statuses.append(status)
    ready = "True" if b.ready and b.phase == "Running" else "False"
    out: dict[str, Any] = {
        "phase": b.phase,
        "conditions": [{"type": "Ready", "status": ready}],
    }
    if b.phase != "Pending" or b.waiting_reason:
        out["containerStatuses"] = statuses
    return out


def deployment_status(deployment: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, Any]:
    """The Deployment controller's ``status`` for the pods it owns now."""
    ready = sum(
        1
        for p in pods
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", [])
        )
    )
    return {
        "observedGeneration": int(deployment["metadata"].get("generation", 1)),
        "replicas": len(pods),
        "updatedReplicas": len(pods),
        "readyReplicas": ready,
    }


def _template_labels(owner: dict[str, Any]) -> dict[str, str]:
    return dict(owner["spec"]["template"].get("metadata", {}).get("labels", {}))

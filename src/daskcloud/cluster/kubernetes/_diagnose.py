"""Pure diagnosis: why a cluster's pods are not ready, from pod status and events.

Every function takes plain Kubernetes dicts (as the API returns them) and returns text; nothing
here talks to the API. :mod:`._lifecycle` fetches the pods, events and log lines and asks
:func:`fatal_problems` after every poll (fail fast on a broken image or a crashing container) and
:func:`explain_pending` when the wait runs out (why pods are still Pending).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from daskcloud.cluster.kubernetes._meta import COMPONENT_LABEL

__all__ = ["explain_pending", "fatal_problems", "pod_is_ready", "pod_summary"]

#: waiting reasons that do not fix themselves: fail at once instead of waiting out the timeout
_IMAGE_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
_CONFIG_REASONS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}

Pod = Mapping[str, Any]
LogTail = Callable[[str, str], list[str]]  # (pod name, container name) -> last log lines


def _component(pod: Pod) -> str:
    return pod.get("metadata", {}).get("labels", {}).get(COMPONENT_LABEL, "pod")


def _statuses(pod: Pod) -> list[dict[str, Any]]:
    status = pod.get("status", {})
    return [*status.get("initContainerStatuses", []), *status.get("containerStatuses", [])]


def pod_is_ready(pod: Pod) -> bool:
    """True when the pod is Running and its Ready condition is True."""
    status = pod.get("status", {})
    if status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", [])
    )


def pod_summary(pod: Pod) -> str:
    """A short state: ``Running``, ``Ready``, ``Pending``, or a container's waiting reason."""
    for cs in _statuses(pod):
        waiting = cs.get("state", {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            return str(waiting["reason"])
        terminated = cs.get("state", {}).get("terminated")
        if terminated and terminated.get("reason"):
            return str(terminated["reason"])
    if pod_is_ready(pod):
        return "Ready"
    return str(pod.get("status", {}).get("phase", "Unknown"))


def fatal_problems(pods: Iterable[Pod], log_tail: LogTail | None = None) -> list[str]:
    """One sentence per pod that cannot become ready without a change from the user.

    Covers image pull failures (naming the image), OOMKilled containers (naming the limit),
    CrashLoopBackOff and failed pods (with the last log lines when ``log_tail`` is given), and
    container configuration errors.
    """
    problems: list[str] = []
    for pod in pods:
        name = pod.get("metadata", {}).get("name", "?")
        what = f"{_component(pod)} pod {name}"
        containers = {c.get("name"): c for c in pod.get("spec", {}).get("containers", [])}
        for cs in _statuses(pod):
            cname = cs.get("name", "?")
            waiting = cs.get("state", {}).get("waiting") or {}
            reason = waiting.get("reason")
            last = (cs.get("lastState") or {}).get("terminated") or {}
            now = cs.get("state", {}).get("terminated") or {}
            image = cs.get("image") or containers.get(cname, {}).get("image", "?")
            if reason in _IMAGE_REASONS:
                detail = waiting.get("message") or reason
                problems.append(
                    f"{what}: cannot pull image {image!r} ({reason}: {detail}); check the image "
                    "name and tag, that it was pushed, and imagePullSecrets for a private registry"
                )
            elif "OOMKilled" in (last.get("reason"), now.get("reason")):
                limit = (
                    containers.get(cname, {}).get("resources", {}).get("limits", {}).get("memory")
                )
                problems.append(
                    f"{what}: container {cname} was OOMKilled (out of memory at its limit "
                    f"{limit or 'unknown'}); give the workers more --memory or use less per task"
                )
            elif reason == "CrashLoopBackOff" or (now and now.get("exitCode", 0) != 0):
                code = (last or now).get("exitCode", "?")
                problems.append(
                    f"{what}: container {cname} keeps crashing (exit code {code})"
                    + _log_suffix(log_tail, name, cname)
                )
            elif reason in _CONFIG_REASONS:
                problems.append(
                    f"{what}: container {cname} cannot start ({reason}: "
                    f"{waiting.get('message', '')}); check the Secret and volumes it mounts"
                )
        phase = pod.get("status", {}).get("phase")
        if phase == "Failed" and not any(p.startswith(what) for p in problems):
            reason = pod.get("status", {}).get("reason") or "Failed"
            message = pod.get("status", {}).get("message", "")
            problems.append(f"{what} failed ({reason}{': ' + message if message else ''})")
    return problems


def explain_pending(pods: Iterable[Pod], events: Iterable[Mapping[str, Any]]) -> list[str]:
    """Why pods are still Pending or not ready: the scheduler's own words when it gave any."""
    by_pod: dict[str, list[Mapping[str, Any]]] = {}
    for event in events:
        involved = event.get("involvedObject", {})
        if involved.get("kind", "Pod") == "Pod":
            by_pod.setdefault(involved.get("name", ""), []).append(event)
    lines: list[str] = []
    for pod in pods:
        if pod_is_ready(pod):
            continue
        name = pod.get("metadata", {}).get("name", "?")
        what = f"{_component(pod)} pod {name}"
        warnings = [e for e in by_pod.get(name, []) if e.get("type") == "Warning"]
        scheduling = [e for e in warnings if e.get("reason") == "FailedScheduling"]
        if scheduling:
            message = scheduling[-1].get("message", "").strip()
            lines.append(
                f"{what} cannot be scheduled: {message}; ask for less --cpu/--memory/--gpu "
                "per worker, fewer --workers, or add nodes (daskcloud cloud plan)"
            )
        elif warnings:
            last = warnings[-1]
            lines.append(
                f"{what} is {pod_summary(pod)}: {last.get('reason')}: {last.get('message')}"
            )
        else:
            lines.append(f"{what} is {pod_summary(pod)} (no events explain it yet)")
    return lines


def _log_suffix(log_tail: LogTail | None, pod: str, container: str) -> str:
    if log_tail is None:
        return ""
    try:
        lines = log_tail(pod, container)
    except Exception:  # a log we cannot read must not hide the diagnosis itself
        return "; its logs could not be read"
    if not lines:
        return "; it wrote no log lines"
    return "; last log lines: " + " | ".join(line.strip() for line in lines if line.strip())

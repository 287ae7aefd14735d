"""The Kubernetes API as the lifecycle uses it: a bounded kr8s client, and one-line errors.

:func:`kube_api` connects (bounded: an API server that never answers is an error, not a hang);
:func:`k8s_errors` turns kr8s/httpx errors into :class:`~daskcloud.exceptions.KubernetesError`
lines that say what to do; the small readers fetch one object at once or list pods, and the
writers create built objects (each error naming the object).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
import kr8s
from kr8s.objects import Deployment, Job, Pod, object_from_spec

from daskcloud.exceptions import DaskcloudError, KubernetesError

__all__ = [
    "MANAGED",
    "REQUEST_TIMEOUT",
    "create_missing",
    "create_objects",
    "fetch",
    "k8s_errors",
    "kube_api",
    "pods",
    "scheduler_job",
    "workers_deployment",
]

MANAGED = "app.kubernetes.io/managed-by=daskcloud"


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
def k8s_errors(action: str) -> Iterator[None]:
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


def fetch(cls: type[Any], name: str, namespace: str, api: kr8s.Api) -> Any:
    """One object by name, at once (kr8s' ``get`` keeps retrying a missing object for 2 s)."""
    obj = cls(name, namespace=namespace, api=api)
    obj.refresh()
    return obj


def pods(api: kr8s.Api, namespace: str, selector: str | dict[str, str]) -> list[dict[str, Any]]:
    return [p.raw for p in Pod.list(api=api, namespace=namespace, label_selector=selector)]


def scheduler_job(api: kr8s.Api, name: str, namespace: str) -> dict[str, Any] | None:
    with k8s_errors(f"read cluster {namespace}/{name}"):
        try:
            return fetch(Job, f"{name}-scheduler", namespace, api).raw
        except kr8s.NotFoundError:
            return None


def workers_deployment(api: kr8s.Api, name: str, namespace: str) -> dict[str, Any] | None:
    """The worker Deployment of cluster ``name``, or None when it has none."""
    try:
        return fetch(Deployment, f"{name}-workers", namespace, api).raw
    except kr8s.NotFoundError:
        return None


def create_objects(api: kr8s.Api, manifests: list[dict[str, Any]]) -> None:
    """Create the built objects in their order; a refusal names the object."""
    for manifest in manifests:
        with k8s_errors(f"create {manifest['kind']} {manifest['metadata']['name']}"):
            object_from_spec(manifest, api=api).create()


def create_missing(api: kr8s.Api, manifest: dict[str, Any]) -> None:
    """Create an object that outlives clusters (a PersistentVolumeClaim) unless it exists."""
    with k8s_errors(f"create {manifest['kind']} {manifest['metadata']['name']}"):
        obj = object_from_spec(manifest, api=api)
        if not obj.exists():
            obj.create()

"""A fake Kubernetes API server for the lifecycle tests: kmock's emulator on loopback.

This is a fake at the transport: the code under test talks HTTP to it through kr8s and a
kubeconfig, exactly as it would to a real API server. kmock's ``KubernetesEmulator`` stores
objects in memory; :class:`FakeKubeAPI` adds the few behaviours of a real cluster the lifecycle
depends on, each deliberately simple:

* ``metadata.uid`` and ``creationTimestamp`` on create;
* label and field selectors on lists (equality only, what daskcloud uses);
* a *fake kubelet*: when a Job or Deployment is created or scaled, pods are made from its
  template, with the status the test's :class:`Scenario` prescribes, plus Events (the pure
  builders of those objects are in :mod:`fake_kubelet`);
* pod logs (``/log``) from :attr:`FakeKubeAPI.logs`;
* garbage collection: deleting an object deletes everything whose ``ownerReferences`` names it.

The server runs in its own thread and event loop, so the code under test uses kr8s' sync API
from the test's thread as it would from a CLI. Nothing here knows daskcloud's manifests beyond
the ``app.kubernetes.io/component`` label of pod templates.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import kmock
import pytest
import yaml
from fake_kubelet import (
    PodBehaviour,
    Scenario,
    deployment_status,
    new_pod,
    now,
    owned_by,
    pod_events,
    wanted_pods,
)

__all__ = [
    "FakeCluster",
    "FakeKubeAPI",
    "PodBehaviour",
    "Scenario",
    "fake_kube_api",
    "write_kubeconfig",
]


def _matches(obj: dict[str, Any], selector: str, *, labels: bool) -> bool:
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        key = key.rstrip("!")
        if labels:
            actual = obj.get("metadata", {}).get("labels", {}).get(key)
        else:
            actual = obj
            for part in key.split("."):
                actual = actual.get(part) if isinstance(actual, dict) else None
        if "!=" in term:
            if actual == value:
                return False
        elif actual != value.lstrip("="):
            return False
    return True


@attrs.define(kw_only=True)
class FakeKubeAPI(kmock.KubernetesEmulator):
    """kmock's Kubernetes emulator plus uids, selectors, a fake kubelet, logs and GC."""

    scenario: Scenario = attrs.field(factory=Scenario)
    logs: dict[str, str] = attrs.field(factory=dict)
    #: requests seen, as (method, path) — for asserting what the client did
    seen: list[tuple[str, str]] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # kr8s asks for "/version/" and warns about versions it does not support (kmock's
        # default is 1.26): answer as a supported release
        self["get /version/"] << self._serve_version_info
        self["get /version"] << self._serve_version_info

    async def _serve_version_info(self, request):
        return {
            "major": "1",
            "minor": "31",
            "gitVersion": "v1.31.0-fake",
            "platform": "linux/amd64",
        }

    async def _handle(self, request):  # type: ignore[override]
        self.seen.append((str(request.method).upper(), request.url.path))
        if request.subresource == "log":
            return aiohttp.web.Response(text=self.logs.get(request.name or "", ""))
        action = request.action
        if action == kmock.action.CREATE and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now())
            meta.setdefault("generation", 1)
            if request.namespace:
                meta.setdefault("namespace", request.namespace)
        before = None
        if action == kmock.action.UPDATE and request.resource is not None:
            before = copy.deepcopy(self._get(request.resource, request.namespace, request.name))
        response = await super()._handle(request)
        if request.resource is None or response.status >= 400:
            return response
        plural = request.resource.plural
        if action == kmock.action.CREATE and plural in ("jobs", "deployments"):
            await self._kubelet(request.data)
        elif action == kmock.action.UPDATE and plural == "deployments":
            await self._rollout(request.resource, request.namespace, request.name, before or {})
        elif action == kmock.action.DELETE:
            await self._collect_garbage()
        return response

    async def _serve_list(self, request):  # type: ignore[override]
        result = await super()._serve_list(request)
        items = result["items"]
        if sel := request.params.get("labelSelector"):
            items = [o for o in items if _matches(o, sel, labels=True)]
        if sel := request.params.get("fieldSelector"):
            items = [o for o in items if _matches(o, sel, labels=False)]
        return {**result, "items": items}

    # --- the fake kubelet and garbage collector --------------------------------------------

    def _get(self, resource, namespace, name) -> dict[str, Any]:
        for (res, ns, nm), obj in list(self._objects.items()):
            if res == resource and ns == namespace and nm == name and not obj.deleted:
                return obj.raw
        return {}

    def _live(self, plural: str) -> list[dict[str, Any]]:
        return [
            obj.raw
            for (res, _, _), obj in list(self._objects.items())
            if res.plural == plural and not obj.deleted
        ]

    async def _put(self, plural: str, group: str, version: str, obj: dict[str, Any]) -> None:
        key = (
            kmock.resource(group, version, plural),
            obj["metadata"]["namespace"],
            obj["metadata"]["name"],
        )
        async with self._lock:
            if key in self._objects and not self._objects[key].deleted:
                self._objects[key].patch(obj)
            elif key in self._objects:
                self._objects[key].create(obj)
            else:
                self._objects[key] = obj

    def _owned_pods(self, uid: str) -> list[dict[str, Any]]:
        return [p for p in self._live("pods") if owned_by(p, uid)]

    async def _delete_pod(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        key = (kmock.resource("", "v1", "pods"), meta["namespace"], meta["name"])
        async with self._lock:
            self._objects[key].delete()

    async def _rollout(self, resource, namespace, name, before: dict[str, Any]) -> None:
        """A changed Deployment: a new generation; a changed pod template replaces every pod
        (the fake's rollout: all at once); then the controller's status."""
        key = (resource, namespace, name)
        after = self._get(resource, namespace, name)
        if after.get("spec") != before.get("spec"):
            generation = int(before.get("metadata", {}).get("generation", 1)) + 1
            async with self._lock:
                self._objects[key].patch({"metadata": {"generation": generation}})
        if after.get("spec", {}).get("template") != before.get("spec", {}).get("template"):
            for pod in self._owned_pods(after["metadata"]["uid"]):
                await self._delete_pod(pod)
        await self._kubelet(self._get(resource, namespace, name))

    async def _kubelet(self, owner: dict[str, Any]) -> None:
        """Make or remove pods until ``owner`` has the number it wants (fake_kubelet builds
        them), with their logs and events; then a Deployment's status."""
        if not owner:
            return
        meta = owner["metadata"]
        wanted = wanted_pods(owner)
        pods = self._owned_pods(meta["uid"])
        for pod in pods[wanted:]:
            await self._delete_pod(pod)
        for index in range(len(pods), wanted):
            behaviour = self.scenario.for_template(owner)
            pod = new_pod(owner, behaviour)
            await self._put("pods", "", "v1", pod)
            if behaviour.log:
                self.logs[pod["metadata"]["name"]] = behaviour.log
            for event in pod_events(pod, index, behaviour):
                await self._put("events", "", "v1", event)
        if owner.get("kind") == "Deployment":
            status = deployment_status(owner, self._owned_pods(meta["uid"]))
            key = (kmock.resource("apps", "v1", "deployments"), meta["namespace"], meta["name"])
            async with self._lock:
                self._objects[key].patch({"status": status})

    async def _collect_garbage(self) -> None:
        while True:
            alive = {
                o["metadata"].get("uid")
                for (_, _, _), obj in list(self._objects.items())
                if not obj.deleted
                for o in [obj.raw]
            }
            orphans = [
                key
                for key, obj in list(self._objects.items())
                if not obj.deleted
                and (refs := obj.raw.get("metadata", {}).get("ownerReferences"))
                and not any(r.get("uid") in alive for r in refs)
            ]
            if not orphans:
                return
            async with self._lock:
                for key in orphans:
                    self._objects[key].delete()

    # --- helpers for tests (called from the test's thread) ----------------------------------

    def live(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects of ``plural`` that exist now (optionally in one namespace)."""
        return [
            o
            for o in self._live(plural)
            if namespace is None or o["metadata"].get("namespace") == namespace
        ]


class _ServerThread:
    """Runs a FakeKubeAPI with a kmock Server in a private event loop on a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.api: FakeKubeAPI | None = None
        self.url = ""
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="fake-kube-api", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())
        self.loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with FakeKubeAPI() as api, kmock.Server(api) as server:
            for plural, group, version in [
                ("pods", "", "v1"),
                ("configmaps", "", "v1"),
                ("services", "", "v1"),
                ("secrets", "", "v1"),
                ("events", "", "v1"),
                ("persistentvolumeclaims", "", "v1"),
                ("serviceaccounts", "", "v1"),
                ("jobs", "batch", "v1"),
                ("deployments", "apps", "v1"),
                ("networkpolicies", "networking.k8s.io", "v1"),
                ("roles", "rbac.authorization.k8s.io", "v1"),
                ("rolebindings", "rbac.authorization.k8s.io", "v1"),
            ]:
                api.resources[kmock.resource(group, version, plural)] = {}
            self.api = api
            self.url = str(server.url).rstrip("/")
            self.ready.set()
            await self._stop.wait()

    def __enter__(self) -> _ServerThread:
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the fake Kubernetes API server did not start within 10 s")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)


def write_kubeconfig(path: Path, url: str, namespace: str = "default") -> Path:
    """A kubeconfig whose only context points at ``url`` (no credentials: it is a fake)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "fake", "user": {"token": "fake-token"}}],
        "contexts": [
            {"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}
        ],
        "current-context": "fake",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class FakeCluster:
    """What the ``fake_kube_api`` fixture yields: the fake server and a kubeconfig for it."""

    api: FakeKubeAPI
    url: str
    kubeconfig: Path

    @property
    def scenario(self) -> Scenario:
        return self.api.scenario

    def live(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.api.live(plural, namespace)


@pytest.fixture
def fake_kube_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCluster]:
    """A fake Kubernetes API server on loopback, with ``KUBECONFIG`` pointing at it."""
    with _ServerThread() as server:
        assert server.api is not None
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url)
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        yield FakeCluster(api=server.api, url=server.url, kubeconfig=kubeconfig)

"""A fake Kubernetes API server for the lifecycle tests: kmock's emulator on loopback.

This is a fake at the transport: the code under test talks HTTP to it through kr8s and a
kubeconfig, exactly as it would to a real API server. kmock's ``KubernetesEmulator`` stores
objects in memory; :class:`FakeKubeAPI` adds the few behaviours of a real cluster the lifecycle
depends on, each deliberately simple:

* ``metadata.uid`` and ``creationTimestamp`` on create;
* label and field selectors on lists (equality only, what daskcloud uses);
* a *fake kubelet*: when a Job or Deployment is created or scaled, pods are made from its
  template, with the status the test's :class:`Scenario` prescribes, plus Events;
* pod logs (``/log``) from :attr:`FakeKubeAPI.logs`;
* garbage collection: deleting an object deletes everything whose ``ownerReferences`` names it.

The server runs in its own thread and event loop, so the code under test uses kr8s' sync API
from the test's thread as it would from a CLI. Nothing here knows daskcloud's manifests beyond
the ``app.kubernetes.io/component`` label of pod templates.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import kmock
import pytest
import yaml

COMPONENT = "app.kubernetes.io/component"


def _now() -> str:
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
            meta.setdefault("creationTimestamp", _now())
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
            uid = after["metadata"]["uid"]
            for pod in self._live("pods"):
                if any(r.get("uid") == uid for r in pod["metadata"].get("ownerReferences", [])):
                    pod_key = (kmock.resource("", "v1", "pods"), namespace, pod["metadata"]["name"])
                    async with self._lock:
                        self._objects[pod_key].delete()
        await self._kubelet(self._get(resource, namespace, name))

    async def _kubelet(self, owner: dict[str, Any]) -> None:
        if not owner:
            return
        meta = owner["metadata"]
        template = owner["spec"]["template"]
        wanted = 1 if owner.get("kind") == "Job" else int(owner["spec"].get("replicas", 1))
        pods = [
            p
            for p in self._live("pods")
            if any(r.get("uid") == meta["uid"] for r in p["metadata"].get("ownerReferences", []))
        ]
        for pod in pods[wanted:]:
            key = (
                kmock.resource("", "v1", "pods"),
                pod["metadata"]["namespace"],
                pod["metadata"]["name"],
            )
            async with self._lock:
                self._objects[key].delete()
        for index in range(len(pods), wanted):
            labels = dict(template.get("metadata", {}).get("labels", {}))
            behaviour = self.scenario.for_component(labels.get(COMPONENT))
            name = f"{meta['name']}-{uuid.uuid4().hex[:5]}"
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": meta["namespace"],
                    "uid": str(uuid.uuid4()),
                    "creationTimestamp": _now(),
                    "labels": labels,
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
                "status": self._status(template["spec"], behaviour),
            }
            await self._put("pods", "", "v1", pod)
            if behaviour.log:
                self.logs[name] = behaviour.log
            for n, (etype, reason, message) in enumerate(behaviour.events):
                event = {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": f"{name}.{index}{n}", "namespace": meta["namespace"]},
                    "involvedObject": {
                        "kind": "Pod",
                        "name": name,
                        "namespace": meta["namespace"],
                    },
                    "type": etype,
                    "reason": reason,
                    "message": message,
                    "lastTimestamp": _now(),
                }
                await self._put("events", "", "v1", event)
        if owner.get("kind") == "Deployment":
            mine = [
                p
                for p in self._live("pods")
                if any(
                    r.get("uid") == meta["uid"] for r in p["metadata"].get("ownerReferences", [])
                )
            ]
            ready = sum(
                1
                for p in mine
                if any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in p["status"].get("conditions", [])
                )
            )
            status = {
                "observedGeneration": int(meta.get("generation", 1)),
                "replicas": len(mine),
                "updatedReplicas": len(mine),
                "readyReplicas": ready,
            }
            key = (kmock.resource("apps", "v1", "deployments"), meta["namespace"], meta["name"])
            async with self._lock:
                self._objects[key].patch({"status": status})

    @staticmethod
    def _status(spec: dict[str, Any], b: PodBehaviour) -> dict[str, Any]:
        statuses = []
        for container in spec.get("containers", []):
            state: dict[str, Any]
            if b.waiting_reason:
                state = {"waiting": {"reason": b.waiting_reason, "message": b.waiting_message}}
            elif b.terminated_reason:
                state = {"terminated": {"reason": b.terminated_reason, "exitCode": b.exit_code}}
            else:
                state = {"running": {"startedAt": _now()}} if b.phase == "Running" else {}
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

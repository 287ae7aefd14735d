"""Pods as processes: run a rendered pod's container as a local process (the rewrites below).

There is no Kubernetes API server or container runtime here, so each container's ``command``,
``args`` and ``env`` — exactly as rendered — run as subprocesses of the test, with the rewrites
a kubelet would not need, each because this machine is not a pod:

1. Mount paths (``/etc/daskcloud/...``, ``/tmp``, ``/home/dask``, ``/scratch``) are moved
   under a directory of the test: we cannot write to ``/etc``, and each "pod" needs its own
   filesystem. Secret and ConfigMap data are written to the files their volumeMount names
   (only the ``items`` a volume lists), with the volume's defaultMode.
2. The scheduler Service's DNS name becomes ``127.0.0.1`` (no cluster DNS), and fixed ports
   (8786, the loopback dashboard's and JupyterLab's) free ports, since they may be taken on a
   shared machine.
3. ``$(VAR)`` references in args are expanded the way the kubelet expands them, and the
   downward-API pod name is a made-up one.
4. The test's Python environment stands in for the image: its ``bin/`` leads ``PATH`` and its
   ``PYTHONPATH`` (the sources under test) is passed on — or, for the sync tier, a bare
   virtual environment does, and the pod's init containers install its overlay first.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from k8s_objects import only

from daskcloud.cluster.kubernetes import ClusterSpec, build_cluster, generate_tls

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pod_of(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The pod template's spec of the one ``kind`` object (named ``name``)."""
    return only(objects, kind, name)["spec"]["template"]["spec"]


class LocalPod:
    """One rendered pod run as a local process under ``root`` (see the module docstring).

    Init containers run first, to completion, as the kubelet runs them (a failing one fails the
    test with its log). ``bin_dir`` is the "image": the folder its ``python`` and ``dask`` come
    from; ``inherit_pythonpath`` lets the tests' own daskcloud stand in for the image's (off
    when the pod's sync overlay is to provide it).
    """

    def __init__(
        self,
        pod: dict[str, Any],
        sources: list[dict[str, Any]],
        root: Path,
        replacements: dict[str, str],
        log: Path,
        *,
        env_overrides: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        bin_dir: Path = BIN,
        inherit_pythonpath: bool = True,
    ) -> None:
        (container,) = pod["containers"]
        self.root, self.replacements, self.bin_dir = root, replacements, bin_dir
        self.volumes = {v["name"]: v for v in pod["volumes"]}
        self.sources = {(o["kind"], o["metadata"]["name"]): o for o in sources}
        self.inherit = inherit_pythonpath
        self.paths: dict[str, str] = {}
        self._log = log.open("wb")
        self.log = log
        self.init_seconds = 0.0
        started = time.monotonic()
        for init in pod.get("initContainers", []):
            argv, env = self._prepare(init)
            done = subprocess.run(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                self._log.close()
                pytest.fail(f"init container {init['name']} failed:\n{log.read_text()[-3000:]}")
        self.init_seconds = time.monotonic() - started
        argv, self.env = self._prepare(container, env_overrides)
        self.argv = argv + list(extra_args or [])
        self.container = container
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def _mount(self, mount: dict[str, Any]) -> None:
        """Rewrite 1 for one volumeMount: a folder under root; Secret/ConfigMap data written."""
        local = self.root / mount["mountPath"].lstrip("/")
        self.paths[mount["mountPath"]] = str(local)
        if local.exists():
            return  # the same volume, seen by an earlier container of the pod
        local.mkdir(parents=True)
        volume = self.volumes[mount["name"]]
        if "secret" not in volume and "configMap" not in volume:
            assert {"emptyDir", "persistentVolumeClaim"} & set(volume), volume
            return
        source = volume.get("secret") or volume["configMap"]
        kind, name = ("Secret", source["secretName"]) if "secret" in volume else (
            "ConfigMap", source["name"])  # fmt: skip
        obj = self.sources[kind, name]
        if kind == "Secret":
            files = {k: base64.b64decode(v) for k, v in obj["data"].items()}
        else:
            files = {k: v.encode() for k, v in obj.get("data", {}).items()}
            files |= {k: base64.b64decode(v) for k, v in obj.get("binaryData", {}).items()}
        items = source.get("items") or [{"key": k, "path": k} for k in files]
        for item in items:
            (local / item["path"]).write_bytes(files[item["key"]])
            (local / item["path"]).chmod(source["defaultMode"])

    def _prepare(
        self, container: dict[str, Any], overrides: dict[str, str] | None = None
    ) -> tuple[list[str], dict[str, str]]:
        for mount in container["volumeMounts"]:
            self._mount(mount)
        env = {"PATH": f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}"}
        if self.inherit and os.environ.get("PYTHONPATH"):  # rewrite 4
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        for var in container.get("env", []):
            if "valueFrom" in var:
                # rewrite 3: the downward API's metadata.name
                assert var["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
                env[var["name"]] = "proc-workers-5d8f7c9b4-x2x7q"
            else:
                env[var["name"]] = self.local(var["value"])
        env.update(overrides or {})
        args = [self.local(a) for a in container["args"]]
        # rewrite 3: the kubelet's $(VAR) expansion
        args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in args]
        return self.command(container["command"], self.bin_dir) + args, env

    @staticmethod
    def command(command: list[str], bin_dir: Path = BIN) -> list[str]:
        """``command`` with its program taken from the environment standing in for the image."""
        return [str(bin_dir / command[0]), *command[1:]]

    def local(self, value: str) -> str:
        for old, new in self.replacements.items():  # rewrite 2
            value = value.replace(old, new)
        flag, eq, path = value.partition("=")
        if value.startswith("--") and eq:  # --Class.option=/a/mounted/path
            return f"{flag}={self.local(path)}"
        for mount, local in self.paths.items():
            if value == mount or value.startswith(mount + "/"):
                return local + value[len(mount) :]
        return value

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the group this test started
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()


def start_scheduler(
    spec: ClusterSpec,
    root: Path,
    notebook: Any = None,
    *,
    bundle: Any = None,
    bin_dir: Path = BIN,
) -> tuple[LocalPod, int, dict[str, Any]]:
    """The rendered scheduler pod, listening on a free port; the objects and rewrites with it.

    With a sync ``bundle`` the pods install their overlay (init containers) over ``bin_dir``'s
    interpreter and do not inherit the tests' sources; ``ctx["pod_options"]`` says so to the
    other pods of the cluster.
    """
    tls = generate_tls(spec)
    objects = build_cluster(spec, tls=tls, notebook=notebook, bundle=bundle)
    sources = [o for o in objects if o["kind"] in ("Secret", "ConfigMap")]
    port, dashboard = free_port(), free_port()
    root.mkdir(parents=True, exist_ok=True)
    (root / "dashboard-port").write_text(str(dashboard))
    replacements = {
        spec.scheduler_address: f"tls://127.0.0.1:{port}",
        "127.0.0.1:8787": f"127.0.0.1:{dashboard}",
    }
    job_pod = pod_of(objects, "Job")
    args = job_pod["containers"][0]["args"]
    args[args.index("--port") + 1] = str(port)
    options = {"bin_dir": bin_dir, "inherit_pythonpath": bundle is None}
    scheduler = LocalPod(
        job_pod, sources, root / "scheduler", replacements, root / "scheduler.log", **options
    )
    wait_for_port(port, scheduler, root / "scheduler.log")
    ctx = {"tls": tls, "objects": objects, "sources": sources, "replacements": replacements,
           "pod_options": options}  # fmt: skip
    return scheduler, port, ctx


def wait_for_port(port: int, pod: LocalPod, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pod.proc.poll() is not None:
            pytest.fail(f"scheduler exited early:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"scheduler did not listen within {timeout}s:\n{log.read_text()}")

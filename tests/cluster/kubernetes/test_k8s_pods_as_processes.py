"""Pods as processes: run the rendered scheduler and worker containers as local processes.

There is no Kubernetes API server or container runtime here, so each container's ``command``,
``args`` and ``env`` — exactly as rendered — run as subprocesses of this test, with three
rewrites a kubelet would not need, each because this machine is not a pod:

1. Mount paths (``/etc/daskcloud/tls``, ``/tmp``, ``/home/dask``, ``/scratch``) are moved
   under ``tmp_path``: we cannot write to ``/etc``, and each "pod" needs its own filesystem.
   The TLS Secret's data is written to the files its volumeMount names, with its defaultMode.
2. The scheduler Service's DNS name becomes ``127.0.0.1`` (no cluster DNS), and the scheduler
   port 8786 a free port (8786 may be taken on a shared machine); the loopback dashboard
   address gets a free port too.
3. ``$(VAR)`` references in args are expanded the way the kubelet expands them, and the
   downward-API pod name is a made-up one.

Everything else — the TLS flags, ``require-encryption``, ``--nthreads``, ``--memory-limit``,
``--idle-timeout`` — is the manifest's own.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daskcloud.cluster.kubernetes import (
    ClientCredentials,
    ClusterSpec,
    build_cluster,
    generate_tls,
    write_client_credentials,
)

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pod(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (obj,) = [o for o in objects if o["kind"] == kind]
    return obj["spec"]["template"]["spec"]


class LocalPod:
    """One rendered pod run as local processes under ``root`` (see the module docstring).

    Init containers run first, to completion, as the kubelet runs them; ``objects`` are the
    cluster's Secret and ConfigMaps, materialised where the pod mounts them. ``bin_dir`` is the
    "image": the folder its ``python`` and ``dask`` come from; ``inherit_pythonpath`` lets the
    tests' own daskcloud stand in for the image's.
    """

    def __init__(
        self,
        pod: dict[str, Any],
        secret: dict[str, Any],
        root: Path,
        replacements: dict[str, str],
        log: Path,
        *,
        objects: list[dict[str, Any]] = (),  # type: ignore[assignment]
        bin_dir: Path = BIN,
        inherit_pythonpath: bool = True,
    ) -> None:
        self.root, self.replacements, self.bin_dir = root, replacements, bin_dir
        self.volumes = {v["name"]: v for v in pod["volumes"]}
        self.sources = {(o["kind"], o["metadata"]["name"]): o for o in [secret, *objects]}
        self.paths: dict[str, str] = {}
        self.inherit = inherit_pythonpath
        self._log = log.open("wb")
        self.init_seconds = 0.0
        started = time.monotonic()
        for init in pod.get("initContainers", []):
            argv, env = self._prepare(init)
            done = subprocess.run(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                self._log.close()
                pytest.fail(f"init container {init['name']} failed:\n{log.read_text()[-3000:]}")
        self.init_seconds = time.monotonic() - started
        (container,) = pod["containers"]
        self.argv, self.env = self._prepare(container)
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def _prepare(self, container: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
        # rewrite 1: every mount path lives under root; secrets and config maps materialised
        for mount in container["volumeMounts"]:
            local = self.root / mount["mountPath"].lstrip("/")
            self.paths[mount["mountPath"]] = str(local)
            if local.exists():
                continue  # the same volume, seen by an earlier container of the pod
            local.mkdir(parents=True)
            volume = self.volumes[mount["name"]]
            if "secret" in volume:
                source = self.sources[("Secret", volume["secret"]["secretName"])]
                files = {k: base64.b64decode(v) for k, v in source["data"].items()}
                mode = volume["secret"]["defaultMode"]
            elif "configMap" in volume:
                source = self.sources[("ConfigMap", volume["configMap"]["name"])]
                files = {k: v.encode() for k, v in source.get("data", {}).items()}
                files |= {k: base64.b64decode(v) for k, v in source.get("binaryData", {}).items()}
                mode = volume["configMap"]["defaultMode"]
            else:
                assert "emptyDir" in volume, volume
                continue
            for key, data in files.items():
                (local / key).write_bytes(data)
                (local / key).chmod(mode)
        env = {"PATH": f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}"}
        if self.inherit and "PYTHONPATH" in os.environ:  # the image's daskcloud is under test
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        for var in container["env"]:
            if "valueFrom" in var:
                # rewrite 3: the downward API's metadata.name
                assert var["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
                env[var["name"]] = "proc-workers-5d8f7c9b4-x2x7q"
            else:
                env[var["name"]] = self._local(var["value"])
        args = [self._local(a) for a in container["args"]]
        # rewrite 3: the kubelet's $(VAR) expansion
        args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in args]
        command = [str(self.bin_dir / container["command"][0]), *container["command"][1:]]
        return command + args, env

    def _local(self, value: str) -> str:
        for old, new in self.replacements.items():  # rewrite 2
            value = value.replace(old, new)
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


def _start_scheduler(
    spec: ClusterSpec, root: Path, *, bundle: Any = None, bin_dir: Path = BIN
) -> tuple[LocalPod, int, dict[str, Any]]:
    tls = generate_tls(spec)
    objects = build_cluster(spec, tls=tls, bundle=bundle)
    (secret,) = [o for o in objects if o["kind"] == "Secret"]
    port, dashboard = _free_port(), _free_port()
    root.mkdir(parents=True, exist_ok=True)
    (root / "dashboard-port").write_text(str(dashboard))
    replacements = {
        spec.scheduler_address: f"tls://127.0.0.1:{port}",
        "127.0.0.1:8787": f"127.0.0.1:{dashboard}",
    }
    job_pod = _pod(objects, "Job")
    args = job_pod["containers"][0]["args"]
    args[args.index("--port") + 1] = str(port)
    pod_options = {"objects": objects, "bin_dir": bin_dir, "inherit_pythonpath": bundle is None}
    scheduler = LocalPod(
        job_pod, secret, root / "scheduler", replacements, root / "scheduler.log", **pod_options
    )
    _wait_for_port(port, scheduler, root / "scheduler.log")
    ctx = {
        "tls": tls, "objects": objects, "secret": secret, "replacements": replacements,
        "pod_options": pod_options,
    }  # fmt: skip
    return scheduler, port, ctx


def _wait_for_port(port: int, pod: LocalPod, log: Path, timeout: float = 30) -> None:
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


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Scheduler and one worker from the rendered manifests, and the client's credentials."""
    root = tmp_path_factory.mktemp("pods")
    spec = ClusterSpec(
        name="proc", namespace="test", workers=1, cpu="2", memory="1Gi", idle_timeout="10m"
    )
    scheduler, port, ctx = _start_scheduler(spec, root)
    worker = None
    try:
        creds = write_client_credentials(spec, ctx["tls"], home=root / "daskcloud-home")
        worker = LocalPod(
            _pod(ctx["objects"], "Deployment"),
            ctx["secret"],
            root / "worker",
            ctx["replacements"],
            root / "worker.log",
        )
        yield {
            "spec": spec,
            "port": port,
            "creds": creds,
            "scheduler": scheduler,
            "worker": worker,
            "root": root,
        }
    finally:
        if worker is not None:
            worker.stop()
        scheduler.stop()


def _client(cluster: dict[str, Any]):
    from distributed import Client

    creds: ClientCredentials = cluster["creds"]
    return Client(f"tls://127.0.0.1:{cluster['port']}", security=creds.security(), timeout="20s")


def test_client_with_certificate_runs_a_search(cluster: dict[str, Any]) -> None:
    import numpy as np
    from distributed import get_task_stream
    from sklearn.datasets import make_regression
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV

    from daskcloud.search import DaskSearchCV

    with _client(cluster) as client:
        try:
            client.wait_for_workers(1, timeout=40)
        except TimeoutError:
            pytest.fail((cluster["root"] / "worker.log").read_text())
        info = client.scheduler_info()
        assert client.scheduler.address.startswith("tls://")
        ((address, worker),) = info["workers"].items()
        assert worker["id"] == "proc-workers-5d8f7c9b4-x2x7q"  # --name $(DASK_WORKER_NAME)
        assert worker["nthreads"] == cluster["spec"].threads_per_worker == 2
        assert worker["memory_limit"] == cluster["spec"].memory_bytes == 2**30
        assert address.startswith("tls://")

        # a small search through daskcloud, on the cluster, compared with scikit-learn's
        X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
        space = {"alpha": [0.01, 1.0, 100.0]}
        with get_task_stream(client) as stream:
            search = DaskSearchCV(Ridge(), space, cv=3, client=client, progress=False)
            search.fit(X, y)
        reference = GridSearchCV(Ridge(), space, cv=3).fit(X, y)
        assert search.best_params_ == reference.best_params_ == {"alpha": 0.01}
        np.testing.assert_allclose(
            search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"]
        )
        assert search.search_stats_["n_fits"] >= 9  # 3 candidates x 3 folds (+ refit)
        # the fits ran as tasks on the pod's worker
        assert stream.data and {task["worker"] for task in stream.data} == {address}


def test_plain_tcp_client_is_refused(cluster: dict[str, Any]) -> None:
    from distributed import Client

    start = time.monotonic()
    with pytest.raises((OSError, TimeoutError)):
        Client(f"tcp://127.0.0.1:{cluster['port']}", timeout="3s")
    assert time.monotonic() - start < 15


def test_client_with_another_ca_is_refused(cluster: dict[str, Any]) -> None:
    from distributed import Client
    from distributed.security import Security

    with pytest.raises((OSError, TimeoutError)):
        Client(f"tls://127.0.0.1:{cluster['port']}", security=Security.temporary(), timeout="3s")


def _tls_handshake(cluster: dict[str, Any], *, with_cert: bool) -> str:
    """Open a raw TLS connection that trusts the cluster CA; 'open' if the server keeps it."""
    creds: ClientCredentials = cluster["creds"]
    ctx = ssl.create_default_context(cafile=str(creds.ca_file))
    ctx.check_hostname = False  # distributed does not check host names either
    if with_cert:
        ctx.load_cert_chain(str(creds.cert_file), str(creds.key_file))
    with (
        socket.create_connection(("127.0.0.1", cluster["port"]), timeout=5) as raw,
        ctx.wrap_socket(raw) as tls,
    ):
        tls.settimeout(1.5)
        try:
            data = tls.recv(1)
        except TimeoutError:
            return "open"
        except (ssl.SSLError, ConnectionError) as exc:
            return f"refused: {exc}"
        return "open" if data else "refused: closed"


def test_server_demands_the_client_certificate(cluster: dict[str, Any]) -> None:
    # same CA, no client certificate: the scheduler ends the TLS session (mutual TLS) ...
    assert _tls_handshake(cluster, with_cert=False).startswith("refused")
    # ... while the same connection with the certificate stays open (the test can fail)
    assert _tls_handshake(cluster, with_cert=True) == "open"


def _non_loopback_ip() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent; picks the outgoing interface
        except OSError:
            return None
        ip = s.getsockname()[0]
    return None if ip.startswith("127.") else ip


def test_dashboard_listens_on_loopback_only(cluster: dict[str, Any]) -> None:
    import urllib.request

    port = int((cluster["root"] / "dashboard-port").read_text())
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
        assert response.read() == b"ok"  # what `kubectl port-forward` reaches inside the pod
    ip = _non_loopback_ip()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with pytest.raises(OSError):  # what any other pod would reach: nothing
        socket.create_connection((ip, port), timeout=2).close()


def test_client_key_files_are_private(cluster: dict[str, Any]) -> None:
    creds: ClientCredentials = cluster["creds"]
    assert creds.directory.stat().st_mode & 0o777 == 0o700
    for path in (creds.ca_file, creds.cert_file, creds.key_file):
        assert path.stat().st_mode & 0o777 == 0o600


def test_scheduler_exits_on_its_own_when_idle(tmp_path: Path) -> None:
    spec = ClusterSpec(name="idle", namespace="test", workers=0, idle_timeout="5s")
    scheduler, _, _ = _start_scheduler(spec, tmp_path)
    try:
        started = time.monotonic()
        returncode = scheduler.proc.wait(30)
        waited = time.monotonic() - started
    finally:
        scheduler.stop()
    log = (tmp_path / "scheduler.log").read_text()
    assert returncode == 0, log
    assert "idle" in log.lower()
    assert 4 <= waited < 30


# --- the sync tier: a bare interpreter, the init container's real pip install, a local module --

MODELS = '''
from sklearn.linear_model import Ridge


class ShrunkRidge(Ridge):
    """A user's estimator, in a module installed nowhere."""
'''


@pytest.mark.slow  # a bare venv and scikit-learn, SciPy, NumPy, pandas from the index: minutes
def test_sync_overlay_on_a_bare_interpreter_runs_a_search_of_a_local_module(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The official image holds dask and distributed only: the init containers install the
    rest from the index into each pod's overlay, and the search ships the local module."""
    import numpy as np
    from distributed import Client
    from sklearn.datasets import make_regression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from bare_venv import make_venv
    from daskcloud.search import DaskSearchCV
    from daskcloud.sync import cluster_bundle

    python = make_venv(tmp_path_factory.getbasetemp() / "venv-image", ["dask", "distributed"])
    spec = ClusterSpec(name="sync", namespace="test", workers=1, cpu="1", memory="1Gi")
    root = tmp_path / "pods"
    scheduler, port, ctx = _start_scheduler(
        spec, root, bundle=cluster_bundle(), bin_dir=python.parent
    )
    worker = None
    try:
        worker = LocalPod(
            _pod(ctx["objects"], "Deployment"), ctx["secret"], root / "worker",
            ctx["replacements"], root / "worker.log", **ctx["pod_options"],
        )  # fmt: skip
        creds = write_client_credentials(spec, ctx["tls"], home=root / "home")
        (tmp_path / "house_models.py").write_text(MODELS)
        monkeypatch.syspath_prepend(str(tmp_path))
        import house_models

        def _origins() -> dict[str, str]:  # local: pickled by value, the pods hold no tests
            import importlib

            import sklearn

            return {
                "sklearn": sklearn.__file__,
                "house_models": importlib.import_module("house_models").__file__,
            }

        X, y = make_regression(n_samples=150, n_features=5, noise=2.0, random_state=3)
        pipe = make_pipeline(StandardScaler(), house_models.ShrunkRidge())
        space = {"shrunkridge__alpha": [0.01, 1.0, 100.0]}
        with Client(f"tls://127.0.0.1:{port}", security=creds.security(), timeout="30s") as c:
            c.wait_for_workers(1, timeout=120)
            ours = DaskSearchCV(pipe, space, cv=3, client=c, progress=False).fit(X, y)
            where = c.run(_origins)
        theirs = GridSearchCV(pipe, space, cv=3).fit(X, y)
        np.testing.assert_allclose(
            ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"]
        )
        assert ours.best_params_ == theirs.best_params_
        ((_, origin),) = where.items()
        assert origin["sklearn"].startswith(str(root / "worker" / "opt/daskcloud/overlay"))
        assert "daskcloud-sync-" in origin["house_models"]
    finally:
        if worker is not None:
            worker.stop()
        scheduler.stop()

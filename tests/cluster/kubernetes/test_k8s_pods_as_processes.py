"""Pods as processes: run the rendered scheduler and worker containers as local processes.

The rendered pods run with :mod:`local_pods` (its docstring lists the rewrites a kubelet would
not need: mount paths under the test's folder, the Service's DNS name and fixed ports,
``$(VAR)`` expansion, the test's interpreter as the image). Everything else — the TLS flags,
``require-encryption``, ``--nthreads``, ``--memory-limit``, ``--idle-timeout``, the init
container's install — is the manifest's own.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_pods import LocalPod, pod_of, start_scheduler

from daskcloud.cluster.kubernetes import (
    ClientCredentials,
    ClusterSpec,
    write_client_credentials,
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Scheduler and one worker from the rendered manifests, and the client's credentials."""
    root = tmp_path_factory.mktemp("pods")
    spec = ClusterSpec(
        name="proc", namespace="test", workers=1, cpu="2", memory="1Gi", idle_timeout="10m"
    )
    scheduler, port, ctx = start_scheduler(spec, root)
    worker = None
    try:
        creds = write_client_credentials(spec, ctx["tls"], home=root / "daskcloud-home")
        worker = LocalPod(
            pod_of(ctx["objects"], "Deployment"),
            ctx["sources"],
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
    scheduler, _, _ = start_scheduler(spec, tmp_path)
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
    scheduler, port, ctx = start_scheduler(
        spec, root, bundle=cluster_bundle(), bin_dir=python.parent
    )
    worker = None
    try:
        worker = LocalPod(
            pod_of(ctx["objects"], "Deployment"), ctx["sources"], root / "worker",
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

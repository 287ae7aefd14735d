"""Pods as processes: the rendered JupyterLab pod next to the rendered scheduler and worker.

The notebook container runs exactly as rendered, with :mod:`local_pods`' rewrites plus two of
its own: ``--allow-root`` when this test runs as root (the pod runs as uid 10001), and a 1 s
busy-kernel interval (the rendered one is a quarter of the idle timeout) so the keep-alive is
seen within seconds. A real Jupyter server and a real kernel, driven through the server's REST
API and the kernel's websocket as a browser would: the token is required, the examples are
there, a cell connects with ``Client()`` and ``connect_cluster()`` — no arguments — over mutual
TLS and runs a DaskSearchCV search, and a busy kernel resets the scheduler's idle clock while
an idle one does not. One server for the module.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_pods import LocalPod, free_port, pod_of, start_scheduler

from daskcloud.cluster.kubernetes import ClusterSpec, NotebookFiles, write_client_credentials
from notebook_rest import JupyterREST

TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef"
EXAMPLES = {"hello.ipynb": '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'}


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Scheduler, one worker and the notebook pod from the rendered manifests."""
    root = tmp_path_factory.mktemp("notebook-pods")
    spec = ClusterSpec(name="nbp", namespace="test", workers=1, cpu="1", memory="1Gi", jupyter=True)
    files = NotebookFiles(token=TOKEN, examples=EXAMPLES)
    scheduler, port, ctx = start_scheduler(spec, root, notebook=files)
    pods = [scheduler]
    try:
        http = free_port()
        replacements = {**ctx["replacements"], "127.0.0.1:8888": f"127.0.0.1:{http}",
                        "--ServerApp.port=8888": f"--ServerApp.port={http}"}  # fmt: skip
        pods.append(LocalPod(pod_of(ctx["objects"], "Deployment"), ctx["sources"],
                             root / "worker", replacements, root / "worker.log"))  # fmt: skip
        jupyter = LocalPod(
            pod_of(ctx["objects"], "Deployment", spec.jupyter_name),
            ctx["sources"],
            root / "jupyter",
            replacements,
            root / "jupyter.log",
            env_overrides={"DASKCLOUD_KEEPALIVE_INTERVAL": "1"},
            extra_args=["--allow-root"] if os.geteuid() == 0 else [],
        )
        pods.append(jupyter)
        server = JupyterREST(f"http://127.0.0.1:{http}", TOKEN)
        try:
            server.wait_ready(90, alive=lambda: jupyter.proc.poll() is None)
        except (RuntimeError, TimeoutError) as exc:
            pytest.fail(f"{exc}:\n{(root / 'jupyter.log').read_text()[-3000:]}")
        creds = write_client_credentials(spec, ctx["tls"], home=root / "daskcloud-home")
        yield {"spec": spec, "port": port, "server": server, "jupyter": jupyter,
               "creds": creds, "root": root}  # fmt: skip
        server.close()
    finally:
        for pod in reversed(pods):
            pod.stop()


@pytest.fixture(scope="module")
def kernel(notebook: dict[str, Any]) -> Iterator[str]:
    server: JupyterREST = notebook["server"]
    kernel_id = server.start_kernel()
    yield kernel_id
    server.close()
    server.request(f"/api/kernels/{kernel_id}", "DELETE")  # quicker than at the server's exit


def test_the_server_wants_the_token(notebook: dict[str, Any]) -> None:
    server: JupyterREST = notebook["server"]
    status, body = server.request("/api/status")
    assert status == 200 and "started" in body
    assert server.request("/api/status", token=None)[0] == 403
    assert server.request("/api/status", token="f" * 48)[0] == 403
    assert server.request("/api/contents", token=None)[0] == 403


def test_the_rendered_readiness_probe_passes(notebook: dict[str, Any]) -> None:
    jupyter: LocalPod = notebook["jupyter"]
    probe = [jupyter.local(a) for a in jupyter.container["readinessProbe"]["exec"]["command"]]
    done = subprocess.run(LocalPod.command(probe), env=jupyter.env, timeout=60, check=False)
    assert done.returncode == 0


def test_the_examples_are_there_to_open(notebook: dict[str, Any]) -> None:
    status, listing = notebook["server"].request("/api/contents/examples")
    assert status == 200
    assert {item["name"] for item in listing["content"]} == set(EXAMPLES)
    assert all(item["writable"] for item in listing["content"])  # a copy, not the ConfigMap


def test_a_cell_connects_with_no_arguments_and_runs_a_search(
    notebook: dict[str, Any], kernel: str
) -> None:
    code = """
from distributed import Client
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from daskcloud.cluster import connect_cluster
from daskcloud.search import DaskSearchCV

client = Client()
client.wait_for_workers(1, timeout=60)
X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
search = DaskSearchCV(Ridge(), {"alpha": [0.01, 1.0, 100.0]}, cv=3, client=client, progress=False)
search.fit(X, y)
print("address", client.scheduler.address)
print("best", search.best_params_, search.search_stats_["n_fits"] >= 9)
with connect_cluster() as conn:
    n = len(conn.client.scheduler_info()["workers"])
    print("connect_cluster", conn.client.scheduler.address, n)
"""
    out = notebook["server"].execute(kernel, code, timeout=180)
    address = f"tls://127.0.0.1:{notebook['port']}"
    assert f"address {address}" in out
    assert "best {'alpha': 0.01} True" in out
    assert f"connect_cluster {address} 1" in out


def _idle_since(client: Any) -> float | None:
    """The scheduler's idle clock, from its own ``check_idle`` handler."""
    return client.sync(client.scheduler.check_idle)


def test_a_busy_kernel_keeps_the_cluster_an_idle_one_does_not(
    notebook: dict[str, Any], kernel: str
) -> None:
    from distributed import Client

    server: JupyterREST = notebook["server"]
    address = f"tls://127.0.0.1:{notebook['port']}"
    with Client(address, security=notebook["creds"].security(), timeout="20s") as client:
        deadline = time.monotonic() + 10
        while _idle_since(client) is None and time.monotonic() < deadline:
            time.sleep(0.2)  # the scheduler is idle: its clock is running
        before = _idle_since(client)
        started = time.time()
        # no Dask work at all: pandas in a notebook, say
        server.execute(kernel, "import time; time.sleep(4)")
        during = _idle_since(client)
        assert before is not None and during is not None
        assert during > started + 1, "a busy kernel did not reset the scheduler's idle clock"
        time.sleep(3)  # the kernel is idle now
        assert server.kernel_state(kernel) == "idle"
        after = _idle_since(client)
        assert after == pytest.approx(during, abs=1.5), "an idle kernel kept resetting it"
        assert time.time() - after > 2
    log = (notebook["root"] / "scheduler.log").read_text()
    assert "daskcloud_notebook_busy" in log  # dask logs each out-of-band function it runs


@pytest.mark.slow  # a bare venv, then JupyterLab, scikit-learn, SciPy, pandas... from the index
def test_the_notebook_pod_starts_from_the_sync_overlay_on_a_bare_interpreter(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """The official dask image holds no JupyterLab: the notebook pod's init container installs
    the client's (with daskcloud and the driver's pins) into a fresh overlay, with real pip,
    and the rendered notebook command starts JupyterLab from it."""
    from bare_venv import make_venv
    from daskcloud.cluster.kubernetes import build_cluster, generate_tls
    from daskcloud.sync import cluster_bundle

    python = make_venv(tmp_path_factory.getbasetemp() / "venv-image", ["dask", "distributed"])
    spec = ClusterSpec(name="nbsync", namespace="test", workers=0, cpu="1", memory="1Gi",
                       jupyter=True)  # fmt: skip
    bundle = cluster_bundle(notebook=True)
    files = NotebookFiles(token=TOKEN, examples=EXAMPLES)
    objects = build_cluster(spec, tls=generate_tls(spec), bundle=bundle, notebook=files)
    sources = [o for o in objects if o["kind"] in ("Secret", "ConfigMap")]
    http = free_port()
    replacements = {"127.0.0.1:8888": f"127.0.0.1:{http}",
                    "--ServerApp.port=8888": f"--ServerApp.port={http}"}  # fmt: skip
    root = tmp_path / "jupyter"
    jupyter = LocalPod(
        pod_of(objects, "Deployment", spec.jupyter_name),
        sources,
        root,
        replacements,
        tmp_path / "jupyter.log",
        extra_args=["--allow-root"] if os.geteuid() == 0 else [],
        bin_dir=python.parent,
        inherit_pythonpath=False,  # the overlay, not the tests' sources, provides daskcloud
    )
    server = JupyterREST(f"http://127.0.0.1:{http}", TOKEN)
    try:
        try:
            server.wait_ready(180, alive=lambda: jupyter.proc.poll() is None)
        except (RuntimeError, TimeoutError) as exc:
            pytest.fail(f"{exc}:\n{(tmp_path / 'jupyter.log').read_text()[-3000:]}")
        assert server.request("/api/status")[0] == 200
        assert server.request("/api/status", token=None)[0] == 403
        # the lab application, terminals and daskcloud's extension come from the overlay
        status, page = server.request("/lab")
        assert status == 200 and "jupyter-config-data" in page
        assert server.request("/api/terminals")[0] == 200
        status, listing = server.request("/api/contents/examples")
        assert status == 200 and {i["name"] for i in listing["content"]} == set(EXAMPLES)
        kernel = server.start_kernel()
        out = server.execute(
            kernel,
            "import daskcloud, jupyterlab, sklearn, sys\n"
            "print('from', sys.executable, jupyterlab.__file__, sklearn.__file__, "
            "daskcloud.__file__)",
            timeout=120,
        )
        server.close()
    finally:
        jupyter.stop()
    overlay = str(root / "opt/daskcloud/overlay")
    executable, *modules = out.split("from ", 1)[1].split()
    assert executable == str(python)  # the "image's" interpreter ...
    assert all(m.startswith(overlay) for m in modules), modules  # ... the overlay's packages
    log = (tmp_path / "jupyter.log").read_text()
    assert "daskcloud sync: " in log and "assets not found" not in log

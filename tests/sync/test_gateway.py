"""A search through a real dask-gateway whose schedulers and workers hold none of daskcloud.

``dask-gateway-server`` (from the test extra) runs here with its local backend; the clusters it
starts run ``dask scheduler`` / ``dask worker`` from a bare virtual environment holding dask,
distributed, scikit-learn and dask-gateway (the scheduler's preload) at the client's versions,
and nothing of this process's environment (the backend inherits no ``PYTHONPATH``). The client
is what the README tells a gateway user to write: ``Gateway().new_cluster().get_client()``,
passed as ``client=``; the search ships daskcloud's worker-side code and the estimator's
module, installed nowhere, through the gateway's TLS proxy.
"""

from __future__ import annotations

import gc
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from bare_venv import clean_env, make_venv

pytestmark = pytest.mark.slow  # a venv from the package index, then a gateway cluster: minutes
pytest.importorskip("dask_gateway_server", reason="the test extra is not installed")
dask_gateway = pytest.importorskip("dask_gateway", reason="the test extra is not installed")

MODELS = textwrap.dedent(
    """
    from sklearn.linear_model import Ridge


    class GatewayRidge(Ridge):
        '''A user's own estimator, in a module installed nowhere.'''
    """
)

CONFIG = """
c.Gateway.address = "127.0.0.1:{api}"
c.Proxy.address = "127.0.0.1:{proxy}"
c.Gateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
# the clusters get nothing of this process's environment (PYTHONPATH holds daskcloud's sources)
c.LocalBackend.inherited_environment = ["LANG"]
c.LocalBackend.clusters_directory = "{root}/clusters"
c.ClusterConfig.scheduler_cmd = ["{bin}/dask", "scheduler"]
c.ClusterConfig.worker_cmd = ["{bin}/dask", "worker"]
c.ClusterConfig.worker_cores = 1
c.ClusterConfig.worker_memory = 1.0
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Wait until the gateway answers ``url`` through its proxy (the proxy listens first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dask-gateway-server exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"dask-gateway-server did not answer within {timeout}s:\n{log.read_text()}")


# dask-gateway's Gateway.__del__ closes it again after its event loop has stopped, which raises
# inside __del__ with this distributed; the objects are collected inside the test (below), so
# only that warning is ignored, only here
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_search_through_dask_gateway_on_workers_without_daskcloud(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from sklearn.datasets import make_regression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from daskcloud.search import DaskSearchCV

    def _has_daskcloud() -> bool:  # local: pickled by value, the workers hold no tests
        import importlib.util

        return importlib.util.find_spec("daskcloud") is not None

    def _origins() -> dict[str, str]:
        import importlib

        return {m: importlib.import_module(m).__file__ for m in ("gateway_models", "daskcloud")}

    venv = tmp_path_factory.getbasetemp() / "venv-gateway"
    python = make_venv(venv, ["dask", "distributed", "scikit-learn", "dask-gateway"])
    bare = subprocess.run([str(python), "-c", "import daskcloud"], env=clean_env(),
                          capture_output=True, cwd=tmp_path)  # fmt: skip
    assert bare.returncode != 0, "the bare environment must not hold daskcloud"
    api, proxy = _free_port(), _free_port()
    config = tmp_path / "gateway_config.py"
    config.write_text(CONFIG.format(api=api, proxy=proxy, root=tmp_path, bin=python.parent))
    # the server itself runs from the tests' environment, where the test extra installed it
    env = clean_env()
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "dask_gateway_server", "-f", str(config)], cwd=tmp_path,
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_ready(f"http://127.0.0.1:{proxy}/api/health", server, log)
        (tmp_path / "gateway_models.py").write_text(MODELS)
        monkeypatch.syspath_prepend(str(tmp_path))
        import gateway_models

        X, y = make_regression(n_samples=150, n_features=5, noise=2.0, random_state=4)
        pipe = make_pipeline(StandardScaler(), gateway_models.GatewayRidge())
        space = {"gatewayridge__alpha": [0.01, 1.0, 100.0]}
        gateway = dask_gateway.Gateway(
            f"http://127.0.0.1:{proxy}", auth=dask_gateway.BasicAuth("alice", "")
        )
        with gateway.new_cluster() as cluster:
            cluster.scale(1)
            with cluster.get_client() as client:
                client.wait_for_workers(1, timeout=120)
                assert client.scheduler.address.startswith("gateway://")
                before = client.run(_has_daskcloud)
                ours = DaskSearchCV(pipe, space, cv=3, client=client, progress=False).fit(X, y)
                after = client.run(_origins)
        gateway.close()
        scores, best = ours.cv_results_["mean_test_score"], ours.best_params_
        del gateway, cluster, client, ours  # the search holds the client, which holds the cluster
        gc.collect()
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)  # it stops its clusters, then exits
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)
    assert list(before.values()) == [False]  # the gateway's workers had no daskcloud
    theirs = GridSearchCV(pipe, space, cv=3).fit(X, y)
    np.testing.assert_allclose(scores, theirs.cv_results_["mean_test_score"])
    assert best == theirs.best_params_
    ((_, origin),) = after.items()
    assert "daskcloud-sync-" in origin["gateway_models"]
    assert "daskcloud-sync-" in origin["daskcloud"]

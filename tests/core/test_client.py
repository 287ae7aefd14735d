"""The embedded local cluster: worker processes, one thread each, idempotent close."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from daskcloud.core.client import LocalDaskCluster, connect, default_n_workers, open_client
from daskcloud.exceptions import ClusterError, ConfigError


def test_local_cluster_lifecycle():
    cluster = LocalDaskCluster(n_workers=1)
    assert cluster.client is None and "not started" in repr(cluster)
    with cluster:
        client = cluster.client
        assert cluster.address.startswith("tcp://")
        assert list(client.nthreads().values()) == [1]
        pids = client.run(os.getpid)
        assert os.getpid() not in pids.values()  # worker processes, not threads
        assert client.submit(sum, [1, 2]).result() == 3
    assert cluster.client is None
    cluster.close()  # twice is fine
    assert client.status == "closed"


def test_open_client_normalises_every_form(dask_client):
    with open_client(dask_client) as same:
        assert same is dask_client
    assert dask_client.status == "running"  # a given client is left open
    with open_client(dask_client.scheduler.address) as by_address:
        assert by_address is not dask_client and by_address.submit(abs, -1).result() == 1
    assert by_address.status == "closed"


def test_bad_options_and_unreachable_scheduler():
    assert default_n_workers() >= 1
    with pytest.raises(ConfigError, match="n_workers must be a positive integer"):
        LocalDaskCluster(n_workers=0)
    with pytest.raises(ConfigError, match="invalid scheduler address"):
        connect("nonsense")
    with pytest.raises(ConfigError, match="uses TLS"):
        connect("tls://127.0.0.1:8786")
    with pytest.raises(
        ClusterError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"
    ):
        connect("tcp://127.0.0.1:9", timeout=1)


UNGUARDED = """
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from daskcloud.search import DaskSearchCV


class Shift(TransformerMixin, BaseEstimator):  # defined in __main__: reaches workers by value
    def __init__(self, by=0.0):
        self.by = by

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return np.asarray(X) + self.by


X, y = make_regression(n_samples=40, n_features=3, random_state=0)
pipe = Pipeline([("shift", Shift()), ("ridge", Ridge())])
search = DaskSearchCV(pipe, {"ridge__alpha": [0.1, 1.0]}, cv=3, progress=False).fit(X, y)
print("best", search.best_params_)
"""


def test_a_script_without_a_main_guard_runs_on_the_embedded_cluster(tmp_path):
    """LocalCluster's spawned workers re-imported the script and failed to start."""
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED)
    src = str(Path(__file__).parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=240, cwd=tmp_path, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "best {'ridge__alpha': 0.1}" in proc.stdout


def test_a_worker_that_cannot_start_says_why(monkeypatch):
    from daskcloud.core import local

    monkeypatch.setattr(local, "DEATH_TIMEOUT", "soon")  # the worker process rejects it
    with pytest.raises(ClusterError, match=r"a local Dask worker exited while starting \(exit "
                       r"code \d+\): .*soon") as info:  # fmt: skip
        LocalDaskCluster(n_workers=1).start()
    assert "\n" not in str(info.value)

"""The embedded local cluster: worker processes, one thread each, idempotent close."""

from __future__ import annotations

import os

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

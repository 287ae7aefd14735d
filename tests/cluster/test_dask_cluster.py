"""DaskcloudCluster: the local backend through distributed's Cluster API and Client(cluster)."""

from __future__ import annotations

import time

import pytest
from distributed import Client

from daskcloud.cluster._local_backend import LocalBackend
from daskcloud.cluster.dask_cluster import DaskcloudCluster
from daskcloud.exceptions import ClusterError


@pytest.fixture(autouse=True)
def _state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DASKCLOUD_HOME", str(tmp_path / "home"))


def test_the_code_a_dask_user_writes_works(capsys):
    with (
        DaskcloudCluster("dc", workers=1, cpu="1", memory="1Gi", timeout=90) as cluster,
        Client(cluster) as client,
    ):
        assert client.submit(sum, [1, 2]).result(timeout=30) == 3
        assert cluster.scheduler_address == LocalBackend().status("dc").address
        assert cluster.dashboard_link.startswith("http://127.0.0.1:")
        assert "DaskcloudCluster" in cluster._repr_html_()
        cluster.scale(2)
        client.wait_for_workers(2, timeout=60)
        logs = cluster.get_logs(cluster=False, workers=False)
        assert "Scheduler" in logs
        # attaching by name gives a second handle; closing it leaves the cluster running
        with DaskcloudCluster.from_name("dc", backend="local") as again:
            assert again.scheduler_address == cluster.scheduler_address
            assert not again.shutdown_on_close
        assert LocalBackend().status("dc").state == "running"
    # the cluster this object created is gone with it
    assert LocalBackend().find("dc") is None or LocalBackend().status("dc").state == "finished"


def test_adapt_follows_the_scheduler_target():
    with DaskcloudCluster("ad", workers=1, cpu="1", memory="1Gi", timeout=90) as cluster:
        adaptive = cluster.adapt(minimum=2, maximum=2, interval="200ms")
        deadline = time.monotonic() + 60
        while LocalBackend().status("ad").workers_ready < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert LocalBackend().status("ad").workers_wanted == 2
        adaptive.stop()


def test_from_name_of_a_missing_cluster_is_a_clear_error():
    with pytest.raises(ClusterError, match="no local cluster 'nope' is running"):
        DaskcloudCluster("nope", create=False)

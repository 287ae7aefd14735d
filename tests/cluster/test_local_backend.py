"""The local backend: real detached `dask scheduler` / `dask worker` processes behind the same
up/status/scale/logs/down/list commands as Kubernetes."""

from __future__ import annotations

import time

import pytest
from distributed import Client

from daskcloud.cli import main
from daskcloud.cluster._local_processes import (
    _alive,
    local_down,
    local_list,
    local_logs,
    local_scale,
    local_status,
    local_up,
)
from daskcloud.cluster._state import load_record
from daskcloud.exceptions import ClusterError


@pytest.fixture(autouse=True)
def _state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DASKCLOUD_HOME", str(tmp_path / "home"))


@pytest.fixture
def local_cluster():
    status = local_up("lc", workers=1, threads=1, memory="1GiB", price_per_hour=0.5, timeout=90)
    try:
        yield status
    finally:
        local_down("lc")


def test_up_status_scale_logs_down(local_cluster):
    status = local_cluster
    assert (status.state, status.workers_ready, status.workers_wanted) == ("running", 1, 1)
    assert status.address.startswith("tcp://127.0.0.1:")
    assert status.dashboard_url.startswith("http://127.0.0.1:")
    with Client(status.address, timeout=30) as client:  # a real scheduler others can use
        assert client.submit(sum, [1, 2]).result(timeout=30) == 3
    status = local_status("lc")
    assert status.idle_s is not None and status.idle_timeout_s == 1200
    assert status.cost_so_far is not None and status.cost_so_far < 0.01
    assert local_scale("lc", 2, timeout=60) == 2
    assert local_status("lc").workers_ready == 2
    local_scale("lc", 1, timeout=60)
    assert local_status("lc").workers_ready == 1
    assert "Scheduler at:" in local_logs("lc")
    assert "Start worker" in local_logs("lc", worker=0)
    assert [s.name for s in local_list()] == ["lc"]
    pids = [*load_record("local", "lc").pids, *load_record("local", "lc").extra["workers"].values()]
    assert local_down("lc") is True
    assert not any(_alive(p) for p in pids)
    assert local_down("lc") is False  # idempotent
    assert local_list() == []


def test_second_up_with_the_same_name_is_refused(local_cluster):
    with pytest.raises(ClusterError, match="local cluster 'lc' is already running at tcp://"):
        local_up("lc", workers=1)


def test_idle_timeout_ends_the_scheduler():
    local_up("idle", workers=0, idle_timeout_s=2, timeout=60)
    try:
        deadline = time.monotonic() + 60
        while local_status("idle").state != "finished" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert local_status("idle").state == "finished"
    finally:
        local_down("idle")


def test_cli_up_status_down_with_the_local_backend(capsys):
    try:
        code = main(["cluster", "up", "--backend", "local", "--name", "cli", "--workers", "1",
                     "--memory", "1Gi"])  # fmt: skip
        assert code == 0, capsys.readouterr().err
        assert "cluster cli (local): running" in capsys.readouterr().out
        assert main(["cluster", "status", "cli"]) == 0
        assert "1/1 ready" in capsys.readouterr().out
        assert main(["cluster", "list", "--backend", "local"]) == 0
        assert "cli" in capsys.readouterr().out
    finally:
        assert main(["cluster", "down", "cli", "--backend", "local"]) == 0
    assert "deleted" in capsys.readouterr().out
    assert main(["cluster", "down", "cli", "--backend", "local"]) == 0
    assert "already gone" in capsys.readouterr().out
    assert main(["cluster", "status", "cli", "--backend", "local"]) == 1
    assert "no local cluster 'cli'" in capsys.readouterr().err


def test_connect_cluster_gives_a_client_and_closes_idempotently(local_cluster):
    from daskcloud.cluster.backends import connect_cluster

    with connect_cluster("lc") as conn:  # the backend is found from the local record
        assert conn.client.submit(sum, [2, 3]).result(timeout=30) == 5
        assert conn.dashboard_url.startswith("http://127.0.0.1:")
    conn.close()
    assert conn.client.status == "closed"
    assert local_status("lc").state == "running"  # closing a connection never stops the cluster


def test_get_backend_normalises_names_and_guesses_from_local_records(local_cluster):
    from daskcloud.cluster.backends import KubernetesBackend, LocalBackend, get_backend
    from daskcloud.exceptions import ConfigError

    assert isinstance(get_backend(None, name="lc"), LocalBackend)  # recorded here as local
    assert isinstance(get_backend(None, name="other"), KubernetesBackend)
    backend = LocalBackend()
    assert get_backend(backend) is backend
    with pytest.raises(ConfigError, match="unknown backend 'yarn'; use one of: local, kubernetes"):
        get_backend("yarn")


def test_tls_security_needs_all_three_existing_files(tmp_path):
    from daskcloud.cluster.backends import tls_security
    from daskcloud.exceptions import ConfigError

    assert tls_security() is None
    with pytest.raises(ConfigError, match="add --tls-key"):
        tls_security("ca.pem", "cert.pem")
    with pytest.raises(ConfigError, match=r"--tls-ca-file 'nope\.pem' is not a file"):
        tls_security("nope.pem", "cert.pem", "key.pem")


def test_tune_runs_on_a_named_cluster(local_cluster, tmp_path, capsys):
    """`daskcloud tune SPEC --cluster NAME`: the search's fits run on that cluster's worker."""
    import json
    from pathlib import Path

    spec = Path(__file__).parents[2] / "examples" / "ridge.toml"
    out = tmp_path / "run"
    assert main(["tune", str(spec), "--cluster", "lc", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_fits"] > 0 and result["run_dir"] == str(out)
    from daskcloud.search import Journal

    with Journal(out / "journal.sqlite") as journal:
        workers = {record.worker for record in journal.read()}
    # the named cluster has exactly one worker process
    assert len(workers) == 1 and next(iter(workers)).startswith("tcp://127.0.0.1:")


def test_cluster_and_scheduler_together_are_a_usage_error(capsys):
    spec = "examples/ridge.toml"
    assert main(["tune", spec, "--cluster", "lc", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--scheduler and --cluster" in capsys.readouterr().err

"""The local backend: real detached `dask scheduler` / `dask worker` processes behind the same
up/status/scale/logs/down/list commands as Kubernetes."""

from __future__ import annotations

import time
import urllib.request

import dask
import pytest
from distributed import Client

from daskcloud.cli import main
from daskcloud.cluster._detached import identity, same_process
from daskcloud.cluster._local_backend import LocalBackend
from daskcloud.cluster._spec import ClusterSpec
from daskcloud.cluster._state import load_record
from daskcloud.exceptions import ClusterError

B = LocalBackend()


@pytest.fixture(autouse=True)
def _state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DASKCLOUD_HOME", str(tmp_path / "home"))


def _spec(name="lc", **kw):
    return ClusterSpec(name=name, **{"workers": 1, "cpu": "1", "memory": "1Gi"} | kw)


@pytest.fixture
def local_cluster():
    status = B.up(_spec(price_per_hour=0.5), timeout=90)
    try:
        yield status
    finally:
        B.down("lc")


def _identities(name):
    record = load_record("local", name)
    return [*record.pids, *record.extra["workers"].values()]


def test_up_status_scale_logs_down(local_cluster):
    status = local_cluster
    assert (status.state, status.workers_ready, status.workers_wanted) == ("running", 1, 1)
    assert status.address.startswith("tcp://127.0.0.1:")
    assert status.dashboard_url.startswith("http://127.0.0.1:")
    with Client(status.address, timeout=30) as client:  # a real scheduler others can use
        assert client.submit(sum, [1, 2]).result(timeout=30) == 3
    status = B.status("lc")
    assert status.idle_s is not None and status.idle_timeout_s == 1200
    assert status.cost_so_far is not None and status.cost_so_far < 0.01
    assert B.scale("lc", 2, timeout=60) == 2
    assert B.status("lc").workers_ready == 2
    B.scale("lc", 1, timeout=60)
    assert B.status("lc").workers_ready == 1
    assert "Scheduler at:" in B.logs("lc")
    assert "Start worker" in B.logs("lc", worker=0)
    assert [s.name for s in B.list()] == ["lc"]
    identities = _identities("lc")
    assert B.down("lc") is True
    assert not any(same_process(i) for i in identities)
    assert B.down("lc") is False  # idempotent
    assert B.list() == []


def test_second_up_with_the_same_name_is_refused(local_cluster):
    with pytest.raises(ClusterError, match="local cluster 'lc' already exists on this machine"):
        B.up(_spec())


def test_idle_timeout_ends_the_scheduler_and_up_replaces_a_finished_cluster():
    B.up(_spec("idle", workers=0, idle_timeout="2s"), timeout=60)
    try:
        deadline = time.monotonic() + 60
        while B.status("idle").state != "finished" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert B.status("idle").state == "finished"
        assert B.up(_spec("idle", workers=0), timeout=60).state == "running"
    finally:
        B.down("idle")


def test_update_changes_threads_and_memory_by_replacing_workers(local_cluster):
    old = _identities("lc")[1:]
    changed = B.update("lc", flags={"cpu": "2", "memory": "2Gi", "workers": "2"}, timeout=60)
    assert changed == ["cpu", "memory", "workers"]
    with Client(B.status("lc").address, timeout=30) as client:
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        assert sorted(w["nthreads"] for w in workers) == [2, 2]
        assert {w["memory_limit"] for w in workers} == {2 * 2**30}
    assert not any(same_process(i) for i in old)  # the old workers were retired
    assert B.update("lc", flags={"workers": 2}) == []  # nothing to change


def test_update_refuses_what_needs_a_new_scheduler_and_changes_nothing(local_cluster):
    from daskcloud.exceptions import ConfigError

    before = _identities("lc")
    with pytest.raises(ConfigError, match="--max-lifetime cannot change in place"):
        B.update("lc", flags={"max_lifetime": "2h", "workers": 3})
    with pytest.raises(ConfigError, match="--gpu is not supported by the local backend"):
        B.update("lc", flags={"gpu": 1})
    assert _identities("lc") == before and B.status("lc").workers_wanted == 1


def test_a_recorded_pid_now_used_by_an_unrelated_process_is_left_alone(tmp_path):
    """After a reboot or pid reuse the recorded pid names someone else's process group."""
    import json
    import subprocess
    import sys

    from daskcloud.cluster._state import cluster_dir

    stranger = subprocess.Popen(  # an unrelated live process leading its own group
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    try:
        pid, started = identity(stranger.pid)
        assert same_process([pid, started]) is not None
        reused = [pid, started - 3600.0]  # the pid as recorded by a process an hour earlier
        directory = cluster_dir("local", "stale")
        directory.mkdir(parents=True)
        record = {
            "name": "stale",
            "backend": "local",
            "pids": [reused],
            "address": "tcp://127.0.0.1:9",
            "extra": {
                "workers": {"stale-worker-0": reused, "stale-worker-1": pid},  # old: bare pid
                "wanted": 1,
                "threads": 1,
                "memory": "1Gi",
            },
        }
        (directory / "cluster.json").write_text(json.dumps(record))
        status = B.status("stale")
        assert status.state == "finished" and not status.scheduler_ready
        assert main(["cluster", "down", "stale"]) == 0
        assert stranger.poll() is None  # neither SIGTERM nor SIGKILL reached it
        assert load_record("local", "stale") is None
    finally:
        stranger.kill()
        stranger.wait()


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
        # links Dask itself prints point at the cluster's dashboard, and it answers
        assert conn.client.dashboard_link == conn.dashboard_url
        with urllib.request.urlopen(conn.dashboard_url, timeout=30) as page:
            assert page.status == 200
    assert dask.config.get("distributed.dashboard.link") != conn.dashboard_url  # restored
    conn.close()
    assert conn.client.status == "closed"
    assert B.status("lc").state == "running"  # closing a connection never stops the cluster


def test_get_backend_normalises_names_and_find_cluster_looks_locally_first(local_cluster):
    from daskcloud.cluster.backends import find_cluster, get_backend
    from daskcloud.cluster.kubernetes._lifecycle import KubernetesBackend
    from daskcloud.exceptions import ConfigError

    found, status, looked = find_cluster("lc")  # local first: Kubernetes is never asked
    assert isinstance(found, LocalBackend) and status.name == "lc" and looked == []
    assert isinstance(get_backend("kubernetes"), KubernetesBackend)
    assert get_backend(B) is B
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

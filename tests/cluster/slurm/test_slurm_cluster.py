"""The Slurm backend against a real one-node Slurm: up, a search, status, scale, logs, down, list.

The cluster is made by ``daskcloud cluster up`` in its own process (it must outlive it); the
other verbs run in this process through the CLI's ``main``.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV

from daskcloud.cli import main
from daskcloud.cluster.backends import connect_cluster, get_backend
from daskcloud.cluster.slurm._commands import queue
from daskcloud.search import DaskSearchCV, Journal

UP = ["cluster", "up", "--backend", "slurm", "--workers", "2", "--cpu", "1", "--memory", "1Gi"]


def daskcloud(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """The real command in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "daskcloud.cli", *args],
        capture_output=True, text=True, timeout=timeout, env=os.environ.copy(),
    )  # fmt: skip


def wait_until(check, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def test_up_search_status_scale_logs_down(slurm, home, tmp_path, capsys):
    up = daskcloud(*UP, "--name", "hpo", "--max-lifetime", "30m", "--timeout", "120")
    assert up.returncode == 0, up.stderr
    assert "connected: a client reached the scheduler and sees 2 workers" in up.stdout
    try:
        jobs = queue("hpo", finished=False)
        assert sorted((j.role, j.index, j.state) for j in jobs) == [
            ("worker", 0, "RUNNING"), ("worker", 1, "RUNNING"),
        ]  # fmt: skip
        directory = home / "slurm" / "hpo"
        for key in ("ca.pem", "client-key.pem", "worker-key.pem", "scheduler-key.pem"):
            assert stat.S_IMODE((directory / key).stat().st_mode) == 0o600

        # a search on the Slurm workers, over TLS, equals scikit-learn's on this machine
        X, y = make_regression(n_samples=80, n_features=5, noise=2.0, random_state=0)
        grid = {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0]}
        journal = tmp_path / "journal.sqlite"
        with connect_cluster("hpo") as conn:
            assert conn.endpoint.address.startswith("tls://")
            workers = conn.client.scheduler_info(n_workers=-1)["workers"]
            assert sorted(w["name"] for w in workers.values()) == ["hpo-worker-0", "hpo-worker-1"]
            search = DaskSearchCV(Ridge(), grid, cv=3, client=conn.client, journal=journal,
                                  progress=False).fit(X, y)  # fmt: skip
        local = GridSearchCV(Ridge(), grid, cv=3).fit(X, y)
        for key in ("mean_test_score", "std_test_score", "rank_test_score", "split2_test_score"):
            np.testing.assert_allclose(search.cv_results_[key], local.cv_results_[key])
        assert search.best_params_ == local.best_params_
        with Journal(journal) as j:
            assert {r.worker for r in j.read()} <= set(workers)

        assert main(["cluster", "status", "hpo"]) == 0
        out = capsys.readouterr().out
        assert "cluster hpo (slurm): running" in out and "2/2 ready" in out
        assert "RUNNING on daskcloud-node" in out and "CPU-hours" in out

        # the third worker does not fit on the 2-CPU node: pending, with Slurm's reason
        assert main(["cluster", "scale", "hpo", "3"]) == 0
        assert wait_until(lambda: any(j.index == 2 for j in queue("hpo", finished=False)), 30)
        # a job's reason is "None" until Slurm's scheduling loop has looked at it
        assert wait_until(lambda: "(Resources)" in get_backend("slurm").status("hpo").reason, 30)
        assert get_backend("slurm").status("hpo").workers_wanted == 3

        assert main(["cluster", "logs", "hpo", "--worker", "0"]) == 0
        assert "Registered to:" in capsys.readouterr().out

        found = daskcloud("cluster", "list", "--backend", "slurm")  # another process finds it
        assert found.returncode == 0 and "hpo" in found.stdout and "slurm" in found.stdout
    finally:
        assert main(["cluster", "down", "hpo"]) == 0
    assert "cluster hpo: deleted" in capsys.readouterr().out
    assert [j for j in queue("hpo", finished=False) if j.state != "COMPLETING"] == []
    assert not (home / "slurm" / "hpo").exists()
    assert main(["cluster", "down", "hpo", "--backend", "slurm"]) == 0
    assert "cluster hpo: already gone" in capsys.readouterr().out


def test_a_job_that_can_never_run_fails_up_with_slurms_reason(slurm, home):
    from daskcloud.cluster._spec import ClusterSpec
    from daskcloud.exceptions import ClusterError

    backend = get_backend("slurm")
    too_big = ClusterSpec(name="big", workers=1, cpu=str(slurm.cpus + 1), memory="1Gi")
    start = time.monotonic()
    with pytest.raises(
        ClusterError, match=r"cannot start: job \d+ \(worker 0\) is pending: .*\(PartitionConfig\)"
    ):
        backend.up(too_big, timeout=60)
    assert time.monotonic() - start < 60
    assert [j for j in queue("big", finished=False) if j.state != "COMPLETING"] == []
    assert not (home / "slurm" / "big").exists()

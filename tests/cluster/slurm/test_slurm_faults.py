"""Faults on a real one-node Slurm: a worker job cancelled mid-search, a job pending for a reason,
a cluster ended by its walltime, the scheduler as a batch job. Each makes its own cluster, so
they are slow (each 40-120 s on 2 busy cores)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from _slow import SlowRidge
from sklearn.datasets import make_regression
from test_slurm_cluster import UP, daskcloud, wait_until

from daskcloud.cluster._spec import ClusterSpec
from daskcloud.cluster.backends import connect_cluster, get_backend
from daskcloud.cluster.slurm._commands import cancel, queue
from daskcloud.exceptions import ClusterError
from daskcloud.search import DaskSearchCV, Journal

pytestmark = pytest.mark.slow


@pytest.fixture
def down():
    names: list[str] = []
    yield names.append
    for name in names:
        get_backend("slurm").down(name)


def test_worker_job_cancelled_mid_search_loses_nothing(slurm, home, tmp_path, down, monkeypatch):
    here = str(Path(__file__).parent)  # the worker jobs import _slow
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    up = daskcloud(*UP, "--name", "flaky", "--max-lifetime", "30m", "--timeout", "120")
    down("flaky")
    assert up.returncode == 0, up.stderr
    X, y = make_regression(n_samples=60, n_features=4, noise=1.0, random_state=2)
    grid = {"alpha": [0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0]}
    journal = tmp_path / "journal.sqlite"
    victim = min(queue("flaky", finished=False), key=lambda j: j.index).job_id

    def cancel_when_half_done():
        def done() -> int:
            if not journal.exists():
                return 0
            with Journal(journal) as j:
                return len(j.read())

        if wait_until(lambda: done() >= 6, timeout=90):
            cancel([victim])  # scancel, as a user or a preemption would

    killer = threading.Thread(target=cancel_when_half_done)
    with connect_cluster("flaky") as conn:
        killer.start()
        search = DaskSearchCV(SlowRidge(delay=0.3), grid, cv=3, client=conn.client,
                              journal=journal, progress=False).fit(X, y)  # fmt: skip
        killer.join()
    states = {j.job_id: j.state for j in queue("flaky")}
    assert states[victim] in ("CANCELLED", "COMPLETING")
    with Journal(journal) as j:
        rows = j.read(include_cancelled=True)
    assert len(rows) == 24 and len({(r.trial, r.fold) for r in rows}) == 24
    assert all(r.status == "ok" for r in rows)
    undisturbed = DaskSearchCV(SlowRidge(), grid, cv=3, progress=False).fit(X, y)
    assert search.best_params_ == undisturbed.best_params_
    # the keeper replaces the cancelled worker (worker 2), up to --workers
    assert wait_until(lambda: any(j.index == 2 for j in queue("flaky", finished=False)), 30)


def test_pending_until_the_timeout_is_explained_and_cleaned_up(slurm, home):
    later = ClusterSpec(name="later", workers=1, cpu="1", memory="1Gi",
                        job_extra=("--begin=now+1hour",))  # fmt: skip
    with pytest.raises(ClusterError, match=r"not ready after 8 s.*pending: .*\(BeginTime\)"):
        get_backend("slurm").up(later, timeout=8)
    assert [j for j in queue("later", finished=False) if j.state != "COMPLETING"] == []


def test_walltime_ends_the_workers(slurm, home, down):
    up = daskcloud(*UP, "--name", "brief", "--max-lifetime", "1m", "--idle-timeout", "1m",
                   "--timeout", "50")  # fmt: skip
    down("brief")
    assert up.returncode == 0, up.stderr
    assert wait_until(
        lambda: {j.state for j in queue("brief") if j.role == "worker"} == {"TIMEOUT"}, 150
    ), queue("brief")
    status = get_backend("slurm").status("brief")
    assert "reached its walltime" in status.render()


def test_scheduler_in_a_batch_job(slurm, home, down):
    options = ClusterSpec(name="injob", workers=1, cpu="1", memory="1Gi", scheduler_in_job=True)
    down("injob")
    status = get_backend("slurm").up(options, timeout=120)
    assert status.workers_ready == 1
    roles = sorted(j.role for j in queue("injob", finished=False))
    assert roles == ["scheduler", "worker"]
    with connect_cluster("injob") as conn:
        assert conn.client.submit(sum, [1, 2]).result(timeout=30) == 3
    assert "Scheduler at:" in get_backend("slurm").logs("injob")
    assert get_backend("slurm").down("injob") is True
    assert [j for j in queue("injob", finished=False) if j.state != "COMPLETING"] == []


def test_tune_detach_runs_the_driver_as_a_batch_job(slurm, home, tmp_path, down):
    import json
    import shutil

    examples = Path(__file__).parents[3] / "examples"
    shutil.copy(examples / "diabetes.csv", tmp_path)
    spec = tmp_path / "ridge.toml"
    spec.write_text(
        (examples / "ridge.toml").read_text().replace("n_candidates = 20", "n_candidates = 4")
    )
    one_worker = [*UP[:5], "1", *UP[6:]]  # the driver job takes the node's other CPU
    up = daskcloud(*one_worker, "--name", "det", "--max-lifetime", "30m")
    down("det")
    assert up.returncode == 0, up.stderr
    run = tmp_path / "run"
    detached = daskcloud("tune", str(spec), "--cluster", "det", "--detach", "--out", str(run))
    assert detached.returncode == 0, detached.stderr
    assert "--driver" in detached.stdout
    assert wait_until(lambda: (run / "summary.json").exists(), 240), daskcloud(
        "cluster", "logs", "det", "--driver"
    ).stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["n_fits"] == 4 * 5

    def driver_states():
        return [j.state for j in queue("det") if j.role == "driver"]

    assert wait_until(lambda: driver_states() == ["COMPLETED"], 60), driver_states()
    assert f"run directory: {run}" in get_backend("slurm").logs("det", driver=True)

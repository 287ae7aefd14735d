"""A search on a Dask cluster daskcloud did not create, whose environment has none of daskcloud.

``dask scheduler`` and ``dask worker`` run from a bare virtual environment holding dask,
distributed, scikit-learn and pandas (the spec's data is a DataFrame) at the client's
versions, installed from the package index — no daskcloud, no ``my_models``. The search's
code reaches them through the plugins of :mod:`daskcloud.sync`, including a worker that
joins after the search. pyarrow (compiled; the CSV frame's strings are Arrow-backed) is
missing: one line names it, and the opt-in ``--install-missing`` pip-installs it.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bare_venv import clean_env, make_venv

pytestmark = pytest.mark.slow  # a venv from the package index: ~1 min the first time

MODELS = textwrap.dedent(
    """
    from sklearn.linear_model import Ridge


    class ShrunkRidge(Ridge):
        '''A user's own estimator, in a module installed nowhere.'''


    def make(alpha=1.0):
        return ShrunkRidge(alpha=alpha)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Processes this test starts; each in its own group, stopped by its own id."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: list[subprocess.Popen] = []

    def start(
        self, name: str, argv: list[str], cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        log = (self.root / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            argv, cwd=cwd, env=clean_env(**(env or {})), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture(scope="module")
def plain_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    venv = tmp_path_factory.getbasetemp() / "venv-plain"
    python = make_venv(venv, ["dask", "distributed", "scikit-learn", "pandas"])
    root = tmp_path_factory.mktemp("plain")
    probe = subprocess.run(
        [str(python), "-c", "import daskcloud"], env=clean_env(), capture_output=True, cwd=root
    )
    assert probe.returncode != 0, "the bare environment must not hold daskcloud"
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = Processes(root)
    bin_dir = python.parent
    try:
        procs.start(
            "scheduler",
            [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"],
            root,
        )  # fmt: skip
        procs.start(
            "worker-1",
            [str(bin_dir / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard",
             "--name", "plain-1"],
            root,
        )  # fmt: skip
        yield {"address": address, "root": root, "procs": procs, "bin": bin_dir}
    finally:
        procs.stop()


def _wait_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(n, timeout=60)


def test_tune_with_a_local_module_on_a_plain_cluster(
    plain_cluster: dict[str, Any], tmp_path: Path
) -> None:
    from sklearn.datasets import make_regression

    _wait_workers(plain_cluster["address"], 1)
    X, y = make_regression(n_samples=120, n_features=4, noise=1.0, random_state=0)
    rows = ["x0,x1,x2,x3,target"] + [",".join(map(str, [*r, t])) for r, t in zip(X, y, strict=True)]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "my_models.py").write_text(MODELS)
    (tmp_path / "spec.toml").write_text(
        textwrap.dedent(
            """
            name = "plain"
            estimator = "my_models:make"
            scoring = "r2"
            [data]
            path = "data.csv"
            target = "target"
            [space]
            alpha = [0.1, 1.0, 10.0]
            [cv]
            name = "kfold"
            n_splits = 3
            """
        )
    )
    elsewhere = tmp_path / "elsewhere"  # run from another folder: the module is beside the spec
    elsewhere.mkdir()
    argv = [sys.executable, "-m", "daskcloud.cli", "tune", str(tmp_path / "spec.toml"),
            "--scheduler", plain_cluster["address"], "--json",
            "--out", str(tmp_path / "run")]  # fmt: skip
    # the CSV's frame has Arrow-backed strings: unpickling it needs pyarrow, compiled, missing
    done = subprocess.run(argv, cwd=elsewhere, capture_output=True, text=True, timeout=240)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert re.search(r"pyarrow: \S+ here, not installed on tcp://", done.stderr), done.stderr
    # opt-in: pip-install the client's pinned version on the workers (distributed's PipInstall)
    done = subprocess.run(
        [*argv, "--install-missing"], cwd=elsewhere, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["best_params"] == {"alpha": 0.1}
    assert result["n_fits"] >= 9

    def _where_is_my_models() -> dict[str, str]:  # local: pickled by value
        import importlib
        import importlib.metadata

        return {
            "my_models": importlib.import_module("my_models").__file__,
            "daskcloud": importlib.metadata.version("daskcloud"),
        }

    # a worker that joins after the search gets the shipped code from the scheduler
    procs: Processes = plain_cluster["procs"]
    procs.start(
        "worker-2",
        [str(plain_cluster["bin"] / "dask"), "worker", plain_cluster["address"], "--nthreads",
         "1", "--no-dashboard", "--name", "plain-2"],
        plain_cluster["root"],
    )  # fmt: skip
    from distributed import Client

    with Client(plain_cluster["address"], timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
        late = [a for a, w in client.scheduler_info()["workers"].items() if w["name"] == "plain-2"]
        found = client.run(_where_is_my_models, workers=late)
    ((_, origin),) = found.items()
    assert "daskcloud-sync-" in origin["my_models"] and origin["daskcloud"] == "0.1.0"


def test_python_api_ships_the_estimator_module(
    plain_cluster: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import Client
    from sklearn.datasets import make_regression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from daskcloud.search import DaskSearchCV

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "house_models.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(package))
    import house_models  # installed nowhere; importable here only

    _wait_workers(plain_cluster["address"], 1)
    X, y = make_regression(n_samples=150, n_features=5, noise=2.0, random_state=1)
    pipe = make_pipeline(StandardScaler(), house_models.ShrunkRidge())
    space = {"shrunkridge__alpha": [0.01, 1.0, 100.0]}
    with Client(plain_cluster["address"], timeout="30s") as client:
        ours = DaskSearchCV(pipe, space, cv=3, client=client, progress=False).fit(X, y)
    theirs = GridSearchCV(pipe, space, cv=3).fit(X, y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"]
    )
    assert ours.best_params_ == theirs.best_params_
    assert re.search(r"ShrunkRidge", repr(ours.best_estimator_))


SLOW_RESTART = textwrap.dedent(
    """
    '''Worker preload: the first start is quick; a restart takes longer than a nanny waits.'''
    import os
    import pathlib
    import time


    def dask_setup(worker):
        mark = pathlib.Path(os.environ["DASKCLOUD_TEST_STARTED"])
        if mark.exists():
            time.sleep(45)  # the nanny gives up waiting after 30 s; the worker comes later
        mark.write_text("started")
    """
)
#: a threadpoolctl the client does not have: --install-missing pip-installs the client's
OLD_THREADPOOLCTL = "3.7.0"


# distributed's own check, at connect, names pandas: these workers lack it on purpose
@pytest.mark.filterwarnings("ignore::distributed.versions.VersionMismatchWarning")
def test_install_missing_waits_for_the_restarted_workers(tmp_path: Path) -> None:
    """--install-missing on a worker without pandas whose restart outlasts its nanny's wait.

    PipInstall restarts the workers and returns when each nanny has its worker back, or
    after 30 s: the search must not start on the workers that happen to be there (none
    here), and the shipped code must be set up on the restarted worker before it is asked.
    """
    import importlib.metadata

    import dask
    from distributed import Client
    from sklearn.datasets import make_regression
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV

    from daskcloud.search import DaskSearchCV

    if importlib.metadata.version("threadpoolctl") == OLD_THREADPOOLCTL:
        pytest.skip(f"the client has threadpoolctl {OLD_THREADPOOLCTL} itself")
    python = make_venv(tmp_path / "venv", ["dask", "distributed", "scikit-learn"])
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"threadpoolctl=={OLD_THREADPOOLCTL}"],
        check=True, env=clean_env(),
    )  # fmt: skip
    (tmp_path / "slow_restart.py").write_text(SLOW_RESTART)
    env = {"DASKCLOUD_TEST_STARTED": str(tmp_path / "started")}
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = Processes(tmp_path)
    dask_bin = str(python.parent / "dask")
    try:
        procs.start("scheduler", [dask_bin, "scheduler", "--host", "127.0.0.1", "--port",
                                  str(port), "--no-dashboard"], tmp_path)  # fmt: skip
        procs.start("worker", [dask_bin, "worker", address, "--nthreads", "2", "--no-dashboard",
                               "--preload", str(tmp_path / "slow_restart.py")], tmp_path,
                    env=env)  # fmt: skip
        X, y = make_regression(n_samples=80, n_features=4, noise=1.0, random_state=0)
        space = {"alpha": [0.1, 10.0]}
        with (
            Client(address, timeout="30s") as client,
            dask.config.set({"daskcloud.packages.install-missing": True}),
        ):
            client.wait_for_workers(1, timeout=60)
            (before,) = client.scheduler_info()["workers"]
            ours = DaskSearchCV(Ridge(), space, cv=2, client=client, progress=False).fit(X, y)
            (after,) = client.scheduler_info()["workers"]

            def versions() -> dict[str, str]:  # local: pickled by value
                import importlib.metadata

                return {"threadpoolctl": importlib.metadata.version("threadpoolctl"),
                        "daskcloud": importlib.metadata.version("daskcloud")}  # fmt: skip

            found = client.run(versions)
    finally:
        procs.stop()
    assert after != before  # PipInstall restarted the worker
    mine = {"threadpoolctl": importlib.metadata.version("threadpoolctl"), "daskcloud": "0.1.0"}
    assert found == {after: mine}  # installed there, and the shipped code set up again
    # the search ran on the restarted worker: both its threads counted, not a stand-in 1
    assert ours.search_stats_["n_workers"] == 2
    theirs = GridSearchCV(Ridge(), space, cv=2).fit(X, y)
    np.testing.assert_array_equal(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"]
    )

"""The local backend's notebook: ``cluster up --jupyter``, ``cluster jupyter``, ``cluster down``.

The end-to-end test drives the real command line, a real JupyterLab process and a real kernel
(through the server's REST API and websocket, as a browser would) — slow, so marked. The quick
tests check what fails before anything starts.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from daskcloud.cli import main
from daskcloud.cluster._detached import alive
from daskcloud.cluster._state import load_record
from notebook_rest import JupyterREST


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DASKCLOUD_HOME", str(tmp_path))
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    yield tmp_path
    main(["cluster", "down", "nb", "--backend", "local"])  # idempotent


def _server(url: str) -> JupyterREST:
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.path == "/lab"
    (token,) = urllib.parse.parse_qs(parts.query)["token"]
    return JupyterREST(f"{parts.scheme}://{parts.netloc}", token)


SEARCH = """
from distributed import Client
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from daskcloud.search import DaskSearchCV

client = Client()
X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
search = DaskSearchCV(Ridge(), {"alpha": [0.01, 1.0, 100.0]}, cv=3, client=client, progress=False)
print("best", search.fit(X, y).best_params_, client.scheduler.address)
"""


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_up_jupyter_then_a_notebook_runs_a_search(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 45 s idle: long enough for JupyterLab to start on a loaded machine, short enough to watch
    # the keep-alive (the idle clock runs from the scheduler's start)
    argv = ["cluster", "up", "--name", "nb", "--workers", "1", "--jupyter", "--idle-timeout", "45s"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "daskcloud cluster jupyter nb" in out
    assert main(["cluster", "jupyter", "nb"]) == 0
    url = capsys.readouterr().out.split("notebook: ", 1)[1].split()[0]
    server = _server(url)
    assert server.request("/api/status")[0] == 200
    assert server.request("/api/status", token=None)[0] == 403
    listing = server.request("/api/contents/examples")[1]["content"]
    assert "rossmann.ipynb" in {item["name"] for item in listing}
    record = load_record("local", "nb")
    assert record is not None
    kernel = server.start_kernel()
    try:
        result = server.execute(kernel, SEARCH, timeout=180)
        assert f"best {{'alpha': 0.01}} {record.address}" in result
        # a busy kernel, no Dask work, longer than the idle timeout: the cluster stays
        started = time.monotonic()
        server.execute(kernel, "import time; time.sleep(50)", timeout=120)
        assert time.monotonic() - started >= 50
        assert alive(record.pids[0]), "the scheduler ended under a busy notebook kernel"
        # an idle kernel does not keep it: the scheduler ends after its idle timeout
        deadline = time.monotonic() + 90
        while alive(record.pids[0]) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not alive(record.pids[0]), "an idle notebook kept the cluster alive"
    finally:
        server.close()
    jupyter_pid = record.extra["jupyter"]["process"]
    assert alive(jupyter_pid)
    assert main(["cluster", "down", "nb"]) == 0
    assert not alive(jupyter_pid)
    with pytest.raises(OSError):
        server.request("/api/status")


def test_storage_and_missing_notebook_say_what_to_do(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["cluster", "up", "--name", "nb", "--jupyter", "--notebook-storage", "10Gi"]
    assert main(argv) == 2
    assert "--notebook-storage is not supported by the local backend" in capsys.readouterr().err
    assert main(["cluster", "jupyter", "nb", "--backend", "local"]) == 1
    assert "no local cluster 'nb'" in capsys.readouterr().err.replace("\n", " ")


def test_connect_cluster_without_a_name_needs_the_environment(home: Path) -> None:
    from daskcloud.cluster import connect_cluster
    from daskcloud.exceptions import ConfigError

    with pytest.raises(ConfigError, match="DASK_SCHEDULER_ADDRESS"):
        connect_cluster()

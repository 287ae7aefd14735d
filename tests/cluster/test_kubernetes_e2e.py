"""Opt-in end-to-end test on a real Kubernetes cluster: cluster up, a small search, status, down.

Skipped unless a kubeconfig context is given (tests/conftest.py)::

    pytest -m kubernetes --kube-context minikube tests/cluster/test_kubernetes_e2e.py

Environment: ``DASKCLOUD_E2E_NAMESPACE`` (default ``default``) and ``DASKCLOUD_E2E_IMAGE`` (an
image with this daskcloud version that the cluster can pull; default: the pinned daskcloud
image — build it from deploy/Dockerfile and push it, or ``minikube image load`` it).
"""

from __future__ import annotations

import os
import uuid

import pytest

from daskcloud.cli import main


@pytest.mark.kubernetes
@pytest.mark.timeout(1200)
def test_up_search_status_down_on_a_real_cluster(request, tmp_path, monkeypatch, capsys):
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from daskcloud.cluster.backends import connect_cluster
    from daskcloud.search import DaskSearchCV

    context = request.config.getoption("--kube-context")
    namespace = os.environ.get("DASKCLOUD_E2E_NAMESPACE", "default")
    image = os.environ.get("DASKCLOUD_E2E_IMAGE")
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("DASKCLOUD_HOME", str(tmp_path / "home"))
    where = ["--namespace", namespace, "--context", context, "--backend", "kubernetes"]
    up = ["cluster", "up", "--name", name, *where, "--workers", "1", "--cpu", "1",
          "--memory", "1Gi", "--idle-timeout", "10m", "--max-lifetime", "1h", "--timeout", "600",
          *(["--image", image] if image else [])]  # fmt: skip
    try:
        assert main(up) == 0, capsys.readouterr().err
        assert "connected: a client reached the scheduler" in capsys.readouterr().out
        X, y = make_classification(n_samples=200, random_state=0)
        with connect_cluster(name, namespace, backend="kubernetes", context=context) as conn:
            search = DaskSearchCV(
                LogisticRegression(max_iter=200), {"C": [0.1, 1.0]}, cv=2,
                client=conn.client, progress=False,
            )  # fmt: skip
            search.fit(X, y)
            assert len(search.cv_results_["params"]) == 2
        assert main(["cluster", "status", name, *where]) == 0
        assert "1/1 ready" in capsys.readouterr().out
    finally:
        assert main(["cluster", "down", name, *where]) == 0
    assert main(["cluster", "down", name, *where]) == 0
    assert "already gone" in capsys.readouterr().out

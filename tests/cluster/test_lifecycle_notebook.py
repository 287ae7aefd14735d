# ruff: noqa: F811  (pytest fixtures are imported by name and used as parameters)
"""``cluster up --jupyter`` against the fake API server: the notebook's objects, token and wait.

The fake (tests/cluster/fake_kube_api.py) plays kubelet and garbage collector; the code under
test reaches it through kr8s and a kubeconfig, as it would reach a real cluster.
"""

from __future__ import annotations

import base64
import stat

import pytest
from fake_kube_api import PodBehaviour, fake_kube_api  # noqa: F401  (the fixture)

from daskcloud.cli import main
from daskcloud.cluster._notebook import read_notebook_token
from daskcloud.cluster._spec import ClusterSpec
from daskcloud.cluster.kubernetes._lifecycle import KubernetesBackend
from daskcloud.cluster.kubernetes._tls import client_credentials
from daskcloud.exceptions import KubernetesError

NS = "dask"


@pytest.fixture(autouse=True)
def _state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DASKCLOUD_HOME", str(tmp_path / "home"))


def _up(timeout: float = 10, **kw):
    spec = ClusterSpec(name="hpo", namespace=NS, workers=2, jupyter=True, **kw)
    return KubernetesBackend(poll=0.05).up(spec, timeout=timeout)


def _names(fake, plural: str) -> set[str]:
    return {o["metadata"]["name"] for o in fake.live(plural, NS)}


def test_up_jupyter_creates_the_notebook_owned_by_the_job(fake_kube_api):
    status = _up(notebook_storage="10Gi")
    assert status.state == "running" and status.workers_ready == 2
    (job,) = fake_kube_api.live("jobs", NS)
    assert _names(fake_kube_api, "deployments") == {"hpo-workers", "hpo-jupyter"}
    assert "hpo-jupyter" in _names(fake_kube_api, "services")
    assert "hpo-jupyter" in _names(fake_kube_api, "networkpolicies")
    assert "hpo-examples" in _names(fake_kube_api, "configmaps")
    for plural in ("deployments", "services", "networkpolicies", "configmaps", "secrets"):
        for obj in fake_kube_api.live(plural, NS):
            assert obj["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    (claim,) = fake_kube_api.live("persistentvolumeclaims", NS)
    assert (
        claim["metadata"]["name"] == "hpo-notebook" and "ownerReferences" not in claim["metadata"]
    )
    # the launcher's copy of the token is the Secret's, readable by its owner only
    token = read_notebook_token(NS, "hpo")
    (secret,) = [
        s for s in fake_kube_api.live("secrets", NS) if s["metadata"]["name"] == "hpo-jupyter"
    ]
    assert base64.b64decode(secret["data"]["token"]).decode() == token
    path = client_credentials(NS, "hpo").directory / "jupyter-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the notebook pod is a member of the cluster; the workers are still counted right
    assert any(m.name.startswith("hpo-jupyter-") and m.ready for m in status.members)
    (listed,) = KubernetesBackend().list(NS)
    assert listed.workers_wanted == 2
    assert KubernetesBackend().status("hpo", NS).workers_wanted == 2


def test_down_takes_the_notebook_and_keeps_its_home(fake_kube_api):
    _up(notebook_storage="10Gi")
    assert KubernetesBackend().down("hpo", NS) is True
    for plural in ("deployments", "services", "configmaps", "secrets", "pods"):
        assert fake_kube_api.live(plural, NS) == [], plural
    assert _names(fake_kube_api, "persistentvolumeclaims") == {"hpo-notebook"}
    with pytest.raises(Exception, match="no notebook token"):
        read_notebook_token(NS, "hpo")
    _up(notebook_storage="10Gi")  # the next cluster of the name mounts the same home again
    assert _names(fake_kube_api, "persistentvolumeclaims") == {"hpo-notebook"}


def test_up_waits_for_the_notebook_and_cleans_up_when_it_never_gets_ready(fake_kube_api):
    fake_kube_api.scenario.behaviours["client"] = PodBehaviour(ready=False)
    with pytest.raises(KubernetesError, match="notebook starting"):
        _up(timeout=0.5)
    assert fake_kube_api.live("jobs", NS) == []
    with pytest.raises(Exception, match="no notebook token"):
        read_notebook_token(NS, "hpo")


def test_cli_up_jupyter_prints_how_to_open_it(fake_kube_api, capsys):
    argv = ["cluster", "up", "--backend", "kubernetes", "--name", "hpo", "-n", NS,
            "--jupyter", "--no-connect", "--timeout", "10"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"daskcloud cluster jupyter hpo --namespace {NS}" in out
    assert "jupyter" in out  # the notebook pod in the status

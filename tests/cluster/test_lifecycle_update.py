# ruff: noqa: F811  (pytest fixtures are imported by name and used as parameters)
"""`cluster update` on Kubernetes against the fake API server: the worker Deployment is patched
and rolls, the scheduler Job is left alone, and a change that needs a new scheduler is refused
before anything is sent."""

from __future__ import annotations

import copy

import pytest
from fake_kube_api import PodBehaviour, fake_kube_api  # noqa: F401  (the fixture)

from daskcloud.cli import main
from daskcloud.cluster._spec import ClusterSpec
from daskcloud.cluster.kubernetes._lifecycle import KubernetesBackend
from daskcloud.cluster.kubernetes._observe import merge_patch
from daskcloud.exceptions import ConfigError

NS = "dask"


@pytest.fixture(autouse=True)
def _state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DASKCLOUD_HOME", str(tmp_path / "home"))


@pytest.fixture
def running(fake_kube_api):
    spec = ClusterSpec(name="hpo", namespace=NS, workers=2, cpu="1", memory="2Gi",
                       image="example.org/dask:1", price_per_hour=1.0)  # fmt: skip
    KubernetesBackend(poll=0.05).up(spec, timeout=10)
    return fake_kube_api


def _deployment(fake):
    (deployment,) = fake.live("deployments", NS)
    return deployment


def _worker(deployment):
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _writes(fake):
    verbs = ("POST", "PATCH", "PUT", "DELETE")
    return [(m.rsplit(".", 1)[-1], p) for m, p in fake.api.seen if m.endswith(verbs)]


def test_update_patches_the_deployment_and_leaves_the_job(running, tmp_path):
    (job_before,) = copy.deepcopy(running.live("jobs", NS))
    config = tmp_path / "cluster.yaml"
    config.write_text("workers: 3\ncpu: 2\nnode_selector: {pool: spot}\n")
    changed = KubernetesBackend().update(
        "hpo", NS, flags={"image": "example.org/dask:2", "memory": "4Gi"}, config=config
    )
    assert changed == ["cpu", "image", "memory", "node_selector", "workers"]
    deployment = _deployment(running)
    worker = _worker(deployment)
    assert deployment["spec"]["replicas"] == 3
    assert worker["image"] == "example.org/dask:2"
    assert worker["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    assert worker["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}
    args = worker["args"]
    assert args[args.index("--nthreads") + 1] == "2"
    assert args[args.index("--memory-limit") + 1] == str(4 * 2**30)
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "spot"}
    (job_after,) = running.live("jobs", NS)
    assert job_after == job_before  # the scheduler is untouched
    # the workers still install from the cluster's sync ConfigMap
    inits = deployment["spec"]["template"]["spec"].get("initContainers", [])
    assert [c["name"] for c in inits] == [c["name"] for c in _init(job_before)]
    writes = _writes(running)
    assert [m for m, _ in writes if m != "POST"] == ["PATCH"]  # one patch, no delete
    assert writes[-1][1].endswith("/deployments/hpo-workers")
    # the pods rolled to the new template; status shows the rollout
    pods = [p for p in running.live("pods", NS) if "workers" in p["metadata"]["name"]]
    assert len(pods) == 3 and {_img(p) for p in pods} == {"example.org/dask:2"}
    status = KubernetesBackend().status("hpo", NS)
    assert status.rollout == "complete (revision 2)" and status.workers_ready == 3
    assert "rollout      complete (revision 2)" in status.render()


def _init(job):
    return job["spec"]["template"]["spec"].get("initContainers", [])


def _img(pod):
    return pod["spec"]["containers"][0]["image"]


def test_removing_a_node_selector_deletes_it_and_nothing_to_change_sends_nothing(running):
    backend = KubernetesBackend()
    backend.update("hpo", NS, flags={"node_selector": ["pool=spot"]})
    assert backend.update("hpo", NS, flags={"node_selector": {}}) == ["node_selector"]
    assert "nodeSelector" not in _deployment(running)["spec"]["template"]["spec"]
    before = len(_writes(running))
    assert backend.update("hpo", NS, flags={"workers": 2, "memory": "2048Mi"}) == []
    assert len(_writes(running)) == before


def test_a_rollout_in_progress_is_shown(running):
    running.scenario.behaviours["worker"] = PodBehaviour(phase="Pending", ready=False)
    KubernetesBackend().update("hpo", NS, flags={"image": "example.org/dask:3"})
    status = KubernetesBackend().status("hpo", NS)
    assert status.rollout == "in progress: 2/2 workers updated, 0 ready"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"max_lifetime": "12h"}, "--max-lifetime cannot change in place on a running kubernetes"),
        ({"idle_timeout": "5m", "workers": 4}, "--idle-timeout cannot change in place"),
        ({"price_per_hour": 2.0}, "--price-per-hour cannot change in place"),
        ({"partition": "gpu"}, "--partition is not supported by the kubernetes backend"),
        ({"packages": ["xgboost>=2"]}, "--packages cannot change in place.*scheduler unpickles"),
        ({"memory": "12 GB"}, "memory '12 GB' is not a Kubernetes quantity"),
    ],
)
def test_a_refused_change_sends_nothing(running, flags, message):
    before = len(_writes(running))
    with pytest.raises(ConfigError, match=message) as info:
        KubernetesBackend().update("hpo", NS, flags=flags)
    assert "\n" not in str(info.value)
    assert "cluster down hpo" in str(info.value) or "cannot change" not in str(info.value)
    assert len(_writes(running)) == before
    assert _deployment(running)["spec"]["replicas"] == 2


def test_cli_update_and_status_show_the_change(running, capsys, tmp_path):
    assert main(["cluster", "update", "hpo", "-n", NS, "--workers", "3"]) == 0
    out = capsys.readouterr().out
    assert "cluster hpo: updated workers; the scheduler kept running" in out
    assert "3/3 ready" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_lifetime: 1d\n")
    assert main(["cluster", "update", "hpo", "-n", NS, "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--max-lifetime cannot change" in err
    assert main(["cluster", "update", "ghost", "-n", NS, "--backend", "kubernetes"]) == 1
    assert "no kubernetes cluster 'ghost' in namespace 'dask'" in capsys.readouterr().err


def test_merge_patch_is_rfc_7386():
    old = {"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2]}
    new = {"a": 1, "b": {"c": 5}, "l": [1], "e": None}
    assert merge_patch(old, new) == {"b": {"c": 5, "d": None}, "l": [1], "e": None}
    assert merge_patch(new, new) == {}


def test_the_init_container_follows_the_image(running):
    KubernetesBackend().update("hpo", NS, flags={"image": "example.org/dask:2"})
    pod = _deployment(running)["spec"]["template"]["spec"]
    assert [c["image"] for c in pod["initContainers"]] == ["example.org/dask:2"]

# ruff: noqa: F811  (pytest fixtures are imported by name and used as parameters)
"""--detach: the driver Job and journal PVC — pure manifests validated strictly, then submitted
to the fake API server. Nothing here proves a driver pod runs in a real cluster."""

from __future__ import annotations

import kubernetes_validate
import pytest
from fake_kube_api import PodBehaviour, fake_kube_api  # noqa: F401  (the fixture)
from kubernetes_validate.utils import all_versions, major_minor
from packaging.version import Version

from daskcloud.cluster.kubernetes import build_network_policies
from daskcloud.cluster.kubernetes._api import kube_api
from daskcloud.cluster.kubernetes._detach import (
    DRIVER_ROLE_LABEL,
    build_detached_driver,
    build_journal_pvc,
)
from daskcloud.cluster.kubernetes._lifecycle import KubernetesBackend, submit_driver
from daskcloud.cluster.kubernetes._meta import Owner
from daskcloud.cluster.kubernetes._spec import ClusterSpec
from daskcloud.exceptions import KubernetesError

NS = "dask"
VERSIONS = sorted(
    {major_minor(v) for v in all_versions() if Version(major_minor(v)) >= Version("1.30")},
    key=Version,
)
SPEC = ClusterSpec(name="hpo", namespace=NS, workers=2, cpu="2", memory="4Gi", cluster_id="c1")
OWNER = Owner(name="hpo-scheduler", uid="0000-1111")
ARGS = ["tune", "/spec/search.yaml", "--journal", "/journal/search.db"]


def _objects():
    driver = build_detached_driver(SPEC, owner=OWNER, args=ARGS, spec_file=("search.yaml", "a: 1"))
    return [build_journal_pvc(SPEC, storage_class="standard"), *driver]


@pytest.fixture(autouse=True)
def _state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DASKCLOUD_HOME", str(tmp_path / "home"))


@pytest.mark.parametrize("version", VERSIONS)
def test_detach_objects_validate_strictly(version):
    for obj in _objects():
        kubernetes_validate.validate(obj, version, strict=True)


def test_driver_pod_is_hardened_reaches_the_scheduler_and_keeps_its_journal():
    pvc, config_map, job = _objects()
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["daskcloud"] and container["args"] == ARGS
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["runAsNonRoot"] is True
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DASK_SCHEDULER_ADDRESS"] == "tls://hpo-scheduler.dask.svc:8786"
    assert env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] == "True"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/journal", "/spec", "/etc/daskcloud/tls"} <= mounts
    # the scheduler's NetworkPolicy admits the driver pod
    scheduler_policy = build_network_policies(SPEC)[0]
    allowed = [
        p["podSelector"]["matchLabels"] for p in scheduler_policy["spec"]["ingress"][0]["from"]
    ]
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    assert any(sel.items() <= pod_labels.items() for sel in allowed)
    assert pod_labels[DRIVER_ROLE_LABEL] == "driver"
    # cluster down deletes the driver (owned) but never the journal (not owned)
    assert job["metadata"]["ownerReferences"][0]["uid"] == "0000-1111"
    assert config_map["metadata"]["ownerReferences"][0]["uid"] == "0000-1111"
    assert "ownerReferences" not in pvc["metadata"]
    assert job["spec"]["activeDeadlineSeconds"] == SPEC.max_lifetime_seconds


def test_submit_driver_against_the_fake_then_down_keeps_the_journal(fake_kube_api):
    fake_kube_api.scenario.behaviours["client"] = PodBehaviour(log="trial 1/24 rmspe=0.31")
    KubernetesBackend(poll=0.05).up(SPEC.model_copy(update={"cluster_id": "c2"}), timeout=10)
    name = submit_driver("hpo", NS, args=ARGS, spec_file=("search.yaml", "a: 1"), api=kube_api())
    assert name == "hpo-driver"
    assert [p["metadata"]["name"] for p in fake_kube_api.live("persistentvolumeclaims")] == [
        "hpo-journal"
    ]
    assert "rmspe=0.31" in KubernetesBackend().logs("hpo", NS, driver=True)
    KubernetesBackend().down("hpo", NS)
    assert fake_kube_api.live("jobs", NS) == []
    assert fake_kube_api.live("configmaps", NS) == []
    assert len(fake_kube_api.live("persistentvolumeclaims", NS)) == 1  # results survive


def test_submit_driver_needs_the_cluster(fake_kube_api):
    with pytest.raises(KubernetesError, match="create it first"):
        submit_driver("ghost", NS, args=ARGS, api=kube_api())


def test_tune_detach_submits_the_checked_spec_as_a_driver_job(fake_kube_api, tmp_path):
    from pathlib import Path

    from daskcloud.cli import main

    KubernetesBackend(poll=0.05).up(SPEC.model_copy(update={"cluster_id": "c3"}), timeout=10)
    examples = Path(__file__).parents[2] / "examples"
    spec = tmp_path / "ridge.toml"
    spec.write_text(
        (examples / "ridge.toml")
        .read_text()
        .replace('"diabetes.csv"', repr(str(examples / "diabetes.csv")).replace("'", '"'))
    )
    assert main(["tune", str(spec), "--cluster", "hpo", "--namespace", NS, "--detach"]) == 0
    (driver,) = [j for j in fake_kube_api.live("jobs", NS) if j["metadata"]["name"] == "hpo-driver"]
    args = driver["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == ["tune", "/spec/ridge.toml"]
    assert args[args.index("--scheduler") + 1] == "$(DASK_SCHEDULER_ADDRESS)"
    assert args[args.index("--out") + 1].startswith("/journal/")
    maps = fake_kube_api.live("configmaps", NS)
    (config_map,) = [c for c in maps if c["metadata"]["name"] == "hpo-driver-spec"]
    assert config_map["data"]["ridge.toml"] == spec.read_text()
    # the driver runs daskcloud's command line: its init container installs all of daskcloud's
    (init,) = driver["spec"]["template"]["spec"]["initContainers"]
    assert "/etc/daskcloud/sync/requirements-driver.txt" in init["args"]


def test_tune_detach_needs_a_cluster_and_a_valid_spec(fake_kube_api, tmp_path, capsys):
    from daskcloud.cli import main

    spec = tmp_path / "bad.toml"
    spec.write_text("this is not toml [")
    assert main(["tune", str(spec), "--detach"]) == 2
    assert "--cluster" in capsys.readouterr().err
    assert main(["tune", str(spec), "--cluster", "hpo", "--detach"]) == 2
    assert fake_kube_api.live("jobs", NS) == []  # nothing was submitted

"""Policy: the rules a reviewer would check by hand, asserted on every rendered object.

Hardening (the "restricted" Pod Security Standard), the sync overlay, pinned images, requests ==
limits == what Dask is told, the lifetime rules, and no cluster-scoped object anywhere. Who may
reach the cluster (NetworkPolicy, TLS, RBAC) is :mod:`test_k8s_access`.
"""

from __future__ import annotations

import pytest
from k8s_objects import (
    BUNDLE,
    NOTEBOOK_BUNDLE,
    OWNER,
    container_of,
    flag_value,
    is_notebook,
    only,
    pod_specs,
    rendered,
)

from daskcloud.cluster.kubernetes import CLUSTER_ID_LABEL, ClusterSpec
from daskcloud.core.units import parse_memory

#: Pod Security Standard "restricted": the volume types it allows
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip


# --- hardening -----------------------------------------------------------------------------


def test_pods_meet_the_restricted_pod_security_standard(variant) -> None:
    spec, tls = variant
    for pod in pod_specs(rendered(spec, tls)["apply"]):
        assert pod["automountServiceAccountToken"] is False
        for key in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"):
            assert key not in pod
        ctx = pod["securityContext"]
        assert ctx["runAsNonRoot"] is True
        assert ctx["runAsUser"] > 0 and ctx["runAsGroup"] > 0
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
        for volume in pod["volumes"]:
            (kind,) = set(volume) - {"name"}
            assert kind in RESTRICTED_VOLUMES
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["privileged"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] > 0
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert all("hostPort" not in p for p in container.get("ports", []))


def test_everywhere_dask_writes_is_an_emptydir(variant) -> None:
    spec, tls = variant
    for obj in rendered(spec, tls)["apply"]:
        if obj["kind"] not in ("Job", "Deployment"):
            continue
        pod = obj["spec"]["template"]["spec"]
        container = container_of(obj)
        # emptyDirs, and the notebook's optional PersistentVolumeClaim home
        empty = {
            v["name"] for v in pod["volumes"] if {"emptyDir", "persistentVolumeClaim"} & set(v)
        }
        writable = {
            m["mountPath"]
            for m in container["volumeMounts"]
            if m["name"] in empty and not m.get("readOnly")
        }
        env = {e["name"]: e.get("value") for e in container["env"]}
        paths = [env["HOME"], env["TMPDIR"], "/tmp"]
        if not is_notebook(obj):  # the notebook is a client: no dask temporary directory
            paths.append(env["DASK_TEMPORARY_DIRECTORY"])
        if obj["kind"] == "Deployment" and not is_notebook(obj):
            local_directory = flag_value(container["args"], "--local-directory")
            paths.append(local_directory)
            assert env["DASK_TEMPORARY_DIRECTORY"] == local_directory
        for path in paths:
            assert path in writable, f"{obj['kind']}: {path} is not a writable emptyDir"


def test_images_are_pinned(variant) -> None:
    spec, tls = variant
    for pod in pod_specs(rendered(spec, tls)["apply"]):
        for container in [*pod["initContainers"], *pod["containers"]]:
            image = container["image"]
            assert image == spec.image
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")


# --- the sync overlay ----------------------------------------------------------------------


def test_the_init_container_writes_only_to_emptydirs(variant) -> None:
    spec, tls = variant
    for pod in pod_specs(rendered(spec, tls)["apply"]):
        (init,) = pod["initContainers"]
        empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for mount in init["volumeMounts"]:
            assert mount["name"] in empty or mount.get("readOnly") is True, mount
        assert init["securityContext"]["readOnlyRootFilesystem"] is True
        target = flag_value(init["args"], "--target")
        assert {"name": "overlay", "mountPath": target} in init["volumeMounts"]
        # the main containers read the overlay first and cannot change it
        for container in pod["containers"]:
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["PYTHONPATH"].split(":")[0] == target
            assert {"name": "overlay", "mountPath": target, "readOnly": True} in container[
                "volumeMounts"
            ]


def test_the_init_container_installs_the_bundle_pins(variant) -> None:
    spec, tls = variant
    objects = rendered(spec, tls)["apply"]
    config_map = only(objects, "ConfigMap", f"{spec.name}-sync")
    assert config_map["immutable"] is True
    assert config_map["data"]["requirements.txt"].split() == list(BUNDLE.requirements)
    assert sorted(config_map["binaryData"]) == [w.filename for w in BUNDLE.wheels]
    notebook = config_map["data"].get("requirements-notebook.txt", "").split()
    assert notebook == (list(NOTEBOOK_BUNDLE.notebook_requirements) if spec.jupyter else [])
    for pod in pod_specs(objects):
        (init,) = pod["initContainers"]
        assert flag_value(init["args"], "--index-url") == BUNDLE.index_url
        sync = [v for v in pod["volumes"] if v["name"] == "sync"]
        assert sync == [
            {
                "name": "sync",
                "configMap": {"name": config_map["metadata"]["name"], "defaultMode": 0o444},
            }
        ]


def test_the_notebook_pod_installs_jupyterlab_with_the_driver_pins(tls_by_variant) -> None:
    spec, tls = tls_by_variant["jupyter"]
    objects = rendered(spec, tls)["apply"]
    (init,) = only(objects, "Deployment", spec.jupyter_name)["spec"]["template"]["spec"][
        "initContainers"
    ]
    assert flag_value(init["args"], "--requirements").endswith("/requirements-notebook.txt")
    wanted = set(NOTEBOOK_BUNDLE.notebook_requirements)
    assert {"jupyterlab==4.6.6", "ipykernel==7.4.0"} <= wanted
    assert set(BUNDLE.driver_requirements) <= wanted


# --- resources and lifetime ----------------------------------------------------------------


def test_requests_equal_limits_equal_what_dask_is_told(variant) -> None:
    spec, tls = variant
    objects = rendered(spec, tls)["apply"]
    for obj in objects:
        if obj["kind"] in ("Job", "Deployment"):
            resources = container_of(obj)["resources"]
            assert resources["requests"] == resources["limits"]
            assert {"cpu", "memory"} <= set(resources["limits"])
    worker = container_of(only(objects, "Deployment"))
    limits, args = worker["resources"]["limits"], worker["args"]
    memory_limit = int(flag_value(args, "--memory-limit"))
    assert memory_limit == parse_memory(limits["memory"]) == spec.memory_bytes
    assert int(flag_value(args, "--nthreads")) == spec.threads_per_worker
    assert limits["cpu"] == spec.cpu
    if spec.gpu:
        assert limits["nvidia.com/gpu"] == str(spec.gpu)
        assert flag_value(args, "--resources") == f"GPU={spec.gpu}"
    else:
        assert "nvidia.com/gpu" not in limits and "--resources" not in args


def test_the_scheduler_job_ends_the_cluster(variant) -> None:
    spec, tls = variant
    job = only(rendered(spec, tls)["apply"], "Job")
    assert job["spec"]["activeDeadlineSeconds"] == spec.max_lifetime_seconds
    assert 0 < job["spec"]["ttlSecondsAfterFinished"] <= 300
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 1
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    container = container_of(job)
    assert container["command"] == ["dask", "scheduler"]
    assert flag_value(container["args"], "--idle-timeout") == f"{spec.idle_timeout_seconds}s"


def test_objects_are_owned_by_the_scheduler_job(variant) -> None:
    spec, tls = variant
    groups = rendered(spec, tls)
    owned = groups["owned"]
    kinds = {"Secret", "ConfigMap", "Service", "NetworkPolicy", "Deployment"}
    assert {o["kind"] for o in owned} == kinds
    for obj in owned:
        assert obj["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": OWNER.name,
                "uid": OWNER.uid,
                "blockOwnerDeletion": True,
            }
        ]
    for obj in groups["apply"]:
        assert "ownerReferences" not in obj["metadata"]


def test_every_object_carries_the_labels(variant) -> None:
    spec, tls = variant
    groups = rendered(spec, tls)
    for obj in groups["apply"] + groups["owned"]:
        metas = [obj["metadata"]]
        if obj["kind"] in ("Job", "Deployment"):
            metas.append(obj["spec"]["template"]["metadata"])
        for meta in metas:
            labels = meta["labels"]
            assert labels[CLUSTER_ID_LABEL] == spec.cluster_id
            assert labels["app.kubernetes.io/instance"] == spec.name
            for key in ("name", "component", "part-of", "managed-by", "version"):
                assert labels[f"app.kubernetes.io/{key}"]
        assert obj["metadata"]["namespace"] == spec.namespace


def test_no_cluster_scoped_object_anywhere(variant) -> None:
    spec, tls = variant
    groups = rendered(spec, tls)
    for obj in groups["apply"] + groups["owned"] + groups["rbac"]:
        assert not obj["kind"].startswith("Cluster")
        assert obj["metadata"]["namespace"] == spec.namespace


def test_spec_rejects_what_the_policy_forbids() -> None:
    from daskcloud.exceptions import ConfigError

    with pytest.raises(ConfigError, match="not pinned"):
        ClusterSpec(name="a", image="ghcr.io/dask/dask:latest")

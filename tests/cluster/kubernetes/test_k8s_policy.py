"""Policy: the rules a reviewer would check by hand, asserted on every rendered object.

Hardening (the "restricted" Pod Security Standard), least-privilege RBAC, NetworkPolicy, TLS,
pinned images, requests == limits == what Dask is told, and the lifetime rules.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from k8s_objects import BUNDLE, NOTEBOOK_BUNDLE, OWNER, is_notebook, only, pod_specs, rendered

from daskcloud.cluster.kubernetes import CLUSTER_ID_LABEL, ClusterSpec, build_rbac
from daskcloud.core.units import parse_memory

#: Pod Security Standard "restricted": the volume types it allows
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip


def _arg(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    (container,) = obj["spec"]["template"]["spec"]["containers"]
    return container


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
        container = _container(obj)
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
            paths.append(_arg(container["args"], "--local-directory"))
            assert env["DASK_TEMPORARY_DIRECTORY"] == _arg(container["args"], "--local-directory")
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
        target = _arg(init["args"], "--target")
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
        assert _arg(init["args"], "--index-url") == BUNDLE.index_url
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
    assert _arg(init["args"], "--requirements").endswith("/requirements-notebook.txt")
    wanted = set(NOTEBOOK_BUNDLE.notebook_requirements)
    assert {"jupyterlab==4.6.6", "ipykernel==7.4.0"} <= wanted
    assert set(BUNDLE.driver_requirements) <= wanted


# --- resources and lifetime ----------------------------------------------------------------


def test_requests_equal_limits_equal_what_dask_is_told(variant) -> None:
    spec, tls = variant
    objects = rendered(spec, tls)["apply"]
    for obj in objects:
        if obj["kind"] in ("Job", "Deployment"):
            resources = _container(obj)["resources"]
            assert resources["requests"] == resources["limits"]
            assert {"cpu", "memory"} <= set(resources["limits"])
    worker = _container(only(objects, "Deployment"))
    limits, args = worker["resources"]["limits"], worker["args"]
    assert int(_arg(args, "--memory-limit")) == parse_memory(limits["memory"]) == spec.memory_bytes
    assert int(_arg(args, "--nthreads")) == spec.threads_per_worker
    assert limits["cpu"] == spec.cpu
    if spec.gpu:
        assert limits["nvidia.com/gpu"] == str(spec.gpu)
        assert _arg(args, "--resources") == f"GPU={spec.gpu}"
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
    container = _container(job)
    assert container["command"] == ["dask", "scheduler"]
    assert _arg(container["args"], "--idle-timeout") == f"{spec.idle_timeout_seconds}s"


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


# --- network -------------------------------------------------------------------------------


def test_service_is_cluster_ip_only(variant) -> None:
    spec, tls = variant
    objects = rendered(spec, tls)["apply"]
    service = only(objects, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert {p["port"] for p in service["spec"]["ports"]} == {8786, 8787}
    assert all("nodePort" not in p for p in service["spec"]["ports"])
    text = yaml.safe_dump_all(objects)
    assert "LoadBalancer" not in text and "NodePort" not in text and "Ingress:" not in text


def test_network_policies_admit_only_this_cluster(variant) -> None:
    spec, tls = variant
    objects = rendered(spec, tls)["apply"]
    scheduler = only(objects, "NetworkPolicy", spec.scheduler_name)["spec"]
    workers = only(objects, "NetworkPolicy", spec.workers_name)["spec"]
    own = {CLUSTER_ID_LABEL: spec.cluster_id}
    assert scheduler["podSelector"]["matchLabels"] == {
        **own,
        "app.kubernetes.io/component": "scheduler",
    }
    assert scheduler["policyTypes"] == ["Ingress"]
    (rule,) = scheduler["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8786}]  # never 8787
    clients = [
        {**own, "app.kubernetes.io/component": "client"},
        {"daskcloud.io/client": "true"},  # labelled client pods of the same namespace
    ]
    assert [p["podSelector"]["matchLabels"] for p in rule["from"]] == [
        {**own, "app.kubernetes.io/component": "worker"},
        *clients,
    ]
    (rule,) = workers["ingress"]
    assert set(rule) == {"from"}  # any port, but only from these pods
    assert [p["podSelector"]["matchLabels"] for p in rule["from"]] == [own, *clients]
    for policy in (scheduler, workers):
        text = str(policy)
        assert "ipBlock" not in text and "namespaceSelector" not in text


def test_dashboard_listens_on_loopback(variant) -> None:
    spec, tls = variant
    args = _container(only(rendered(spec, tls)["apply"], "Job"))["args"]
    assert _arg(args, "--dashboard-address") == "127.0.0.1:8787"
    assert "--jupyter" not in args


# --- TLS -----------------------------------------------------------------------------------


def test_all_comms_are_mutual_tls(variant) -> None:
    spec, tls = variant
    objects = rendered(spec, tls)["apply"]
    secret = only(objects, "Secret")
    files = set(secret["data"])
    mounts = set()
    for obj in (only(objects, "Job"), only(objects, "Deployment")):
        container = _container(obj)
        args = container["args"]
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "tls"]
        assert mount["readOnly"] is True
        mounts.add(mount["mountPath"])
        for flag in ("--tls-ca-file", "--tls-cert", "--tls-key"):
            directory, _, name = _arg(args, flag).rpartition("/")
            assert directory == mount["mountPath"] and name in files
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] == "True"
        pod = obj["spec"]["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "tls"]
        assert volume["secret"]["secretName"] == secret["metadata"]["name"]
        assert volume["secret"]["defaultMode"] & 0o077 == 0o040  # group (fsGroup) read only
    assert _arg(_container(only(objects, "Job"))["args"], "--protocol") == "tls"
    assert _container(only(objects, "Deployment"))["args"][0] == spec.scheduler_address
    assert spec.scheduler_address.startswith("tls://")
    assert secret["immutable"] is True


def test_secret_holds_no_client_key_and_no_ca_key(variant) -> None:
    spec, tls = variant
    secret = only(rendered(spec, tls)["apply"], "Secret")
    pems = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert tls.client_key not in pems.values() and tls.client_cert not in pems.values()
    ca = x509.load_pem_x509_certificate(pems["ca.pem"].encode())
    ca_public = ca.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for name, pem in pems.items():
        if name.endswith("-key.pem"):
            key = serialization.load_pem_private_key(pem.encode(), password=None)
            public = key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            assert public != ca_public, f"{name} is the CA's key"


def test_certificates_chain_to_the_cluster_ca_and_expire_after_the_lifetime(variant) -> None:
    spec, tls = variant
    ca = x509.load_pem_x509_certificate(tls.ca_cert.encode())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    for pem in (tls.scheduler_cert, tls.worker_cert, tls.client_cert):
        cert = x509.load_pem_x509_certificate(pem.encode())
        cert.verify_directly_issued_by(ca)
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        assert (
            spec.max_lifetime_seconds
            < lifetime.total_seconds()
            < spec.max_lifetime_seconds + 2 * 86400
        )


# --- RBAC ----------------------------------------------------------------------------------

EXPECTED_RULES = {
    ("batch", "jobs"): {"create", "get", "list", "watch", "delete"},
    ("batch", "jobs/finalizers"): {"update"},
    ("apps", "deployments"): {"create", "get", "list", "patch"},
    ("", "services"): {"create", "get", "list"},
    ("networking.k8s.io", "networkpolicies"): {"create", "get", "list"},
    ("", "secrets"): {"create"},
    ("", "pods"): {"get", "list", "watch"},
    ("", "pods/log"): {"get"},
    ("", "pods/portforward"): {"create"},
    ("", "events"): {"list", "watch"},
    ("", "configmaps"): {"create"},
    ("", "persistentvolumeclaims"): {"get", "create"},
}


@pytest.fixture
def rbac() -> list[dict[str, Any]]:
    return build_rbac("dask")


def test_rbac_is_namespaced_only(rbac) -> None:
    assert [o["kind"] for o in rbac] == ["ServiceAccount", "Role", "RoleBinding"]
    for obj in rbac:
        assert obj["metadata"]["namespace"] == "dask"
    binding = only(rbac, "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "daskcloud-launcher",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "daskcloud-launcher", "namespace": "dask"}
    ]
    assert only(rbac, "ServiceAccount")["automountServiceAccountToken"] is False


def test_rbac_grants_exactly_the_lifecycle_verbs(rbac) -> None:
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in only(rbac, "Role")["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}  # no resourceNames, no URLs
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    assert granted == EXPECTED_RULES
    everything = [x for rule in only(rbac, "Role")["rules"] for v in rule.values() for x in v]
    assert "*" not in everything
    for forbidden in ("pods/exec", "roles", "rolebindings", "clusterroles", "serviceaccounts"):
        assert forbidden not in everything
    for forbidden in ("escalate", "bind", "impersonate", "deletecollection"):
        assert forbidden not in everything
    assert granted[("", "secrets")] == {"create"}  # never read: that would expose every Secret


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

"""Access: who may reach a cluster, asserted on every rendered object.

The scheduler Service stays inside the cluster, the NetworkPolicies admit only this cluster's
pods and clients, every connection is mutual TLS with certificates that chain to the
cluster's CA, and the launcher's RBAC is namespaced and grants exactly the lifecycle's verbs.
The pod hardening rules are :mod:`test_k8s_policy`.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from k8s_objects import container_of, flag_value, only, rendered

from daskcloud.cluster.kubernetes import CLUSTER_ID_LABEL, build_rbac

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
    args = container_of(only(rendered(spec, tls)["apply"], "Job"))["args"]
    assert flag_value(args, "--dashboard-address") == "127.0.0.1:8787"
    assert "--jupyter" not in args


# --- TLS -----------------------------------------------------------------------------------


def test_all_comms_are_mutual_tls(variant) -> None:
    spec, tls = variant
    objects = rendered(spec, tls)["apply"]
    secret = only(objects, "Secret")
    files = set(secret["data"])
    mounts = set()
    for obj in (only(objects, "Job"), only(objects, "Deployment")):
        container = container_of(obj)
        args = container["args"]
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "tls"]
        assert mount["readOnly"] is True
        mounts.add(mount["mountPath"])
        for flag in ("--tls-ca-file", "--tls-cert", "--tls-key"):
            directory, _, name = flag_value(args, flag).rpartition("/")
            assert directory == mount["mountPath"] and name in files
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] == "True"
        pod = obj["spec"]["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "tls"]
        assert volume["secret"]["secretName"] == secret["metadata"]["name"]
        assert volume["secret"]["defaultMode"] & 0o077 == 0o040  # group (fsGroup) read only
    assert flag_value(container_of(only(objects, "Job"))["args"], "--protocol") == "tls"
    assert container_of(only(objects, "Deployment"))["args"][0] == spec.scheduler_address
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

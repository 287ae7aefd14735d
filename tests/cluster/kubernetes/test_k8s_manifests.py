"""The pure builders: structure, wiring between objects, and a golden rendering.

``DASKCLOUD_UPDATE_GOLDEN=1`` rewrites ``golden/*.yaml`` from the current builders; review the
diff before committing it.
"""

from __future__ import annotations

import pytest
from k8s_objects import (
    BUNDLE,
    FAKE_TLS,
    OWNER,
    assert_golden,
    extras,
    only,
    rendered,
)

from daskcloud.cluster.kubernetes import (
    ClusterSpec,
    build_cluster,
    build_scheduler_job,
    client_labels,
)


def _kinds(objects: list[dict]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objects]


def test_objects_in_creation_order(variant) -> None:
    spec, tls = variant
    groups = rendered(spec, tls)
    n, s, w = spec.secret_name, spec.scheduler_name, spec.workers_name
    owned = [
        f"Secret/{n}",
        f"ConfigMap/{spec.name}-sync",
        f"Service/{s}",
        f"NetworkPolicy/{s}",
        f"NetworkPolicy/{w}",
    ]
    j = spec.jupyter_name
    notebook = [f"Secret/{j}", f"ConfigMap/{spec.name}-examples", f"Service/{j}"]
    notebook = [*notebook, f"NetworkPolicy/{j}", f"Deployment/{j}"] if spec.jupyter else []
    pvc = [f"PersistentVolumeClaim/{spec.name}-notebook"] if spec.notebook_storage else []
    assert _kinds(groups["apply"]) == [*owned, f"Job/{s}", f"Deployment/{w}", *pvc, *notebook]
    assert _kinds(groups["owned"]) == [*owned, f"Deployment/{w}", *notebook]


def test_scheduler_job_is_the_same_object_either_way(variant) -> None:
    spec, tls = variant
    job = build_scheduler_job(spec, bundle=BUNDLE)
    assert job == only(rendered(spec, tls)["apply"], "Job")
    assert "ownerReferences" not in job["metadata"]


def test_selectors_pick_the_right_pods(variant) -> None:
    spec, tls = variant
    objects = rendered(spec, tls)["apply"]
    job_pods = only(objects, "Job")["spec"]["template"]["metadata"]["labels"]
    deployment = only(objects, "Deployment")
    worker_pods = deployment["spec"]["template"]["metadata"]["labels"]

    def picks(selector: dict, labels: dict) -> bool:
        return selector.items() <= labels.items()

    assert picks(deployment["spec"]["selector"]["matchLabels"], worker_pods)
    assert not picks(deployment["spec"]["selector"]["matchLabels"], job_pods)
    service = only(objects, "Service")["spec"]["selector"]
    assert picks(service, job_pods) and not picks(service, worker_pods)
    for name, pods, other in [
        (spec.scheduler_name, job_pods, worker_pods),
        (spec.workers_name, worker_pods, job_pods),
    ]:
        selector = only(objects, "NetworkPolicy", name)["spec"]["podSelector"]["matchLabels"]
        assert picks(selector, pods) and not picks(selector, other)
    # a client pod labelled with client_labels() passes the scheduler's policy
    (rule,) = only(objects, "NetworkPolicy", spec.scheduler_name)["spec"]["ingress"]
    assert any(picks(p["podSelector"]["matchLabels"], client_labels(spec)) for p in rule["from"])
    # ... and another cluster's worker does not
    stranger = {**worker_pods, "daskcloud.io/cluster-id": "someone-else"}
    assert not any(picks(p["podSelector"]["matchLabels"], stranger) for p in rule["from"])


def test_service_targets_the_named_container_ports(variant) -> None:
    spec, tls = variant
    objects = rendered(spec, tls)["apply"]
    (container,) = only(objects, "Job")["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for port in only(objects, "Service")["spec"]["ports"]:
        assert ports[port["targetPort"]] == port["port"]


def test_placement_applies_to_workers_only() -> None:
    spec = ClusterSpec(
        name="a", node_selector={"pool": "spot"}, tolerations=["spot=true:NoSchedule"]
    )
    objects = build_cluster(spec, tls=FAKE_TLS)
    workers = only(objects, "Deployment")["spec"]["template"]["spec"]
    assert workers["nodeSelector"] == {"pool": "spot"}
    assert workers["tolerations"] == [
        {"operator": "Equal", "key": "spot", "value": "true", "effect": "NoSchedule"}
    ]
    scheduler = only(objects, "Job")["spec"]["template"]["spec"]
    assert "nodeSelector" not in scheduler and "tolerations" not in scheduler


def test_worker_count_and_name(variant) -> None:
    spec, tls = variant
    deployment = only(rendered(spec, tls)["apply"], "Deployment")
    assert deployment["spec"]["replicas"] == spec.workers
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--name") + 1] == "$(DASK_WORKER_NAME)"
    assert {
        "name": "DASK_WORKER_NAME",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
    } in container["env"]


def test_builders_are_pure(variant) -> None:
    spec, tls = variant
    before = spec.model_dump()
    nb, bundle = extras(spec)
    twice = [
        build_cluster(spec, tls=tls, owner=OWNER, bundle=bundle, notebook=nb) for _ in range(2)
    ]
    assert twice[0] == twice[1]
    assert spec.model_dump() == before


@pytest.mark.parametrize(
    ("golden", "options", "owned"),
    [
        ("plain-apply.yaml", {}, False),
        ("gpu-spot-owned.yaml", {"gpu": 2, "node_selector": {"pool": "gpu"}}, True),
    ],
)
def test_golden_rendering(golden: str, options: dict, owned: bool) -> None:
    assert_golden(golden, owner=OWNER if owned else None, **options)


def test_public_api_has_the_spec_and_builders() -> None:
    import daskcloud.cluster.kubernetes as k8s

    assert set(k8s.__all__) >= {
        "CLIENT_LABEL", "CLUSTER_ID_LABEL", "CLUSTER_LABEL", "DASHBOARD_PORT", "LAUNCHER_RULES",
        "SCHEDULER_PORT", "ClientCredentials", "ClusterSpec", "ClusterTLS", "Owner", "Toleration",
        "build_cluster", "build_network_policies", "build_rbac", "build_scheduler_job",
        "build_service", "build_tls_secret", "build_worker_deployment", "client_credentials",
        "client_labels", "client_security", "default_image", "delete_command", "generate_tls",
        "manifests_for_apply", "render_yaml", "state_home", "write_client_credentials",
        "OVERLAY_PATH", "add_overlay", "build_sync_config_map", "cluster_bundle_of",
    }  # fmt: skip
    for name in k8s.__all__:
        assert hasattr(k8s, name), name

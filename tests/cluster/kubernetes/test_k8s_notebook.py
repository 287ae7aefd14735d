"""The notebook's objects (``--jupyter``): wiring, network, secrets, and a golden rendering.

The generic policy and schema tests run on them too (the ``jupyter`` variant of
``k8s_objects.SPECS``); these are the rules that belong to the notebook alone.
``DASKCLOUD_UPDATE_GOLDEN=1`` rewrites ``golden/notebook-apply.yaml``.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import yaml
from k8s_objects import NOTEBOOK, OWNER, assert_golden, only, rendered

from daskcloud.cluster.kubernetes import (
    ClusterSpec,
    build_cluster,
    client_labels,
    generate_tls,
    manifests_for_apply,
)
from daskcloud.cluster.kubernetes._notebook import keepalive_interval
from daskcloud.exceptions import ConfigError


@pytest.fixture(scope="module")
def cluster() -> tuple[ClusterSpec, list[dict]]:
    spec = ClusterSpec(name="nb", namespace="dask", jupyter=True, cluster_id="id-nb")
    return spec, rendered(spec, generate_tls(spec))["apply"]


def _pod(objects: list[dict], name: str) -> dict:
    return only(objects, "Deployment", name)["spec"]["template"]


def _picks(selector: dict, labels: dict) -> bool:
    return selector.items() <= labels.items()


def test_without_jupyter_nothing_changes() -> None:
    spec = ClusterSpec(name="a", cluster_id="x")
    tls = generate_tls(spec)
    assert build_cluster(spec, tls=tls) == build_cluster(spec, tls=tls, notebook=NOTEBOOK)
    assert "jupyter" not in yaml.safe_dump_all(build_cluster(spec, tls=tls))


def test_jupyter_listens_on_loopback_behind_a_policy_that_admits_nothing(cluster) -> None:
    spec, objects = cluster
    (container,) = _pod(objects, spec.jupyter_name)["spec"]["containers"]
    assert container["command"] == ["python", "-m", "daskcloud.cluster.notebook_server"]
    assert "--ServerApp.ip=127.0.0.1" in container["args"]
    assert not any("allow_root" in a or "password" in a or "token" in a for a in container["args"])
    policy = only(objects, "NetworkPolicy", spec.jupyter_name)["spec"]
    assert policy["policyTypes"] == ["Ingress"] and policy["ingress"] == []
    assert _picks(
        policy["podSelector"]["matchLabels"], _pod(objects, spec.jupyter_name)["metadata"]["labels"]
    )
    # ... and selects nothing else of the cluster
    for other in (spec.workers_name,):
        assert not _picks(
            policy["podSelector"]["matchLabels"], _pod(objects, other)["metadata"]["labels"]
        )
    service = only(objects, "Service", spec.jupyter_name)["spec"]
    assert service["type"] == "ClusterIP"
    assert service["ports"] == [
        {"name": "http-jupyter", "port": 8888, "targetPort": "http-jupyter"}
    ]
    assert container["ports"][0]["name"] == "http-jupyter"
    assert _picks(service["selector"], _pod(objects, spec.jupyter_name)["metadata"]["labels"])


def test_the_notebook_pod_is_a_client_the_scheduler_admits(cluster) -> None:
    spec, objects = cluster
    labels = _pod(objects, spec.jupyter_name)["metadata"]["labels"]
    assert client_labels(spec).items() <= labels.items()
    (rule,) = only(objects, "NetworkPolicy", spec.scheduler_name)["spec"]["ingress"]
    assert any(_picks(p["podSelector"]["matchLabels"], labels) for p in rule["from"])
    # the workers' Deployment does not adopt it, nor the scheduler's Service select it
    workers = only(objects, "Deployment", spec.workers_name)["spec"]["selector"]["matchLabels"]
    assert not _picks(workers, labels)
    assert not _picks(only(objects, "Service", spec.scheduler_name)["spec"]["selector"], labels)


def test_client_connects_with_no_arguments(cluster) -> None:
    spec, objects = cluster
    pod = _pod(objects, spec.jupyter_name)["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DASK_SCHEDULER_ADDRESS"] == spec.scheduler_address
    assert env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] == "True"
    (tls,) = [v for v in pod["volumes"] if v["name"] == "tls"]
    files = {item["path"] for item in tls["secret"]["items"]}
    assert files == {"ca.pem", "worker.pem", "worker-key.pem"}  # never the scheduler's key
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "tls"]
    for key in ("CA_FILE", "CLIENT__CERT", "CLIENT__KEY"):
        directory, _, name = env[f"DASK_DISTRIBUTED__COMM__TLS__{key}"].rpartition("/")
        assert directory == mount["mountPath"] and name in files
    assert env["DASKCLOUD_KEEPALIVE_INTERVAL"] == str(keepalive_interval(spec)) == "30"


def test_token_lives_in_its_secret_only(cluster) -> None:
    spec, objects = cluster
    secret = only(objects, "Secret", spec.jupyter_name)
    assert secret["immutable"] is True
    assert base64.b64decode(secret["data"]["token"]).decode() == NOTEBOOK.token
    others = [o for o in objects if o is not secret]
    assert NOTEBOOK.token not in yaml.safe_dump_all(others)
    pod = _pod(objects, spec.jupyter_name)["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    (volume,) = [
        v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == spec.jupyter_name
    ]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    assert env["JUPYTER_TOKEN_FILE"] == f"{mount['mountPath']}/token"
    assert "JUPYTER_TOKEN" not in env


def test_examples_are_mounted_read_only(cluster) -> None:
    spec, objects = cluster
    config_map = only(objects, "ConfigMap", f"{spec.name}-examples")
    assert config_map["data"] == NOTEBOOK.examples and config_map["immutable"] is True
    (container,) = _pod(objects, spec.jupyter_name)["spec"]["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "examples"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert mount["readOnly"] is True and env["DASKCLOUD_NOTEBOOK_EXAMPLES"] == mount["mountPath"]


def test_storage_is_a_claim_that_outlives_the_cluster() -> None:
    spec = ClusterSpec(name="nb", namespace="dask", jupyter=True, notebook_storage="10Gi")
    tls = generate_tls(spec)
    apply = build_cluster(spec, tls=tls, notebook=NOTEBOOK)
    owned = build_cluster(spec, tls=tls, owner=OWNER, notebook=NOTEBOOK)
    claim = only(apply, "PersistentVolumeClaim", "nb-notebook")
    assert claim["metadata"]["name"] == "nb-notebook" and "ownerReferences" not in claim["metadata"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert all(o["kind"] != "PersistentVolumeClaim" for o in owned)  # the lifecycle creates it
    deployment = only(owned, "Deployment", spec.jupyter_name)
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # ReadWriteOnce
    (home,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "home"]
    assert home == {"name": "home", "persistentVolumeClaim": {"claimName": "nb-notebook"}}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"notebook_storage": "10Gi"}, "add --jupyter"),
        ({"jupyter": True, "notebook_storage": "10 GB"}, "'10Gi'"),
    ],
)
def test_bad_notebook_options_say_what_to_do(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ClusterSpec(name="nb", **options)


def test_keepalive_interval_follows_the_idle_timeout() -> None:
    assert keepalive_interval(ClusterSpec(name="a", idle_timeout="20s")) == 5
    assert keepalive_interval(ClusterSpec(name="a", idle_timeout="2s")) == 1
    assert keepalive_interval(ClusterSpec(name="a", idle_timeout="8h")) == 30


def test_manifests_keep_the_token_on_this_machine(tmp_path: Path) -> None:
    spec = ClusterSpec(name="nb", namespace="dask", jupyter=True)
    text, creds = manifests_for_apply(spec, home=tmp_path)
    token_file = creds.directory / "jupyter-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text()
    secret = only(list(yaml.safe_load_all(text)), "Secret", spec.jupyter_name)
    assert base64.b64decode(secret["data"]["token"]).decode() == token
    assert "svc/nb-jupyter 8888" in text and str(token_file) in text
    assert re.search(r"The notebook pod installs \d+ \(with JupyterLab\)", text)
    examples = only(list(yaml.safe_load_all(text)), "ConfigMap", "nb-examples")["data"]
    assert "rossmann.ipynb" in examples  # the project's own examples


def test_golden_rendering() -> None:
    assert_golden("notebook-apply.yaml", jupyter=True, notebook_storage="10Gi")


def test_the_notebook_command_points_jupyter_at_an_overlay_only(tmp_path: Path) -> None:
    from daskcloud.cluster.notebook_server import overlay_environment

    overlay = tmp_path / "overlay"
    (overlay / "jupyterlab").mkdir(parents=True)
    environ = {"PATH": "/usr/bin", "JUPYTER_PATH": "/data"}
    # installed the usual way (site-packages has no share/ beside it): nothing changes
    assert overlay_environment(overlay / "jupyterlab", environ) == {}
    (overlay / "share" / "jupyter" / "lab").mkdir(parents=True)
    env = overlay_environment(overlay / "jupyterlab", environ)
    assert env == {
        "JUPYTERLAB_DIR": str(overlay / "share/jupyter/lab"),
        "JUPYTER_PATH": f"{overlay / 'share/jupyter'}:/data",
        "JUPYTER_CONFIG_PATH": str(overlay / "etc/jupyter"),
        "PATH": f"{overlay / 'bin'}:/usr/bin",
    }

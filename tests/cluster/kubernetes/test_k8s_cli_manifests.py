"""``daskcloud manifests``: YAML for kubectl, the header, the client's files, bad values."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from daskcloud.cli import main
from daskcloud.cluster.kubernetes import client_credentials, client_security


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DASKCLOUD_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


ARGS = ["manifests", "--name", "hpo", "--namespace", "dask", "--workers", "3", "--cpu", "2",
        "--memory", "8Gi", "--idle-timeout", "15m", "--max-lifetime", "4h"]  # fmt: skip


def test_prints_yaml_for_kubectl_apply(capsys, home: Path) -> None:
    assert main([*ARGS, "--rbac", "--gpu", "1", "--toleration", "gpu:NoSchedule"]) == 0
    out = capsys.readouterr()
    docs = [d for d in yaml.safe_load_all(out.out) if d]
    kinds = [d["kind"] for d in docs]
    assert kinds == ["Secret", "ConfigMap", "Service", "NetworkPolicy", "NetworkPolicy", "Job",
                     "Deployment", "ServiceAccount", "Role", "RoleBinding"]  # fmt: skip
    for doc in docs:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    job = docs[5]
    assert job["spec"]["activeDeadlineSeconds"] == 4 * 3600
    assert "--idle-timeout" in job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "client certificate written to" in out.err


def test_header_says_keys_inside_where_the_client_cert_went_and_how_to_delete(capsys, home):
    assert main(ARGS) == 0
    text = capsys.readouterr().out
    header = text.split("\n---\n", 1)[0]
    assert all(line.startswith("#") for line in header.splitlines())
    cluster_id = yaml.safe_load_all(text).__next__()["metadata"]["labels"][
        "daskcloud.io/cluster-id"
    ]
    assert "contains private keys" in header
    assert str(home / "clusters" / "dask" / "hpo") in header
    assert (
        "kubectl delete job,deployment,service,secret,configmap,networkpolicy -n dask "
        f"-l daskcloud.io/cluster-id={cluster_id}"
    ) in header


def test_pods_run_the_public_dask_image_with_the_pinned_packages(capsys) -> None:
    import importlib.metadata as md

    assert main(["manifests", "--name", "x"]) == 0
    text = capsys.readouterr().out
    docs = [d for d in yaml.safe_load_all(text) if d]
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    image = f"ghcr.io/dask/dask:{md.version('distributed')}-py{python}"
    (sync,) = [d for d in docs if d["kind"] == "ConfigMap"]
    pins = sync["data"]["requirements.txt"].split()
    for name in ("scikit-learn", "numpy", "pandas", "dask", "distributed", "threadpoolctl"):
        assert f"{name}=={md.version(name)}" in pins
    assert "daskcloud-" + md.version("daskcloud") + "-py3-none-any.whl" in sync["binaryData"]
    for doc in docs:
        if doc["kind"] in ("Job", "Deployment"):
            pod = doc["spec"]["template"]["spec"]
            (init,) = pod["initContainers"]
            assert init["image"] == pod["containers"][0]["image"] == image
    assert f"installs {len(pins)} packages pinned to this machine's versions" in text


def test_client_files_are_written_private_and_usable(capsys, home: Path) -> None:
    assert main(ARGS) == 0
    capsys.readouterr()
    creds = client_credentials("dask", "hpo")
    assert creds.directory == home / "clusters" / "dask" / "hpo"
    assert stat.S_IMODE(creds.directory.stat().st_mode) == 0o700
    for path in (creds.ca_file, creds.cert_file, creds.key_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in creds.key_file.read_text()
    security = client_security("dask", "hpo")
    assert security.require_encryption is True
    assert security.tls_client_cert == str(creds.cert_file)
    assert not list(creds.directory.glob(".*.tmp"))  # written via temp file + rename


def test_missing_client_files_are_a_clear_error(home: Path) -> None:
    from daskcloud.exceptions import ClusterError

    with pytest.raises(ClusterError, match="no client certificate for cluster dask/nope"):
        client_security("dask", "nope")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--memory", "12 GB"], "memory '12 GB' is not a Kubernetes quantity; write '12Gi'"),
        (["--workers", "-1"], "workers -1 is negative"),
        (["--name", "My_Cluster"], "cluster name 'My_Cluster' is not a DNS label"),
        (["--idle-timeout", "5 minutes"], "idle timeout '5 minutes' is not a duration"),
        (["--max-lifetime", "forever"], "max lifetime 'forever' is not a duration"),
        (["--image", "ghcr.io/dask/dask:latest"], "is not pinned"),
    ],
)
def test_bad_values_exit_2_with_one_line(options: list[str], message: str, home: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "daskcloud.cli", *ARGS, *options],
        capture_output=True,
        text=True,
        check=False,
        env={"DASKCLOUD_HOME": str(home), "PATH": "/usr/bin:/bin", "COLUMNS": "300"},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert not (home / "clusters").exists()  # nothing written on error

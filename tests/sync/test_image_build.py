"""``daskcloud image build``: a build context from the live environment, and the builders' errors.

No container engine runs here: the context is checked file by file, and the builders' failures
are the real ones (the docker CLI without its daemon; no builder on PATH).
"""

from __future__ import annotations

import importlib.metadata as md
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daskcloud.cli import main
from daskcloud.cluster.kubernetes._manifests import RUN_AS_USER
from daskcloud.sync._image import base_image, write_context

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "Dockerfile"


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("image")
    assert main(["image", "build", "--tag", "r.example/t/hpo:1", "--context", str(where),
                 "--write-only"]) == 0  # fmt: skip
    return where


def test_dockerfile_is_the_template_on_the_client_base_image(context: Path) -> None:
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert base_image() == f"ghcr.io/dask/dask:{md.version('distributed')}-py{python}"
    text = (context / "Dockerfile").read_text()
    assert f"ARG BASE_IMAGE={base_image()}\nFROM ${{BASE_IMAGE}}\n" in text
    template = TEMPLATE.read_text()
    assert text.replace(base_image(), "X") == template.replace(
        template.split("ARG BASE_IMAGE=")[1].split("\n")[0], "X"
    )
    assert f"USER {RUN_AS_USER}:{RUN_AS_USER}" in text
    assert "EXTRA_PIP_PACKAGES" not in text.replace("(no EXTRA_PIP_PACKAGES)", "")


def test_every_pin_is_the_installed_version(context: Path) -> None:
    lines = [ln for ln in (context / "requirements.txt").read_text().splitlines() if "==" in ln]
    pins = dict(line.split("==") for line in lines)
    for name in ("dask", "distributed", "scikit-learn", "numpy", "pandas", "optuna",
                 "cloudpickle", "msgpack", "tornado", "toolz"):  # fmt: skip
        assert name in pins, name
    for name, pinned in pins.items():
        assert pinned == md.version(name), name  # drift is impossible: read from here
    wheels = sorted(p.name for p in (context / "wheels").iterdir())
    assert f"daskcloud-{md.version('daskcloud')}-py3-none-any.whl" in wheels


def test_without_a_builder_one_line_names_the_three(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["image", "build", "--tag", "r.example/t/hpo:1"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert line.startswith("error: no container builder found")
    assert all(name in line for name in ("docker", "podman", "buildah"))


def test_a_builder_without_its_engine_ends_in_one_line(capsys) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI on this machine")
    if subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0:
        pytest.skip("a Docker engine runs here: building would really build")
    assert main(["image", "build", "--tag", "r.example/t/hpo:1", "--builder", "docker"]) == 1
    err = capsys.readouterr().err
    assert "error: docker cannot reach its engine" in err
    assert "Traceback" not in err


def test_help_describes_the_production_tier() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "daskcloud.cli", "image", "build", "--help"],
        capture_output=True, text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin",
                                             "PYTHONPATH": ":".join(sys.path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "production" in text and "--push" in text and "docker, podman or buildah" in text
    write_context  # the function the command calls  # noqa: B018

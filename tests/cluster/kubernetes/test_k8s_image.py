"""deploy/Dockerfile: pinned to the client's versions, non-root, nothing installed at start.

The image cannot be built here (no container runtime); these checks read the Dockerfile and
its constraints file. ``DASKCLOUD_UPDATE_CONSTRAINTS=1`` rewrites deploy/constraints.txt from
this environment (the dependency closure of the installed daskcloud).
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from daskcloud.cluster.kubernetes._manifests import RUN_AS_USER

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()
#: what distributed's version check compares between client, scheduler and workers, and more
CRITICAL = ["dask", "distributed", "cloudpickle", "msgpack", "tornado", "toolz", "numpy",
            "pandas", "scikit-learn", "optuna"]  # fmt: skip


def _closure() -> dict[str, str]:
    """Installed versions of daskcloud's (non-optional) dependencies, transitively."""
    seen: dict[str, str] = {}

    def walk(name: str, extras: tuple[str, ...]) -> None:
        key = canonicalize_name(name)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            return
        if key in seen:
            return
        seen[key] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *extras)):
                walk(req.name, tuple(req.extras))

    for text in md.distribution("daskcloud").requires or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            walk(req.name, tuple(req.extras))
    return dict(sorted(seen.items()))


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (DEPLOY / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_update_constraints_when_asked() -> None:
    if not os.environ.get("DASKCLOUD_UPDATE_CONSTRAINTS"):
        pytest.skip("set DASKCLOUD_UPDATE_CONSTRAINTS=1 to rewrite deploy/constraints.txt")
    lines = [f"{name}=={version}" for name, version in _closure().items()]
    header = "# daskcloud's dependencies at the client's versions; see deploy/Dockerfile\n"
    (DEPLOY / "constraints.txt").write_text(header + "\n".join(lines) + "\n")


def test_base_image_is_the_official_dask_image_at_the_client_versions() -> None:
    (base,) = re.findall(r"^FROM\s+(\S+)", DOCKERFILE, flags=re.M)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert base == f"ghcr.io/dask/dask:{md.version('distributed')}-py{python}"
    assert md.version("dask") == md.version("distributed")
    assert "latest" not in base


@pytest.mark.parametrize("package", CRITICAL)
def test_constraints_pin_the_client_versions(package: str) -> None:
    pins = _constraints()
    assert pins.get(package) == md.version(package), (
        f"deploy/constraints.txt pins {package}=={pins.get(package)} but the client runs "
        f"{md.version(package)}; regenerate: DASKCLOUD_UPDATE_CONSTRAINTS=1 pytest {__file__}"
    )


def test_image_installs_daskcloud_with_the_constraints_and_runs_as_non_root() -> None:
    assert "PIP_CONSTRAINT=/tmp/daskcloud-constraints.txt" in DOCKERFILE
    assert re.search(r"pip install --no-cache-dir /tmp/daskcloud-src", DOCKERFILE)
    (user,) = re.findall(r"^USER\s+(\S+)", DOCKERFILE, flags=re.M)
    assert user == f"{RUN_AS_USER}:{RUN_AS_USER}"
    assert RUN_AS_USER != 0
    assert "EXTRA_PIP_PACKAGES" not in DOCKERFILE.replace("(no EXTRA_PIP_PACKAGES)", "")

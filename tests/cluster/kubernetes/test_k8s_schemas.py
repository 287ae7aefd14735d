"""Every rendered object validates against the official Kubernetes schemas (strict mode).

``kubernetes-validate`` ships JSON schemas per Kubernetes minor version; strict mode rejects
unknown fields, so a misspelt key fails here instead of being dropped silently by the API
server. Every version from 1.30 to the newest the installed package ships is checked.
"""

from __future__ import annotations

import kubernetes_validate
import pytest
from k8s_objects import only, rendered
from kubernetes_validate.utils import all_versions, major_minor
from packaging.version import Version

OLDEST = Version("1.30")
VERSIONS = sorted({major_minor(v) for v in all_versions()}, key=Version)
VERSIONS = [v for v in VERSIONS if Version(v) >= OLDEST]


def test_versions_cover_1_30_to_the_newest_shipped() -> None:
    assert VERSIONS[0] == "1.30"
    assert VERSIONS[-1] == major_minor(kubernetes_validate.latest_version())
    assert len(VERSIONS) >= 2


@pytest.mark.parametrize("k8s_version", VERSIONS)
def test_objects_validate_strictly(k8s_version: str, variant) -> None:
    spec, tls = variant
    for group, objects in rendered(spec, tls).items():
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, k8s_version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = "/".join(str(p) for p in exc.path)
                pytest.fail(f"{group} {obj['kind']} {where}: {exc.message} (k8s {k8s_version})")


def test_strict_validation_catches_an_unknown_field(variant) -> None:
    spec, tls = variant
    job = only(rendered(spec, tls)["apply"], "Job")
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True
    with pytest.raises(kubernetes_validate.ValidationError, match="runAsNonroot"):
        kubernetes_validate.validate(job, VERSIONS[-1], strict=True)

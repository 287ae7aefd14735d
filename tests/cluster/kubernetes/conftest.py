"""Fixtures of the Kubernetes manifest tests: one spec per variant and its certificates."""

from __future__ import annotations

import pytest
from k8s_objects import SPECS

from daskcloud.cluster.kubernetes import ClusterSpec, ClusterTLS, generate_tls


@pytest.fixture(scope="session")
def tls_by_variant() -> dict[str, tuple[ClusterSpec, ClusterTLS]]:
    out = {}
    for key, options in SPECS.items():
        spec = ClusterSpec(**options, cluster_id=f"id-{key}")
        out[key] = (spec, generate_tls(spec))
    return out


@pytest.fixture(params=sorted(SPECS))
def variant(request: pytest.FixtureRequest, tls_by_variant) -> tuple[ClusterSpec, ClusterTLS]:
    return tls_by_variant[request.param]

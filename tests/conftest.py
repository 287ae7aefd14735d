"""Shared fixtures: a real LocalCluster (worker processes), seeds, and opt-in real-cluster tests."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kube-context",
        default=None,
        help="kubeconfig context of a real Kubernetes cluster for tests marked 'kubernetes'",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--kube-context"):
        return
    skip = pytest.mark.skip(reason="needs a real cluster: pytest -m kubernetes --kube-context NAME")
    for item in items:
        # the marker, not item.keywords: keywords include directory names (tests/cluster/kubernetes)
        if item.get_closest_marker("kubernetes") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def dask_client():
    """A LocalCluster with 2 worker processes x 1 thread, shared by the session's tests.

    Tests that kill workers or need a special cluster must start their own.
    """
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client

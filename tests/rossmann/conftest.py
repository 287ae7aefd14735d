"""Rossmann fixtures: one small synthetic data set per test session."""

from __future__ import annotations

import pytest

from daskcloud.rossmann import generate, load_rossmann


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory):
    """The small preset (seed 0) written once to a temporary directory; treat it as read-only."""
    return generate("small", seed=0, out_dir=tmp_path_factory.mktemp("rossmann") / "small")


@pytest.fixture(scope="session")
def small_data(small_data_dir):
    """``load_rossmann(small_data_dir)``; treat the frames as read-only."""
    return load_rossmann(small_data_dir)


@pytest.fixture(scope="session")
def full_data_dir(tmp_path_factory):
    """The full preset (seed 0, about 80 MB) written once; for tests marked slow."""
    return generate("full", seed=0, out_dir=tmp_path_factory.mktemp("rossmann") / "full")

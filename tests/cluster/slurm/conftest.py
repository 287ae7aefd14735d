"""The session's real one-node Slurm (started once, stopped at the end) and a fresh home."""

from __future__ import annotations

import os

import pytest
from one_node_slurm import OneNodeSlurm, missing_reason


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """munged + slurmctld + slurmd of this machine; skipped, with the install command, without."""
    why = missing_reason()
    if why:
        pytest.skip(why)
    cluster = OneNodeSlurm(tmp_path_factory.mktemp("slurm")).start()
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        cluster.stop()
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh $DASKCLOUD_HOME (the 'shared home' of the cluster's files)."""
    path = tmp_path / "home"
    monkeypatch.setenv("DASKCLOUD_HOME", str(path))
    return path

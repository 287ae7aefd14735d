"""Version check: a mismatch is a clear error naming the package and versions, not a hang."""

from __future__ import annotations

import pytest
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge

from daskcloud.core import versions as _versions
from daskcloud.core.versions import PACKAGES, check_versions, compare_versions, local_versions
from daskcloud.exceptions import SearchError

SAME = dict.fromkeys(PACKAGES, "1.0")


def test_identical_versions_pass():
    assert compare_versions({"client": SAME, "scheduler": SAME, "tcp://w1": SAME}) == []


def test_a_mismatch_names_package_versions_and_places():
    worker = {**SAME, "scikit-learn": "1.4.2"}
    problems = compare_versions({"client": SAME, "scheduler": SAME, "tcp://w1": worker})
    assert problems == ["scikit-learn: 1.0 on client, scheduler; 1.4.2 on tcp://w1"]


def test_missing_ml_packages_on_the_scheduler_are_fine_but_not_on_workers():
    bare = {**SAME, "scikit-learn": None, "pandas": None, "daskcloud": None}
    assert compare_versions({"client": SAME, "scheduler": bare, "tcp://w": SAME}) == []
    problems = compare_versions({"client": SAME, "scheduler": SAME, "tcp://w": bare})
    assert "daskcloud: 1.0 on client, scheduler; not installed on tcp://w" in problems
    problems = compare_versions({"client": SAME, "scheduler": {**SAME, "distributed": None}})
    assert problems and problems[0].startswith("distributed")


def test_real_cluster_agrees(dask_client):
    versions = check_versions(dask_client)
    assert versions["client"] == local_versions()
    assert len(versions) == 2 + len(dask_client.nthreads())


def test_search_refuses_to_start_on_a_mismatch(dask_client, monkeypatch):
    real = _versions.compare_versions

    def fake(versions):  # pretend one worker runs another scikit-learn
        first_worker = next(k for k in versions if k.startswith("tcp://"))
        versions[first_worker] = {**versions[first_worker], "scikit-learn": "0.24.2"}
        return real(versions)

    monkeypatch.setattr(_versions, "compare_versions", fake)
    monkeypatch.setattr(_versions, "_AGREED", {})  # an earlier test's check would be reused
    from daskcloud.search import DaskSearchCV

    X, y = make_regression(n_samples=30, n_features=3, random_state=0)
    search = DaskSearchCV(Ridge(), {"alpha": [1.0]}, cv=2, client=dask_client, progress=False)
    with pytest.raises(SearchError, match=r"scikit-learn: 0\.24\.2 on tcp://.*Install the same"):
        search.fit(X, y)


def test_a_check_is_made_once_per_cluster_state(dask_client, monkeypatch):
    """The same scheduler and worker processes are checked once; a restart checks again."""
    from daskcloud.core.client import cluster_identity

    monkeypatch.setattr(_versions, "_AGREED", {})
    calls = []
    real = _versions.compare_versions
    monkeypatch.setattr(_versions, "compare_versions", lambda v: calls.append(v) or real(v))
    before = cluster_identity(dask_client)
    first = check_versions(dask_client)
    assert check_versions(dask_client) == first and len(calls) == 1
    assert cluster_identity(dask_client) == before
    dask_client.restart()  # new worker processes: new ids
    assert cluster_identity(dask_client) != before
    assert check_versions(dask_client).keys() - {"client", "scheduler"} == set(
        dask_client.nthreads()
    )
    assert len(calls) == 2

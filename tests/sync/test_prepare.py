"""prepare_cluster on a live cluster: probed once per cluster state, again after a restart."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.metrics import check_scoring

from daskcloud.sync import _ship, prepare_cluster


def test_the_same_processes_are_probed_once(dask_client, monkeypatch):
    monkeypatch.setattr(_ship, "_CLEAN", {})
    X, y, est = np.zeros((8, 2)), np.zeros(8), Ridge()
    objects = (est, X, y, check_scoring(est))
    first = prepare_cluster(dask_client, *objects, space={"alpha": [1.0, 2.0]})
    assert not (first.ship or first.ship_modules or first.problems)
    assert "scikit-learn" in first.checked
    # the second search's answer comes from the first's probe: the very same plan
    assert prepare_cluster(dask_client, *objects, space={"alpha": [3.0]}) is first
    dask_client.restart()  # new worker processes: they are probed again
    again = prepare_cluster(dask_client, *objects, space={"alpha": [1.0]})
    assert again is not first and again == first

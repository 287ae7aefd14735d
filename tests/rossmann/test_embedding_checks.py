"""scikit-learn's estimator checks on EntityEmbeddingRegressor (needs the torch extra).

On the checks' plain matrices there is no ``Open`` column (``open_column=None``) and every
column is continuous; a small, fast net learns the checks' regression data well enough.
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

pytest.importorskip("torch", reason="the torch extra is not installed")
pytest.importorskip("skorch", reason="the torch extra is not installed")

from daskcloud.rossmann.embedding import EntityEmbeddingRegressor

SMALL_NET = EntityEmbeddingRegressor(
    open_column=None,
    max_epochs=20,
    hidden_layer_sizes=(16,),
    batch_size=32,
    learning_rate_init=1e-2,
    device="cpu",
)


@parametrize_with_checks([SMALL_NET], xfail_strict=True)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)

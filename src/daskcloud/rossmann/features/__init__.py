"""Rossmann features as scikit-learn transformers, fitted on training rows only.

:class:`RossmannFeatures` turns the joined train/test frame into a float32
matrix (date parts, event distances, competition, Promo2, store aggregates,
one-hot encodings); :func:`split_xy`, :func:`open_mask` and
:func:`promo_interval_months` are the helpers it is built on.
"""

from daskcloud.rossmann.features._rows import open_mask, split_xy, training_mask
from daskcloud.rossmann.features._store import promo_interval_months
from daskcloud.rossmann.features._transformer import RossmannFeatures

__all__ = [
    "RossmannFeatures",
    "open_mask",
    "promo_interval_months",
    "split_xy",
    "training_mask",
]

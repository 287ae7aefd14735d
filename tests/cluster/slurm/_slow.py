"""A Ridge that sleeps in fit, so a search lasts long enough to lose a worker in the middle.

Workers in Slurm jobs import it by name: the test puts this directory on their PYTHONPATH.
"""

from __future__ import annotations

import time

from sklearn.linear_model import Ridge


class SlowRidge(Ridge):
    """``Ridge`` whose ``fit`` first sleeps ``delay`` seconds."""

    def __init__(self, alpha=1.0, *, delay=0.0):
        super().__init__(alpha=alpha)
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.delay)
        return super().fit(X, y, sample_weight)

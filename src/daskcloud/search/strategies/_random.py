"""Random search: ``n_candidates`` draws of scikit-learn's seeded ``ParameterSampler``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from daskcloud.exceptions import ConfigError
from daskcloud.search.strategies._grid import FixedCandidates

__all__ = ["RandomStrategy"]

#: scikit-learn's RandomizedSearchCV default n_iter
DEFAULT_N_CANDIDATES = 10


class RandomStrategy(FixedCandidates):
    """``n_candidates`` samples of a space, exactly as ``RandomizedSearchCV(n_iter, random_state)``.

    Candidates are drawn up front in the driver, so the same seed gives the same
    candidates whatever the number of workers.
    """

    def __init__(
        self,
        space: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        n_candidates: int | None = None,
        random_state: Any = None,
    ) -> None:
        from sklearn.model_selection import ParameterSampler

        n = DEFAULT_N_CANDIDATES if n_candidates is None else n_candidates
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n_candidates must be a positive integer, got {n_candidates!r}")
        try:
            sampler = ParameterSampler(space, n_iter=n, random_state=random_state)
            candidates = list(sampler)
        except (TypeError, ValueError) as e:
            raise ConfigError(
                f"invalid space {space!r}: {e}; give a dict (or list of dicts) of lists "
                "or scipy.stats distributions"
            ) from e
        super().__init__(candidates)

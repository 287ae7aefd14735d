"""Exhaustive grid: every candidate of scikit-learn's ``ParameterGrid``, asked all at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from daskcloud.exceptions import ConfigError
from daskcloud.search.strategies._base import Strategy, Trial, TrialResult

__all__ = ["FixedCandidates", "GridStrategy"]


class FixedCandidates(Strategy):
    """A strategy over a fixed list of candidates: ask returns all the remaining ones.

    Grid and random search differ only in how the list is made, so both derive
    from this class.
    """

    def __init__(self, candidates: Iterable[Mapping[str, Any]]) -> None:
        self._candidates = [dict(c) for c in candidates]
        self._next = 0
        self._pending = 0

    @property
    def candidates(self) -> list[dict[str, Any]]:
        """The candidate parameter dicts, in ``cv_results_`` order."""
        return self._candidates

    def ask(self, n: int) -> list[Trial]:
        # All at once, whatever n: the runner shares prefixes and batches across them.
        trials = [
            Trial(id=i, params=self._candidates[i])
            for i in range(self._next, len(self._candidates))
        ]
        self._next = len(self._candidates)
        self._pending += len(trials)
        return trials

    def tell(self, result: TrialResult) -> None:
        self._pending -= 1

    def is_finished(self) -> bool:
        return self._next >= len(self._candidates) and self._pending <= 0

    def n_trials_hint(self) -> int:
        return len(self._candidates)


class GridStrategy(FixedCandidates):
    """Every combination of a grid (dict or list of dicts of lists), as ``GridSearchCV``."""

    def __init__(
        self,
        space: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]],
        *,
        n_candidates: int | None = None,
        random_state: Any = None,
    ) -> None:
        from sklearn.model_selection import ParameterGrid

        if n_candidates is not None:
            raise ConfigError(
                f"n_candidates={n_candidates!r} does not apply to strategy='grid', which tries "
                "every combination; use strategy='random' to sample n_candidates of them"
            )
        try:
            grid = ParameterGrid(space)
        except (TypeError, ValueError) as e:
            raise ConfigError(
                f"invalid grid {space!r}: {e}; give a dict (or list of dicts) of lists"
            ) from e
        super().__init__(list(grid))

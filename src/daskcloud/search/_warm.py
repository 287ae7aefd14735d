"""Fitted estimators held on the workers so that the next rung continues them (warm start).

With a parameter resource the final estimator can continue
(:func:`~daskcloud.search._continue.continuation_mode`), the runner keeps the future
of every fit's fitted pipeline. When a trial finishes, :meth:`WarmStartPool.hold`
keeps its folds' futures while ``strategy.may_continue(trial)`` says so; the same
candidate's trial at a higher resource :meth:`~WarmStartPool.take` s them and its
fits continue instead of refitting. After every ``tell``, candidates that may no
longer continue are dropped, which frees the workers' copies: the workers hold at
most one rung's estimators per candidate still alive.

Whatever is not held -- a resumed search's journaled trials, a fit retried after a
lost worker -- is refitted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from daskcloud.search._continue import Mode, Resume
from daskcloud.search._keys import candidate_key
from daskcloud.search.strategies import Trial

__all__ = ["WarmStartPool"]


class WarmStartPool:
    """Per candidate, the fitted-estimator futures of its latest finished trial, by fold."""

    def __init__(self, mode: Mode, param: str) -> None:
        self.mode, self.param = mode, param
        self._held: dict[str, tuple[Trial, dict[int, Any]]] = {}

    def take(self, trial: Trial) -> tuple[Resume | None, dict[int, Any]]:
        """What ``trial`` continues: how, and the held futures by fold (given up by the pool).

        Nothing when the candidate holds no fits, or only fits at a resource not below
        ``trial``'s.
        """
        key = candidate_key(trial.params)
        held = self._held.get(key)
        if trial.resource is None or held is None:
            return None, {}
        previous, models = held
        if previous.resource is None or previous.resource >= trial.resource:
            return None, {}
        del self._held[key]
        return Resume(self.mode, self.param, int(previous.resource), int(trial.resource)), models

    def hold(
        self, trial: Trial, models: Mapping[int, Any], may_continue: Callable[[Trial], bool]
    ) -> None:
        """After ``trial`` was told: keep its ``models`` if it may continue; drop dead ones."""
        if models and may_continue(trial):
            self._held[candidate_key(trial.params)] = (trial, dict(models))
        for key, (held, _) in list(self._held.items()):
            if not may_continue(held):
                del self._held[key]  # dropping the futures frees the workers' copies

    def clear(self) -> None:
        """Drop everything held."""
        self._held.clear()

    def __len__(self) -> int:
        return len(self._held)

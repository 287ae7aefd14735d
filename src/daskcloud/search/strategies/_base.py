"""The strategy protocol: strategies propose trials (ask) and receive results (tell).

A strategy never touches execution. The runner owns Dask, the journal, data
placement, prefix sharing and batching; a strategy only decides *what* to
evaluate next. This keeps grid and random tiny and lets halving and Optuna add
only their own state (scikit-learn ``_run_search``, Optuna ask/tell).

Vocabulary
----------
trial
    Evaluate one candidate's ``params`` on every CV fold, optionally at a
    ``resource`` level (:class:`Trial`). The runner splits a trial into one fit
    per fold and tells the strategy once, when all folds are done.
resource
    ``Strategy.resource`` names what ``Trial.resource`` means: ``None`` (full
    training data, no resource), ``"n_samples"`` (each fold's training set is
    subsampled to ``Trial.resource`` rows, seeded and deterministic) or an
    estimator parameter name such as ``"mlp__max_iter"`` (the runner sets that
    parameter to ``Trial.resource`` on top of ``Trial.params``).
score
    :class:`TrialResult` ``.score`` is the mean test score of the primary
    metric (the refit metric; the only one for single-metric scoring) over the
    folds; higher is better (scikit-learn scorer convention). A trial whose
    fits failed scores ``error_score`` (``nan`` by default).

Call order (the runner, once per search)
----------------------------------------
1. ``bind(context)`` -- once, before anything else, with a :class:`SearchContext`
   (number of folds, smallest training-fold size, worker threads, seed).
2. ``replay(results)`` -- once, only when resuming: every trial already complete
   in the journal for this same search, in journal order. Default: ignore.
   Use it to rebuild promotion state or an Optuna study.
3. Loop until ``is_finished()`` is true (or a budget stops the search):

   - ``ask(n)`` whenever the runner has ``n`` free worker slots. Return at most
     ``n`` new trials -- except that a strategy may return *all* its remaining
     trials at once (grid and random do: prefix sharing and batching can then
     see all of them). Returning ``[]`` means "nothing to run until more
     results arrive"; the runner then waits for a result.
   - ``tell(result)`` for every trial that was asked, as soon as its last fold
     finishes, in completion order. Trials found complete in the journal are
     told immediately with ``from_journal=True`` (they are not refitted).
     A trial cancelled by a budget is told with ``status="cancelled"``.

4. ``row_key(trial)`` -- after the loop: the order of ``cv_results_`` rows, which
   must not depend on timing or on resuming. Default: ``Trial.id`` (ask order).
5. ``best_mask(cv_results)`` -- after the loop: which ``cv_results_`` rows may
   be chosen as best (halving: only the top rung). Default: all rows.

``cv_results_`` has one row per trial, in ``row_key`` order; ``Trial.extra``
adds columns (halving puts ``iter`` and ``n_resources`` there, as scikit-learn's
``HalvingGridSearchCV`` does). Every trial of one search must carry the same
extra keys.

Determinism: a strategy seeded with ``random_state`` must ask the same trials
for the same sequence of ``tell`` calls, whatever the number of workers.

Example
-------
>>> from daskcloud.search.strategies import GridStrategy, SearchContext, TrialResult
>>> s = GridStrategy({"alpha": [0.1, 1.0]})
>>> s.bind(SearchContext(n_splits=3, n_train=100, n_workers=2, random_state=None))
>>> trials = s.ask(2)
>>> [t.params for t in trials]
[{'alpha': 0.1}, {'alpha': 1.0}]
>>> for t in trials:
...     s.tell(TrialResult(trial=t, score=0.5))
>>> s.is_finished()
True
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["SearchContext", "Strategy", "Trial", "TrialResult"]

Status = Literal["ok", "error", "cancelled"]


@dataclass(frozen=True)
class Trial:
    """One candidate's parameters, evaluated on every CV fold at one resource level.

    ``id`` is unique within a search and increases in ask order; ``cv_results_``
    rows follow it unless the strategy orders them otherwise (:meth:`Strategy.row_key`).
    ``resource`` is ``None`` unless the strategy has a ``resource``. ``extra`` holds
    additional ``cv_results_`` columns.
    """

    id: int
    params: Mapping[str, Any]
    resource: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialResult:
    """What the runner tells a strategy when all folds of a trial are done.

    ``score`` is the mean test score of the primary metric (``error_score``
    when a fit failed); ``scores`` holds every metric's mean test score by name;
    ``fit_cpu_s`` is the CPU time the trial's fits spent on the workers (0 when
    served from the journal).
    """

    trial: Trial
    score: float
    status: Status = "ok"
    scores: Mapping[str, float] = field(default_factory=dict)
    fit_cpu_s: float = 0.0
    from_journal: bool = False


@dataclass(frozen=True)
class SearchContext:
    """Facts about the search a strategy may need, given once through :meth:`Strategy.bind`.

    ``n_train`` is the size of the smallest training fold (the natural
    ``max_resource`` for ``resource="n_samples"``); ``n_workers`` is the number
    of worker threads of the cluster (how many trials can run at once).
    """

    n_splits: int
    n_train: int
    n_workers: int
    random_state: int | np.random.RandomState | None = None


class Strategy(abc.ABC):
    """Base class of search strategies; see the module docstring for the protocol.

    Subclasses implement :meth:`ask`, :meth:`tell` and :meth:`is_finished`;
    the other methods have working defaults. Constructors of strategies that
    ``resolve_strategy`` builds by name take ``(space, *, n_candidates=None,
    random_state=None, **options)``.
    """

    #: what ``Trial.resource`` means: None, "n_samples" or an estimator parameter name
    resource: str | None = None

    def bind(self, context: SearchContext) -> None:
        """Receive the search context once, before the first ``ask``."""
        self.context = context

    def replay(self, results: Sequence[TrialResult]) -> None:  # noqa: B027 - optional hook
        """Rebuild state from trials already complete in the journal (resume only)."""

    @abc.abstractmethod
    def ask(self, n: int) -> list[Trial]:
        """Return up to ``n`` new trials (or all remaining ones); ``[]`` to wait for results."""

    @abc.abstractmethod
    def tell(self, result: TrialResult) -> None:
        """Receive the result of a trial returned by an earlier ``ask``."""

    @abc.abstractmethod
    def is_finished(self) -> bool:
        """True when the strategy will ask for nothing more."""

    def may_continue(self, trial: Trial) -> bool:
        """True while a later trial of the same params may continue ``trial``'s fits.

        The runner keeps the fitted estimators of a finished trial (warm start along a
        parameter resource) only while this is true, and asks again after every
        ``tell``; halving answers for a candidate that may still be promoted.
        Default: never.
        """
        return False

    def n_trials_hint(self) -> int | None:
        """Total number of trials expected (for progress bars); None if unknown."""
        return None

    def row_key(self, trial: Trial) -> Any:
        """Sort key of ``trial``'s ``cv_results_`` row; default: ask order (``trial.id``).

        A strategy whose ask order depends on when results arrive (halving's promotions)
        orders its rows by what they are instead, so a resumed search's rows come in the
        same order as a fresh one's.
        """
        return trial.id

    def best_mask(self, cv_results: Mapping[str, Any]) -> np.ndarray | None:
        """Boolean mask of ``cv_results_`` rows eligible as best; None means every row."""
        return None

"""The search engine: DaskSearchCV, strategies, the journal.

``DaskSearchCV`` is the entry point; :mod:`daskcloud.search.strategies` holds the
ask/tell strategies and :class:`Journal` the append-only record of every fit.
"""

from __future__ import annotations

from daskcloud.search._budget import Budget
from daskcloud.search._search import DaskSearchCV
from daskcloud.search.journal import FitRecord, Journal, TaskRecord, open_journal
from daskcloud.search.strategies import (
    GridStrategy,
    Halving,
    OptunaStrategy,
    RandomStrategy,
    SearchContext,
    Strategy,
    Trial,
    TrialResult,
    resolve_strategy,
)

__all__ = [
    "Budget",
    "DaskSearchCV",
    "FitRecord",
    "GridStrategy",
    "Halving",
    "Journal",
    "OptunaStrategy",
    "RandomStrategy",
    "SearchContext",
    "Strategy",
    "TaskRecord",
    "Trial",
    "TrialResult",
    "open_journal",
    "resolve_strategy",
]

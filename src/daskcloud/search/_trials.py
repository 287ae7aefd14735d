"""The trials of one run: its configuration, their journal keys, the fold records, the outcome.

:class:`RunConfig` is what the runner knows of the search besides the strategy,
:class:`RunStats` its live counters and :class:`RunOutcome` what it returns.
:class:`TrialBook` is the runner's ledger. :meth:`~TrialBook.open` turns a trial the
strategy asked into its journal keys, takes every fold already in the journal and
returns the folds left to fit; :meth:`~TrialBook.record` files a finished fold;
:meth:`~TrialBook.result` sums a complete trial up as the :class:`TrialResult` the
strategy is told. :func:`replay` rebuilds the results of a resumed search from the
journal. Nothing here touches Dask.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from daskcloud.exceptions import SearchError
from daskcloud.search import _keys
from daskcloud.search._continue import Mode
from daskcloud.search._protocol import UnitResult
from daskcloud.search.journal import FitRecord, Journal
from daskcloud.search.strategies import Trial, TrialResult

__all__ = [
    "RunConfig",
    "RunOutcome",
    "RunStats",
    "TrialBook",
    "TrialState",
    "replay",
    "summarize",
]


@dataclass(frozen=True)
class RunConfig:
    """What the runner needs to know about the search besides the strategy."""

    search: str
    fold_tokens: list[str]
    step_names: list[str] | None
    resource_name: str | None
    error_score: Any
    n_threads: int
    primary_metric: str | None
    target_task_s: float = 0.1
    max_batch: int = 512
    max_retries: int = 3
    #: how fits continue along ``resource_name`` (:func:`._continue.continuation_mode`)
    continuation: Mode | None = None
    #: seconds a fit may run before it is given up (:mod:`._deadline`); tasks hold one fit
    fit_timeout: float | None = None

    @property
    def n_splits(self) -> int:
        return len(self.fold_tokens)


@dataclass
class RunStats:
    """Live counters; the stop condition and the progress display read them."""

    started: float = field(default_factory=time.monotonic)  # a wall-clock jump is no time
    n_fits: int = 0
    n_fits_skipped: int = 0
    n_fits_failed: int = 0
    n_fits_continued: int = 0  # warm-started from the previous rung's fit
    n_prefix_fits: int = 0
    n_tasks: int = 0
    n_retries: int = 0
    n_trials_done: int = 0
    fit_cpu_s: float = 0.0
    best_score: float = -math.inf

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


@dataclass
class RunOutcome:
    """Finished trials (with every fold's record), in trial-id order, and the stats."""

    trials: list[tuple[Trial, list[FitRecord]]]
    stats: RunStats
    stop_reason: str | None


@dataclass
class TrialState:
    """One trial asked by the strategy and the records of its folds so far."""

    trial: Trial
    keys: list[str]  # the journal key of each fold
    records: dict[int, FitRecord] = field(default_factory=dict)
    cpu_s: float = 0.0
    from_journal: bool = True  # every fold was found in the journal
    models: dict[int, Any] = field(default_factory=dict)  # fold -> fitted-estimator future

    def folds(self) -> list[FitRecord]:
        return [self.records[f] for f in range(len(self.keys))]


class TrialBook:
    """Every trial of a run by id (see the module docstring)."""

    def __init__(
        self, journal: Journal, search: str, fold_tokens: Sequence[str], *,
        error_score: Any, primary_metric: str | None,
    ) -> None:  # fmt: skip
        self.journal, self.search, self.fold_tokens = journal, search, list(fold_tokens)
        self.error_score, self.primary_metric = error_score, primary_metric
        self.trials: dict[int, TrialState] = {}
        # finished folds filed in this run, by key: a key asked again is served from here
        # (its row may still be on its way to the journal)
        self._filed: dict[str, FitRecord] = {}
        # a search with no row in the journal yet finds nothing there: no query per trial
        self._journal_empty = journal.count(search) == 0

    def open(self, trial: Trial) -> tuple[TrialState, list[int]]:
        """Register ``trial``; fill in its journaled folds; return it and the folds to fit."""
        if trial.id in self.trials:
            raise SearchError(f"the strategy asked trial id {trial.id} twice; ids must be unique")
        keys = [_keys.unit_key(self.search, trial.params, token, trial.resource)
                for token in self.fold_tokens]  # fmt: skip
        state = self.trials[trial.id] = TrialState(trial, keys)
        found = {} if self._journal_empty else self.journal.lookup(keys)
        missing = []
        for fold, key in enumerate(keys):
            record = self._filed.get(key) or found.get(key)
            if record is None:
                missing.append(fold)
                continue
            if record.status == "error" and self.error_score == "raise":
                raise SearchError(
                    f"the journal holds a failed fit of candidate {dict(trial.params)} on fold "
                    f"{fold}: {record.error}(error_score='raise'; resume with "
                    "error_score=np.nan to score it NaN, or use a fresh journal)"
                )
            state.records[fold] = record
        state.from_journal = not missing
        return state, missing

    def fit_record(self, key: str, res: UnitResult) -> FitRecord:
        """The journal row of one unit's result (``key``: its journal key)."""
        trial = self.trials[res.id[0]].trial
        return FitRecord(
            key=key, search=self.search, params=trial.params, fold=res.id[1], status=res.status,
            test_scores=res.test_scores, train_scores=res.train_scores, trial=trial.id,
            resource=trial.resource, fit_time=res.fit_time, score_time=res.score_time,
            fit_cpu_s=res.fit_cpu_s, start=res.start, end=res.end, worker=res.worker,
            error=res.error, n_test_samples=res.n_test_samples,
        )  # fmt: skip

    def cancelled(self, keys: Mapping[tuple[int, int], str]) -> list[FitRecord]:
        """Journal rows of the folds a stop cancelled (``keys``: their journal keys by unit)."""
        now = time.time()
        return [
            FitRecord(key=key, search=self.search, params=self.trials[tid].trial.params,
                      fold=fold, status="cancelled", trial=tid,
                      resource=self.trials[tid].trial.resource, end=now)
            for (tid, fold), key in keys.items()
        ]  # fmt: skip

    def record(self, record: FitRecord) -> TrialState:
        """File a finished fold; return its trial."""
        state = self.trials[record.trial]
        state.records[record.fold] = record
        state.cpu_s += record.fit_cpu_s
        self._filed[record.key] = record
        return state

    def result(self, state: TrialState) -> TrialResult:
        """The complete trial summed up for the strategy."""
        return summarize(state.trial, state.folds(), self.primary_metric, self.error_score,
                         cpu_s=state.cpu_s, from_journal=state.from_journal)  # fmt: skip

    def finished(self) -> list[tuple[Trial, list[FitRecord]]]:
        """Complete trials none of whose folds was cancelled, in trial-id order."""
        n = len(self.fold_tokens)
        return [
            (s.trial, s.folds())
            for _, s in sorted(self.trials.items())
            if len(s.records) == n and all(r.status != "cancelled" for r in s.records.values())
        ]


def summarize(
    trial: Trial, folds: Sequence[FitRecord], primary_metric: str | None, error_score: Any,
    *, cpu_s: float = 0.0, from_journal: bool = False,
) -> TrialResult:  # fmt: skip
    """Mean test score of each metric over the folds; the primary one is the trial's score."""
    error = math.nan if error_score == "raise" else float(error_score)
    per_metric: dict[str, list[float]] = defaultdict(list)
    status = "ok"
    for r in folds:
        if r.status != "ok":
            status = r.status
        scores = r.test_scores
        if not isinstance(scores, Mapping):
            scores = {"score": error if scores is None else scores}
        for name, value in scores.items():
            per_metric[name].append(error if value is None else float(value))
    means = {name: float(sum(v) / len(v)) for name, v in per_metric.items()}
    if status == "error" and not means:
        score = error
    else:
        score = means.get(primary_metric or "score", next(iter(means.values()), error))
    return TrialResult(trial=trial, score=score, status=status, scores=means,
                       fit_cpu_s=cpu_s, from_journal=from_journal)  # fmt: skip


def replay(
    journal: Journal, search: str, n_splits: int, primary_metric: str | None, error_score: Any
) -> list[TrialResult]:
    """Every trial complete in the journal for ``search``, in journal order (resume)."""
    by_trial: dict[tuple[str, int | None], dict[int, FitRecord]] = defaultdict(dict)
    for r in journal.read(search):  # same search key: same folds
        if 0 <= r.fold < n_splits:
            by_trial[(_keys.candidate_key(r.params), r.resource)][r.fold] = r
    results = []
    for folds in by_trial.values():
        if len(folds) == n_splits:
            first = next(iter(folds.values()))
            trial = Trial(id=-1, params=first.params, resource=first.resource)
            results.append(summarize(trial, list(folds.values()), primary_metric, error_score,
                                     from_journal=True))  # fmt: skip
    return results

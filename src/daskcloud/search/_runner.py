"""Run a strategy's trials on Dask: the loop ask -> submit -> handle -> tell.

The runner owns execution; the strategy only asks and tells (see
:mod:`daskcloud.search.strategies._base`). One loop, in the driver:

1. **ask** the strategy for trials whenever fewer than ``2 x threads`` fits are
   outstanding; the :class:`~._trials.TrialBook` serves folds already in the
   journal, the rest become :class:`~._protocol.Unit` s, attached to shared
   pipeline prefixes by the :class:`~._prefix.PrefixCache` and queued by the
   :class:`~._dispatch.Dispatcher`;
2. **submit** (the dispatcher) ``2 x threads`` tasks at most, in one message to the
   scheduler: each task is a batch of units on one prefix, sized to run about
   ``target_task_s`` (measured from the first results);
3. **handle** every finished task the one completion source
   (:class:`~._completions.Completions`) holds: hand its
   :class:`~._protocol.BatchResult` to the :class:`~._writer.JournalWriter` (its
   thread commits what is queued in one transaction), release prefixes no queued or
   running unit needs, retry a task the cluster lost (``max_retries``);
4. **tell** the strategy when a trial's last fold is in; with warm start, hand its
   fitted estimators to the :class:`~._warm.WarmStartPool`.

A :class:`~._budget.StopCondition` is checked between results (under one, results are
handled one at a time); it stops the search by cancelling what is queued or running
(journaled as ``cancelled``). :class:`~._trials.RunConfig`, :class:`~._trials.RunStats`
and :class:`~._trials.RunOutcome` are the runner's input, counters and output.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from typing import Any

from daskcloud.exceptions import ClusterError, SearchError
from daskcloud.search import _failures
from daskcloud.search._budget import StopCondition
from daskcloud.search._completions import Completions, is_infrastructure
from daskcloud.search._deadline import Deadlines
from daskcloud.search._dispatch import Dispatcher, Task
from daskcloud.search._protocol import BatchResult, Unit, UnitResult
from daskcloud.search._trials import (
    RunConfig,
    RunOutcome,
    RunStats,
    TrialBook,
    TrialState,
    replay,
)
from daskcloud.search._warm import WarmStartPool
from daskcloud.search._writer import JournalWriter
from daskcloud.search.journal import FitRecord, Journal, TaskRecord
from daskcloud.search.strategies import SearchContext, Strategy, Trial, TrialResult

__all__ = ["Runner"]


class Runner:
    """Drive one search on a Dask client; see the module docstring."""

    def __init__(
        self,
        client: Any,
        data: Any,
        journal: Journal,
        strategy: Strategy,
        config: RunConfig,
        *,
        context: SearchContext,
        progress: Any = None,
        stop: StopCondition | None = None,
        rescatter: Any = None,
    ) -> None:
        self.client, self.journal = client, journal
        self.strategy, self.config, self.context = strategy, config, context
        self.progress, self.stop, self.rescatter = progress, stop, rescatter
        self.stats = RunStats()
        self.trials = TrialBook(journal, config.search, config.fold_tokens,
                                error_score=config.error_score,
                                primary_metric=config.primary_metric)  # fmt: skip
        self.warm = (
            WarmStartPool(config.continuation, config.resource_name)
            if config.continuation is not None and config.resource_name is not None
            else None
        )
        self.completions: Completions | None = None  # made in run(): it needs the loop
        self.deadlines: Deadlines | None = None  # made in run() with fit_timeout
        self.writer = JournalWriter(journal)
        self.dispatch = Dispatcher(client, data, config, self.stats,
                                   watch=lambda futures: self.completions.update(futures),
                                   keep_models=self.warm is not None,
                                   budgeted=stop is not None)  # fmt: skip
        self._ready: deque[tuple[Any, Any]] = deque()  # finished, not handled yet
        self._stalled = False

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        """Run until the strategy is finished or the stop condition says stop."""
        self.strategy.bind(self.context)
        results = replay(self.journal, self.config.search, self.config.n_splits,
                         self.config.primary_metric, self.config.error_score)  # fmt: skip
        if results:
            self.strategy.replay(results)
        self.completions = Completions(self.client)
        if self.config.fit_timeout is not None:
            self.deadlines = Deadlines(self.client, self.config.fit_timeout)
            self.dispatch.deadlines = self.deadlines
        ended = False
        try:
            reason = self._loop()
            self.writer.close()  # every handled fit is in the journal when run() returns
            ended = True
        except BaseException:
            self._cancel_all(journal=False)
            with contextlib.suppress(Exception):  # the first error is the one to raise
                self.writer.close()
            raise
        finally:
            self._drop_futures()
            self.dispatch.data = None
            if self.deadlines is not None:
                self.deadlines.close(wait=ended)
        return RunOutcome(self.trials.finished(), self.stats, reason)

    def _loop(self) -> str | None:
        while True:
            self._check_scheduler()
            reason = self.stop(self.stats) if self.stop is not None else None
            if reason:
                self._cancel_all()
                return reason
            self._ask()
            self.dispatch.submit_ready()
            if not self.dispatch.tasks:
                if not self.dispatch.queue and (self.strategy.is_finished() or self._stalled):
                    return None
                continue
            if not self._ready:
                self._ready.extend(self.completions.wait(self._wait_s()))
            # under a budget, one result at a time: the stop condition sees every one
            for _ in range(len(self._ready) if self.stop is None else min(1, len(self._ready))):
                self._handle(*self._ready.popleft())
            if self.deadlines is not None:
                self._give_up_late()

    def _wait_s(self) -> float:
        """How long to wait for a result: at most 1 s, less when a deadline is nearer."""
        left = self.stop.seconds_left(self.stats) if self.stop is not None else None
        return 1.0 if left is None else min(1.0, max(left, 0.0))

    # -- ask -----------------------------------------------------------------------------------

    def _ask(self) -> None:
        if self.strategy.is_finished():
            return
        target, outstanding = 2 * self.config.n_threads, len(self.dispatch.pending)
        if outstanding >= target:
            return
        trials = self.strategy.ask(max(1, math.ceil((target - outstanding) / self.config.n_splits)))
        self._stalled = not trials and not self.dispatch.pending
        units, keys, held = [], [], []
        for trial in trials:  # one plan for all: fits sharing a prefix are queued together
            for unit, key, previous in self._open(trial):
                units.append(unit)
                keys.append(key)
                held.append(previous)
        self.dispatch.enqueue(units, keys, held)

    def _open(self, trial: Trial) -> list[tuple[Unit, str, Any]]:
        """``(unit, journal key, held fit)`` of each fold of a new trial the journal lacks."""
        cfg = self.config
        state, missing = self.trials.open(trial)
        if state.records:
            self.stats.n_fits_skipped += len(state.records)
            self._progress()
        if not missing:
            self._finish(state)
            return []
        params, n_samples = dict(trial.params), None
        if trial.resource is not None and cfg.resource_name == "n_samples":
            n_samples = int(trial.resource)
        elif trial.resource is not None and cfg.resource_name:
            params[cfg.resource_name] = trial.resource
        resume, held = self.warm.take(trial) if self.warm is not None else (None, {})
        return [
            (Unit((trial.id, f), f, params, n_samples, resume if f in held else None),
             state.keys[f], held.get(f))
            for f in missing
        ]  # fmt: skip

    # -- handle --------------------------------------------------------------------------------

    def _handle(self, future: Any, outcome: BatchResult | BaseException) -> None:
        task = self.dispatch.tasks.pop(future)
        if self.deadlines is not None:
            self.deadlines.forget(future)
        if isinstance(outcome, BatchResult):
            self._record(task, outcome)
        elif is_infrastructure(outcome) and task.retries < self.config.max_retries:
            self._check_scheduler()  # tasks cancelled because the scheduler went away
            self.dispatch.retry(task, self.rescatter)
        elif self.config.error_score == "raise":
            unit = self.dispatch.pending[task.units[0]].unit
            raise SearchError(
                f"a fit of candidate {dict(unit.params)} on fold {unit.fold} failed with "
                f"{type(outcome).__name__}: {outcome} (error_score='raise'; set "
                "error_score=np.nan to score failing candidates as NaN and go on)"
            ) from outcome
        else:
            text = f"{type(outcome).__name__}: {outcome}"
            self._record(task, BatchResult([UnitResult.failed(uid, text) for uid in task.units]))

    def _give_up_late(self) -> None:
        """Record fits past ``fit_timeout`` as failed; restart the workers running them."""
        assert self.deadlines is not None and self.completions is not None
        finished = {f for f, _ in self._ready}  # done in time: handled as they are
        late = [
            (f, w)
            for f, w in self.deadlines.expired()
            if f in self.dispatch.tasks and f not in finished
        ]
        if not late:
            return
        with contextlib.suppress(Exception):
            self.client.cancel([f for f, _ in late])
        for future, _ in late:
            self.completions.discard(future)
            self._handle(future, self.deadlines.error())
        self.deadlines.free([w for _, w in late])

    def _check_scheduler(self) -> None:
        """Raise ClusterError when the client lost its scheduler and does not get it back."""
        if str(self.client.status) != "running" and _failures.scheduler_gone(self.client):
            raise ClusterError("the client lost its scheduler")  # DaskSearchCV says more

    def _record(self, task: Task, out: BatchResult) -> None:
        """Journal a finished task in one transaction; file its folds; tell finished trials."""
        cfg = self.config
        records: list[FitRecord | TaskRecord] = []
        for link in self.dispatch.prefixes.first_seen(out.prefix_chain):
            self.stats.fit_cpu_s += link.cpu_s
            records.append(TaskRecord(cfg.search, "prefix", link.key, 1, link.start, link.end,
                                      link.worker, link.cpu_s))  # fmt: skip
        fits = []
        for res in out.units:
            p = self.dispatch.pending.pop(res.id)
            fits.append((self.trials.fit_record(p.key, res), p, res))
        records.extend(rec for rec, _, _ in fits)
        if out.start is not None:
            records.append(TaskRecord(cfg.search, "batch", str(task.units[0]), len(task.units),
                                      out.start, out.end, out.worker))  # fmt: skip
        self.dispatch.observe(out)
        self.writer.put(records)
        for rec, p, res in fits:
            self.stats.n_fits += 1
            self.stats.n_fits_failed += rec.status == "error"
            self.stats.n_fits_continued += res.continued
            self.stats.fit_cpu_s += rec.fit_cpu_s
            state = self.trials.record(rec)
            if p.model is not None and rec.status == "ok":
                state.models[rec.fold] = p.model
            self.dispatch.prefixes.release(p.chain)
            self._progress()
            if len(state.records) == cfg.n_splits:
                self._finish(state)

    # -- tell ----------------------------------------------------------------------------------

    def _finish(self, state: TrialState) -> None:
        result = self.trials.result(state)
        self.stats.n_trials_done += 1
        if result.status == "ok" and result.score == result.score:
            self.stats.best_score = max(self.stats.best_score, result.score)
        self.strategy.tell(result)
        if self.warm is not None:
            self.warm.hold(state.trial, state.models, self.strategy.may_continue)
        state.models = {}
        self._progress()

    def _progress(self) -> None:
        if self.progress is not None:
            self.progress.update(self.stats)

    # -- stop ----------------------------------------------------------------------------------

    def _cancel_all(self, journal: bool = True) -> None:
        """Cancel queued and running fits; journal them as cancelled (a budget stopped them)."""
        self.dispatch.cancel()
        pending = self.dispatch.pending
        if journal and pending:
            self.writer.put(self.trials.cancelled({uid: p.key for uid, p in pending.items()}))
            for trial_id in sorted({uid[0] for uid in pending}):
                trial = self.trials.trials[trial_id].trial
                self.strategy.tell(TrialResult(trial, math.nan, "cancelled"))
        self._ready.clear()
        self.dispatch.clear()
        self._drop_futures()

    def _drop_futures(self) -> None:
        """Forget every future now (not at garbage collection): frees the workers' memory."""
        if self.completions is not None:
            self.completions.clear()
        self.dispatch.drop_futures()
        if self.warm is not None:
            self.warm.clear()

"""Run a strategy's trials on Dask: the loop ask -> submit -> handle -> tell.

The runner owns execution; the strategy only asks and tells (see
:mod:`daskcloud.search.strategies._base`). One loop, in the driver:

1. **ask** the strategy for trials whenever fewer than ``2 x threads`` fits are
   outstanding; the :class:`~._trials.TrialBook` serves folds already in the
   journal, the rest become :class:`~._protocol.Unit` s, attached to shared
   pipeline prefixes by the :class:`~._prefix.PrefixCache` and queued;
2. **submit** ``2 x threads`` tasks at most, in one message to the scheduler: each
   task is a batch of units on one prefix, sized to run about ``target_task_s``
   (measured from the first results);
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
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from daskcloud.exceptions import ClusterError, SearchError
from daskcloud.search import _failures
from daskcloud.search._budget import StopCondition
from daskcloud.search._completions import Completions, is_infrastructure
from daskcloud.search._deadline import Deadlines
from daskcloud.search._fit import fit_prefix, model_at, run_units, without_models
from daskcloud.search._prefix import PrefixCache
from daskcloud.search._protocol import BatchResult, Unit, UnitId, UnitResult
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


@dataclass
class _Pending:
    """A unit queued or running: its journal key, its prefix chain and warm-start futures."""

    unit: Unit
    key: str
    chain: list[str]
    previous: Any = None  # future of the held fit it continues
    model: Any = None  # future of its fitted estimator (warm start)


@dataclass
class _Task:
    """A batch of units submitted as one Dask task."""

    units: list[UnitId]
    prefix: str | None
    retries: int = 0
    submitted: float = field(default_factory=time.monotonic)


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
        self.client, self.data, self.journal = client, data, journal
        self.strategy, self.config, self.context = strategy, config, context
        self.progress, self.stop, self.rescatter = progress, stop, rescatter
        self.stats = RunStats()
        self.trials = TrialBook(journal, config.search, config.fold_tokens,
                                error_score=config.error_score,
                                primary_metric=config.primary_metric)  # fmt: skip
        self.prefixes = PrefixCache(config.step_names, self._submit_prefix)
        self.warm = (
            WarmStartPool(config.continuation, config.resource_name)
            if config.continuation is not None and config.resource_name is not None
            else None
        )
        self.completions: Completions | None = None  # made in run(): it needs the loop
        self.deadlines: Deadlines | None = None  # made in run() with fit_timeout
        self.writer = JournalWriter(journal)
        self._pending: dict[UnitId, _Pending] = {}
        self._queue: deque[UnitId] = deque()
        self._tasks: dict[Any, _Task] = {}  # future -> task
        self._ready: deque[tuple[Any, Any]] = deque()  # finished, not handled yet
        self._fitting_key: dict[Any, str] = {}  # warm start: future -> key of its fitting task
        self._unit_s: float | None = None  # seconds per unit, smoothed
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
            self.data = None
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
            self._submit_ready()
            if not self._tasks:
                if not self._queue and (self.strategy.is_finished() or self._stalled):
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
        target = 2 * self.config.n_threads
        outstanding = len(self._pending)
        if outstanding >= target:
            return
        trials = self.strategy.ask(max(1, math.ceil((target - outstanding) / self.config.n_splits)))
        self._stalled = not trials and not self._pending
        units = [unit for trial in trials for unit in self._open(trial)]
        chains = self.prefixes.plan(units)
        for unit in units:
            self._pending[unit.id].chain = chains[unit.id]
        if self.stop is not None:
            # Under a budget, run candidates one after another (all their folds), so a stop
            # leaves complete candidates rather than every candidate's first fold.
            self._queue.extend(u.id for u in units)
            return
        groups: dict[str | None, list[UnitId]] = {}
        for unit in units:  # fits sharing a prefix run close together
            groups.setdefault(self._prefix_of(unit.id), []).append(unit.id)
        for ids in groups.values():
            self._queue.extend(ids)

    def _open(self, trial: Trial) -> list[Unit]:
        """The units of a new trial not served by the journal."""
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
        units = []
        for fold in missing:
            unit = Unit((trial.id, fold), fold, params, n_samples,
                        resume if fold in held else None)  # fmt: skip
            self._pending[unit.id] = _Pending(unit, state.keys[fold], [], held.get(fold))
            units.append(unit)
        return units

    # -- submit --------------------------------------------------------------------------------

    def _submit_ready(self) -> None:
        window, tasks = 2 * self.config.n_threads, []
        while self._queue and len(self._tasks) + len(tasks) < window:
            first = self._queue.popleft()
            prefix = self._prefix_of(first)
            batch, size = [first], self._batch_size()
            while (
                self._queue
                and len(batch) < size
                and self._prefix_of(self._queue[0]) == prefix
                # under a budget a task holds one trial's fits, so trials finish one at a
                # time and a stop after N trials keeps exactly N
                and (self.stop is None or self._queue[0][0] == first[0])
            ):
                batch.append(self._queue.popleft())
            tasks.append(_Task(batch, prefix))
        if tasks:
            self._submit(tasks)

    def _prefix_of(self, uid: UnitId) -> str | None:
        chain = self._pending[uid].chain
        return chain[0] if chain else None

    def _batch_size(self) -> int:
        if self._unit_s is None or self.config.fit_timeout is not None:
            return 1
        size = max(1, int(self.config.target_task_s / max(self._unit_s, 1e-6)))
        spread = math.ceil(len(self._queue) / max(1, self.config.n_threads))
        return max(1, min(size, spread, self.config.max_batch))

    def _submit_prefix(self, node: Any, parent: Any) -> Any:
        self.stats.n_prefix_fits += 1
        return self.client.submit(fit_prefix, self.data, parent, node, pure=False)

    def _submit(self, tasks: list[_Task]) -> None:
        """Submit tasks in one message to the scheduler (in order: they run in this order)."""
        parents = [None if t.prefix is None else self.prefixes.future(t.prefix) for t in tasks]
        units = [[self._pending[uid].unit for uid in t.units] for t in tasks]
        if self.warm is None:
            futures = self.client.map(run_units, [self.data] * len(tasks), parents, units,
                                      pure=False)  # fmt: skip
        else:
            futures = [
                self._submit_keeping(t, p, u) for t, p, u in zip(tasks, parents, units, strict=True)
            ]
        if self.deadlines is not None:
            for future in futures:
                self.deadlines.watch(self._fitting_key.pop(future, future.key), future)
        self._tasks.update(zip(futures, tasks, strict=True))
        self.completions.update(futures)
        self.stats.n_tasks += len(tasks)

    def _submit_keeping(self, task: _Task, parent: Any, units: list[Unit]) -> Any:
        """Submit a task whose fitted estimators stay on the worker (warm start)."""
        # one small future each for the next rung; the driver gathers only the scores
        pending = [self._pending[uid] for uid in task.units]
        previous = [p.previous for p in pending]
        out = self.client.submit(run_units, self.data, parent, units, previous, True,
                                 pure=False)  # fmt: skip
        for i, p in enumerate(pending):
            p.model = self.client.submit(model_at, out, i, pure=False)
        future = self.client.submit(without_models, out, pure=False)
        if self.deadlines is not None:
            self._fitting_key[future] = out.key  # the task a fit_timeout watches
        return future

    # -- handle --------------------------------------------------------------------------------

    def _handle(self, future: Any, outcome: BatchResult | BaseException) -> None:
        task = self._tasks.pop(future)
        if self.deadlines is not None:
            self.deadlines.forget(future)
        if isinstance(outcome, BatchResult):
            self._record(task, outcome)
        elif is_infrastructure(outcome) and task.retries < self.config.max_retries:
            self._retry(task)
        elif self.config.error_score == "raise":
            unit = self._pending[task.units[0]].unit
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
            (f, w) for f, w in self.deadlines.expired() if f in self._tasks and f not in finished
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

    def _retry(self, task: _Task) -> None:
        """Run a task the cluster lost again, refitting from scratch what it continued."""
        self._check_scheduler()  # tasks cancelled because the scheduler went away
        self.stats.n_retries += 1
        for uid in task.units:  # a continued estimator may be what was lost
            p = self._pending[uid]
            p.unit, p.previous, p.model = replace(p.unit, resume=None), None, None
        if self.rescatter is not None and self.data.status != "finished":
            # every worker holding the scattered data died: its dependents were
            # cancelled; scatter again and rebuild prefixes from the new copy
            self.data = self.rescatter()
            self.prefixes.drop_futures()
        self._submit([_Task(task.units, task.prefix, task.retries + 1)])

    def _record(self, task: _Task, out: BatchResult) -> None:
        """Journal a finished task in one transaction; file its folds; tell finished trials."""
        cfg = self.config
        records: list[FitRecord | TaskRecord] = []
        for link in self.prefixes.first_seen(out.prefix_chain):
            self.stats.fit_cpu_s += link.cpu_s
            records.append(TaskRecord(cfg.search, "prefix", link.key, 1, link.start, link.end,
                                      link.worker, link.cpu_s))  # fmt: skip
        fits = []
        for res in out.units:
            p = self._pending.pop(res.id)
            trial = self.trials.trials[res.id[0]].trial
            fits.append((_fit_record(cfg.search, p.key, trial, p.unit.fold, res), p, res))
        records.extend(rec for rec, _, _ in fits)
        if out.start is not None:
            records.append(TaskRecord(cfg.search, "batch", str(task.units[0]), len(task.units),
                                      out.start, out.end, out.worker))  # fmt: skip
            per_unit = (out.end - out.start) / max(1, len(out.units))
            self._unit_s = per_unit if self._unit_s is None else 0.7 * self._unit_s + 0.3 * per_unit
        self.writer.put(records)
        for rec, p, res in fits:
            self.stats.n_fits += 1
            self.stats.n_fits_failed += rec.status == "error"
            self.stats.n_fits_continued += res.continued
            self.stats.fit_cpu_s += rec.fit_cpu_s
            state = self.trials.record(rec)
            if p.model is not None and rec.status == "ok":
                state.models[rec.fold] = p.model
            self.prefixes.release(p.chain)
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
        futures = [*self._tasks, *self.prefixes.futures()]
        if futures:
            # a closed client or a lost scheduler: nothing is left to cancel
            with contextlib.suppress(Exception):
                self.client.cancel(futures)
        if journal and self._pending:
            now, records = time.time(), []
            for uid, p in self._pending.items():
                trial = self.trials.trials[uid[0]].trial
                records.append(FitRecord(key=p.key, search=self.config.search,
                                         params=trial.params, fold=p.unit.fold,
                                         status="cancelled", trial=trial.id,
                                         resource=trial.resource, end=now))  # fmt: skip
            self.writer.put(records)
            for trial_id in sorted({uid[0] for uid in self._pending}):
                trial = self.trials.trials[trial_id].trial
                self.strategy.tell(TrialResult(trial, math.nan, "cancelled"))
        self._queue.clear()
        self._ready.clear()
        self._pending.clear()
        self._tasks.clear()
        self._drop_futures()

    def _drop_futures(self) -> None:
        """Forget every future now (not at garbage collection): frees the workers' memory."""
        if self.completions is not None:
            self.completions.clear()
        self.prefixes.drop_futures()
        if self.warm is not None:
            self.warm.clear()
        for p in self._pending.values():
            p.previous = p.model = None


def _fit_record(search: str, key: str, trial: Trial, fold: int, res: UnitResult) -> FitRecord:
    """The journal row of one unit's result."""
    return FitRecord(
        key=key, search=search, params=trial.params, fold=fold, status=res.status,
        test_scores=res.test_scores, train_scores=res.train_scores, trial=trial.id,
        resource=trial.resource, fit_time=res.fit_time, score_time=res.score_time,
        fit_cpu_s=res.fit_cpu_s, start=res.start, end=res.end, worker=res.worker,
        error=res.error, n_test_samples=res.n_test_samples,
    )  # fmt: skip

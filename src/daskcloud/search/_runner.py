"""Run a strategy's trials on Dask: streaming submission, prefix sharing, batching, journal.

The runner owns execution; the strategy only asks and tells (see
:mod:`daskcloud.search.strategies._base`). One loop, in the driver:

1. ask the strategy for trials whenever fewer than ``2 x threads`` fits are
   outstanding; serve folds already in the journal without fitting them;
2. plan shared pipeline prefixes for the new fits (:mod:`._prefix`) and queue
   them grouped by prefix;
3. keep ``2 x threads`` tasks in flight: each task is a batch of fits sized so
   it runs about ``target_task_s`` (measured from the first results), with its
   prefix-fit future as a dependency;
4. consume results with ``as_completed``: journal them (one transaction per
   task), tell the strategy when a trial's last fold is in, release a prefix
   future when no queued or running fit needs it, submit the next batch.

Lost workers are Dask's business (their tasks rerun elsewhere); a batch that
still fails for infrastructure reasons is resubmitted up to ``max_retries``
times. A ``stop`` callback (budgets) is checked after every result.

With a parameter resource that the final estimator can continue
(:mod:`._continue`), each fit's fitted estimator stays on its worker as a future
held by the runner, and the same candidate's fit at the next rung continues it
(warm start) instead of refitting. A finished trial's estimators are held while
``strategy.may_continue(trial)`` says so and dropped at the first ``tell`` after
which it does not (halving: the candidate can no longer be promoted), so the
workers hold at most one rung's estimators per candidate still alive. Whatever
is not held (a resumed search's journaled trials, a fit retried after a lost
worker) is refitted.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import CancelledError
from dataclasses import dataclass, field, replace
from typing import Any

from daskcloud.exceptions import SearchError
from daskcloud.search import _keys
from daskcloud.search._continue import Mode, Resume
from daskcloud.search._fit import UnitSpec, fit_prefix, model_at, run_units, without_models
from daskcloud.search._prefix import Unit, plan_prefixes
from daskcloud.search.journal import FitRecord, Journal, TaskRecord
from daskcloud.search.strategies import SearchContext, Strategy, Trial, TrialResult

__all__ = ["RunConfig", "RunOutcome", "RunStats", "Runner"]


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

    @property
    def n_splits(self) -> int:
        return len(self.fold_tokens)


@dataclass
class RunStats:
    """Live counters; the ``stop`` callback and the progress display read them."""

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
class _TrialState:
    trial: Trial
    records: dict[int, FitRecord] = field(default_factory=dict)
    cpu_s: float = 0.0
    all_from_journal: bool = True
    models: dict[int, Any] = field(default_factory=dict)  # fold -> fitted-estimator future


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
        stop: Callable[[RunStats], str | None] | None = None,
        rescatter: Callable[[], Any] | None = None,
    ) -> None:
        self.client, self.data, self.journal = client, data, journal
        self.strategy, self.config, self.context = strategy, config, context
        self.progress, self.stop, self.rescatter = progress, stop, rescatter
        self.stats = RunStats()
        self._trials: dict[int, _TrialState] = {}
        self._units: dict[Hashable, tuple[UnitSpec, str, list[str]]] = {}
        self._queue: deque[Hashable] = deque()
        self._inflight: dict[Any, tuple[list[Hashable], str | None, int]] = {}
        self._nodes: dict[str, Any] = {}  # prefix key -> future
        self._node_specs: dict[str, Any] = {}
        self._node_refs: dict[str, int] = defaultdict(int)
        self._node_depth: dict[str, int] = {}
        self._recorded_nodes: set[str] = set()
        self._unit_s: float | None = None
        self._stalled = False
        self._done_since: dict[Any, float] = {}
        # warm start: params key -> (trial, fold -> future of its Fitted), per unit the
        # future it continues, and per unit in flight the future of its fitted estimator
        self._held: dict[str, tuple[Trial, dict[int, Any]]] = {}
        self._previous: dict[Hashable, Any] = {}
        self._models: dict[Hashable, Any] = {}

    # -- main loop -----------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        from distributed import as_completed

        self.strategy.bind(self.context)
        self._replay()
        # results are gathered in the background while the loop journals the previous ones
        # the loop is given so that a client that is not the default one works too
        self._ac = as_completed(loop=self.client.loop, with_results=True, raise_errors=False)
        reason = None
        try:
            while True:
                reason = self.stop(self.stats) if self.stop else None
                if reason:
                    self._cancel_all()
                    break
                self._maybe_ask()
                self._submit_ready()
                if not self._inflight:
                    if self._queue:
                        continue
                    if self.strategy.is_finished() or self._stalled:
                        break
                    continue
                item = self._next_result()
                if item is not None:
                    self._handle(*item)
        except BaseException:
            self._cancel_all(journal=False)
            raise
        finally:
            # drop every future now (not at garbage collection): frees the workers' memory
            self._ac.clear()
            self._nodes.clear()
            self._done_since.clear()
            self._held.clear()
            self._previous.clear()
            self._models.clear()
            self.data = None
        done = [
            (s.trial, [s.records[f] for f in range(self.config.n_splits)])
            for _, s in sorted(self._trials.items())
            if len(s.records) == self.config.n_splits
            and all(r.status != "cancelled" for r in s.records.values())
        ]
        return RunOutcome(trials=done, stats=self.stats, stop_reason=reason)

    def _next_result(self) -> tuple[Any, Any] | None:
        """The next finished task and its result; None when the stop check should run first.

        Waits at most a second at a time (a time budget's deadline wakes the loop), and
        delivers directly a task that is done but that ``as_completed`` failed to deliver
        (distributed can drop one in a race when a client loses its scheduler), so the
        loop never hangs.
        """
        from distributed import wait

        if self._ac.has_ready():
            return next(self._ac)
        seconds_left = getattr(self.stop, "seconds_left", None)
        left = seconds_left(self.stats) if seconds_left is not None else None
        if left is not None and left <= 0:
            return None
        timeout = 1.0 if left is None else min(1.0, max(left, 0.01))
        try:
            wait(list(self._inflight), timeout=timeout, return_when="FIRST_COMPLETED")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # timed out or cancelled: the results tell which
            pass
        if self._ac.has_ready():
            return next(self._ac)
        now = time.monotonic()
        for future in [f for f in self._inflight if f.done()]:
            since = self._done_since.setdefault(future, now)
            if now - since > 2.0:  # as_completed has had ample time: deliver it ourselves
                self._done_since.pop(future)
                try:
                    return future, future.result()
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as e:  # asyncio's CancelledError too: a failed task
                    return future, e
        return None

    def _replay(self) -> None:
        """Give the strategy every trial already complete in the journal (resume)."""
        by_trial: dict[tuple[str, int | None], dict[int, FitRecord]] = defaultdict(dict)
        for r in self.journal.read(self.config.search):  # same search key: same folds
            if 0 <= r.fold < self.config.n_splits:
                params = _params_key(r.params)
                by_trial[(params, r.resource)][r.fold] = r
        results = []
        for folds in by_trial.values():
            if len(folds) == self.config.n_splits:
                first = next(iter(folds.values()))
                trial = Trial(id=-1, params=first.params, resource=first.resource)
                results.append(self._trial_result(trial, list(folds.values()), 0.0, True))
        if results:
            self.strategy.replay(results)

    def _maybe_ask(self) -> None:
        if self.strategy.is_finished():
            return
        target = 2 * self.config.n_threads
        outstanding = len(self._queue) + sum(len(u) for u, _, _ in self._inflight.values())
        if outstanding >= target:
            return
        n = max(1, math.ceil((target - outstanding) / self.config.n_splits))
        trials = self.strategy.ask(n)
        self._stalled = not trials and not self._inflight and not self._queue
        new_units = []
        for trial in trials:
            new_units.extend(self._add_trial(trial))
        if new_units:
            self._plan(new_units)

    def _add_trial(self, trial: Trial) -> list[UnitSpec]:
        cfg = self.config
        if trial.id in self._trials:
            raise SearchError(f"the strategy asked trial id {trial.id} twice; ids must be unique")
        state = self._trials[trial.id] = _TrialState(trial)
        keys = [_keys.unit_key(cfg.search, trial.params, ft, trial.resource)
                for ft in cfg.fold_tokens]  # fmt: skip
        found = self.journal.lookup(keys)
        params = dict(trial.params)
        n_samples = None
        if trial.resource is not None and cfg.resource_name == "n_samples":
            n_samples = int(trial.resource)
        elif trial.resource is not None and cfg.resource_name:
            params[cfg.resource_name] = trial.resource
        resume, previous = self._take_held(trial)
        units = []
        for fold, key in enumerate(keys):
            if key in found and found[key].status == "error" and cfg.error_score == "raise":
                raise SearchError(
                    f"the journal holds a failed fit of candidate {dict(trial.params)} on fold "
                    f"{fold}: {found[key].error}(error_score='raise'; resume with "
                    "error_score=np.nan to score it NaN, or use a fresh journal)"
                )
            if key in found:
                state.records[fold] = found[key]
                self.stats.n_fits_skipped += 1
                self._progress()
            else:
                state.all_from_journal = False
                unit = UnitSpec(id=(trial.id, fold), fold=fold, params=params, n_samples=n_samples,
                                resume=resume if fold in previous else None)  # fmt: skip
                if fold in previous:
                    self._previous[unit.id] = previous[fold]
                self._units[unit.id] = (unit, key, [])
                units.append(unit)
        if not units:
            self._finish_trial(state)
        return units

    def _take_held(self, trial: Trial) -> tuple[Resume | None, dict[int, Any]]:
        """The held fits a trial continues (taken: the new fits will be held instead)."""
        cfg = self.config
        if cfg.continuation is None or trial.resource is None or cfg.resource_name is None:
            return None, {}
        pkey = _params_key(trial.params)
        held = self._held.get(pkey)
        if held is None or held[0].resource is None or held[0].resource >= trial.resource:
            return None, {}
        del self._held[pkey]
        resume = Resume(cfg.continuation, cfg.resource_name, int(held[0].resource),
                        int(trial.resource))  # fmt: skip
        return resume, held[1]

    def _hold(self, state: _TrialState) -> None:
        """After a ``tell``: hold this trial's fits if they may continue; drop dead ones."""
        if state.models and self.strategy.may_continue(state.trial):
            self._held[_params_key(state.trial.params)] = (state.trial, state.models)
        state.models = {}
        for pkey, (trial, _) in list(self._held.items()):
            if not self.strategy.may_continue(trial):
                del self._held[pkey]  # dropping the futures frees the workers' copies

    # -- planning and submission ---------------------------------------------------------------

    def _plan(self, units: list[UnitSpec]) -> None:
        names = self.config.step_names or []
        plan = plan_prefixes(
            [Unit(u.id, u.fold, u.params, u.n_samples) for u in units],
            names,
            live={k: self._node_depth[k] for k in self._node_specs},  # planned or running
        )
        for node in plan.nodes:
            self._node_specs[node.key] = node
            self._node_depth[node.key] = node.stop
        groups: dict[str | None, list[Hashable]] = defaultdict(list)
        for u in units:
            node = plan.attach[u.id]
            chain = []
            while node is not None:
                chain.append(node)
                self._node_refs[node] += 1
                node = self._node_specs[node].parent
            self._units[u.id][2].extend(chain)
            groups[plan.attach[u.id]].append(u.id)
        if self.stop is not None:
            # Under a budget, run candidates one after another (all their folds), so a stop
            # leaves complete candidates rather than every candidate's first fold; units come
            # trial by trial. Prefixes are still shared, same-prefix batching is rarer.
            self._queue.extend(u.id for u in units)
            return
        for ids in groups.values():  # fits sharing a prefix run close together
            self._queue.extend(ids)

    def _batch_size(self) -> int:
        if self._unit_s is None:
            return 1
        b = max(1, int(self.config.target_task_s / max(self._unit_s, 1e-6)))
        spread = math.ceil(len(self._queue) / max(1, self.config.n_threads))
        return max(1, min(b, spread, self.config.max_batch))

    def _submit_ready(self) -> None:
        window = 2 * self.config.n_threads
        while self._queue and len(self._inflight) < window:
            first = self._queue.popleft()
            node = self._attach(first)
            batch = [first]
            size = self._batch_size()
            while (
                self._queue
                and len(batch) < size
                and self._attach(self._queue[0]) == node
                # under a budget a task holds one trial's fits, so trials finish one at a
                # time and a stop after N trials keeps exactly N
                and (self.stop is None or self._queue[0][0] == first[0])
            ):
                batch.append(self._queue.popleft())
            self._submit(batch, node, retries=0)

    def _attach(self, uid: Hashable) -> str | None:
        chain = self._units[uid][2]
        return chain[0] if chain else None

    def _node_future(self, key: str) -> Any:
        if key not in self._nodes:
            spec = self._node_specs[key]
            parent = None if spec.parent is None else self._node_future(spec.parent)
            self._nodes[key] = self.client.submit(
                fit_prefix, self.data, parent, spec.start, spec.stop, spec.fold,
                dict(spec.params), spec.n_samples, key, pure=False,
            )  # fmt: skip
            self.stats.n_prefix_fits += 1
        return self._nodes[key]

    def _submit(self, batch: list[Hashable], node: str | None, retries: int) -> None:
        parent = None if node is None else self._node_future(node)
        specs = [self._units[uid][0] for uid in batch]
        if self.config.continuation is None:
            future = self.client.submit(run_units, self.data, parent, specs, pure=False)
        else:
            # the fitted estimators stay on the worker: one small future each, for the
            # next rung; the driver gathers only the scores
            previous = [self._previous.get(uid) for uid in batch]
            out = self.client.submit(run_units, self.data, parent, specs, previous, True,
                                     pure=False)  # fmt: skip
            future = self.client.submit(without_models, out, pure=False)
            for i, uid in enumerate(batch):
                self._models[uid] = self.client.submit(model_at, out, i, pure=False)
        self._inflight[future] = (batch, node, retries)
        self._ac.add(future)
        self.stats.n_tasks += 1

    # -- results -------------------------------------------------------------------------------

    def _handle(self, future: Any, result: Any) -> None:
        if future not in self._inflight:  # already delivered by the safety net
            return
        self._done_since.pop(future, None)
        batch, node, retries = self._inflight.pop(future)
        if future.status == "finished" and not isinstance(result, BaseException):
            self._record(batch, result)
            return
        exc = _exception_of(future, result)
        if _is_infrastructure(exc) and retries < self.config.max_retries:
            self.stats.n_retries += 1
            for uid in batch:  # a continued estimator may be what was lost: refit
                unit, key, chain = self._units[uid]
                self._units[uid] = (replace(unit, resume=None), key, chain)
                self._previous.pop(uid, None)
                self._models.pop(uid, None)
            if self.rescatter is not None and self.data.status != "finished":
                # every worker holding the scattered data died: its dependents were
                # cancelled; scatter again and rebuild prefixes from the new copy
                self.data = self.rescatter()
                self._nodes.clear()
            self._submit(batch, node, retries + 1)
            return
        if self.config.error_score == "raise":
            unit = self._units[batch[0]][0]
            raise SearchError(
                f"a fit of candidate {dict(unit.params)} on fold {unit.fold} failed with "
                f"{type(exc).__name__}: {exc} (error_score='raise'; set error_score=np.nan to "
                "score failing candidates as NaN and go on)"
            ) from exc
        text = f"{type(exc).__name__}: {exc}"
        self._record(batch, {"units": [_failed(uid, text) for uid in batch],
                             "prefix_chain": [], "worker": None})  # fmt: skip

    def _record(self, batch: list[Hashable], out: Mapping[str, Any]) -> None:
        cfg = self.config
        records: list[FitRecord | TaskRecord] = []
        for link in out["prefix_chain"]:
            if link["key"] not in self._recorded_nodes:
                self._recorded_nodes.add(link["key"])
                self.stats.fit_cpu_s += link["cpu_s"]
                records.append(TaskRecord(cfg.search, "prefix", link["key"], 1, link["start"],
                                          link["end"], link["worker"], link["cpu_s"]))  # fmt: skip
        finished = []
        for res in out["units"]:
            _unit, key, chain = self._units.pop(res["id"])
            trial_id, fold = res["id"]
            self._previous.pop(res["id"], None)
            model = self._models.pop(res["id"], None)
            if model is not None and res["status"] == "ok":
                self._trials[trial_id].models[fold] = model
            rec = FitRecord(
                key=key, search=cfg.search, params=self._trials[trial_id].trial.params,
                fold=fold, status=res["status"], test_scores=res.get("test_scores"),
                train_scores=res.get("train_scores"), trial=trial_id,
                resource=self._trials[trial_id].trial.resource, fit_time=res.get("fit_time", 0.0),
                score_time=res.get("score_time", 0.0), fit_cpu_s=res.get("fit_cpu_s", 0.0),
                start=res.get("start"), end=res.get("end"), worker=res.get("worker"),
                error=res.get("error"), n_test_samples=res.get("n_test_samples"),
            )  # fmt: skip
            records.append(rec)
            finished.append((rec, chain))
            self.stats.n_fits_continued += bool(res.get("continued"))
        if "start" in out:
            task = TaskRecord(cfg.search, "batch", str(batch[0]), len(batch), out.get("start"),
                              out.get("end"), out.get("worker"))  # fmt: skip
            records.append(task)
        self.journal.append(records)
        if out.get("start") is not None and out["units"]:
            per_unit = (out["end"] - out["start"]) / len(out["units"])
            self._unit_s = per_unit if self._unit_s is None else 0.7 * self._unit_s + 0.3 * per_unit
        for rec, chain in finished:
            self.stats.n_fits += 1
            self.stats.n_fits_failed += rec.status == "error"
            self.stats.fit_cpu_s += rec.fit_cpu_s
            state = self._trials[rec.trial]
            state.records[rec.fold] = rec
            state.cpu_s += rec.fit_cpu_s
            self._release(chain)
            self._progress()
            if len(state.records) == cfg.n_splits:
                self._finish_trial(state)

    def _release(self, chain: list[str]) -> None:
        for key in chain:
            self._node_refs[key] -= 1
            if self._node_refs[key] <= 0:
                del self._node_refs[key]
                self._nodes.pop(key, None)  # dropping the future frees the worker's copy
                self._node_specs.pop(key, None)
                self._node_depth.pop(key, None)

    def _finish_trial(self, state: _TrialState) -> None:
        folds = [state.records[f] for f in range(self.config.n_splits)]
        result = self._trial_result(state.trial, folds, state.cpu_s, state.all_from_journal)
        self.stats.n_trials_done += 1
        if result.status == "ok" and result.score == result.score:
            self.stats.best_score = max(self.stats.best_score, result.score)
        self.strategy.tell(result)
        if self.config.continuation is not None:
            self._hold(state)
        self._progress()

    def _trial_result(
        self, trial: Trial, folds: list[FitRecord], cpu_s: float, from_journal: bool
    ) -> TrialResult:
        metric = self.config.primary_metric
        error = self.config.error_score
        error = math.nan if error == "raise" else float(error)
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
            score = means.get(metric or "score", next(iter(means.values()), error))
        return TrialResult(trial=trial, score=score, status=status, scores=means,
                           fit_cpu_s=cpu_s, from_journal=from_journal)  # fmt: skip

    def _progress(self) -> None:
        if self.progress is not None:
            self.progress.update(self.stats)

    def _cancel_all(self, journal: bool = True) -> None:
        """Cancel queued and running fits; journal them as cancelled (a budget stopped them)."""
        futures = list(self._inflight) + list(self._nodes.values())
        if futures:
            # a closed client or a lost scheduler: nothing is left to cancel
            with contextlib.suppress(Exception):
                self.client.cancel(futures)
        if journal:
            now = time.time()
            records = []
            for uid in [*self._queue, *(u for b, _, _ in self._inflight.values() for u in b)]:
                unit, key, _ = self._units[uid]
                trial = self._trials[uid[0]].trial
                records.append(FitRecord(key=key, search=self.config.search, params=trial.params,
                                         fold=unit.fold, status="cancelled", trial=trial.id,
                                         resource=trial.resource, end=now))  # fmt: skip
            self.journal.append(records)
            told = {uid[0] for uid in self._queue} | {
                u[0] for b, _, _ in self._inflight.values() for u in b
            }
            for trial_id in sorted(told):
                self.strategy.tell(TrialResult(self._trials[trial_id].trial, math.nan, "cancelled"))
        self._queue.clear()
        self._inflight.clear()
        self._nodes.clear()
        self._held.clear()
        self._previous.clear()
        self._models.clear()


def _exception_of(future: Any, result: Any) -> BaseException:
    """The exception of a failed future from ``as_completed(with_results=True)``."""
    if isinstance(result, BaseException):  # cancelled
        return result
    if isinstance(result, tuple) and len(result) == 3 and isinstance(result[1], BaseException):
        return result[1]  # (type, exception, traceback) of an erred task
    try:
        return future.exception() or CancelledError(future.key)
    except CancelledError as e:
        return e


def _params_key(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True, default=repr)


def _failed(uid: Hashable, text: str) -> dict[str, Any]:
    return {"id": uid, "status": "error", "error": text, "test_scores": None, "train_scores": None}


def _is_infrastructure(exc: BaseException | None) -> bool:
    """A failure of the cluster, not of the fit: worth running again."""
    try:
        from distributed.comm.core import CommClosedError
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover
        return isinstance(exc, CancelledError)
    # KilledWorker is not retried: the fit itself killed workers (e.g. out of memory)
    return not isinstance(exc, KilledWorker) and isinstance(
        exc, CancelledError | CommClosedError | TimeoutError
    )

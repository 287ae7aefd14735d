"""The runner's submitting half: units queued, batched into tasks and sent to Dask.

:class:`Dispatcher` holds every unit the runner opened until its result is handled
(:class:`Pending`: its journal key, prefix chain and warm-start futures), the queue of
units not submitted yet, and the tasks in flight (:class:`Task`: a batch of units on one
shared prefix). It keeps at most ``2 x threads`` tasks in flight and sends each round of
new tasks in one message to the scheduler (refilling half the threads' worth at a time);
a task holds as many units as run in about ``target_task_s`` (measured from the first
results). Under a budget, a task holds the units of one trial only, so a stop after N
trials keeps exactly N.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from daskcloud.search._fit import fit_prefix, model_at, run_units, without_models
from daskcloud.search._prefix import PrefixCache
from daskcloud.search._protocol import BatchResult, Unit, UnitId
from daskcloud.search._trials import RunConfig, RunStats

__all__ = ["Dispatcher", "Pending", "Task"]


@dataclass
class Pending:
    """A unit queued or running: its journal key, its prefix chain and warm-start futures."""

    unit: Unit
    key: str
    chain: list[str]
    previous: Any = None  # future of the held fit it continues
    model: Any = None  # future of its fitted estimator (warm start)


@dataclass
class Task:
    """A batch of units submitted as one Dask task."""

    units: list[UnitId]
    prefix: str | None
    retries: int = 0
    submitted: float = field(default_factory=time.monotonic)


class Dispatcher:
    """Queue, batch and submit units; see the module docstring.

    ``data`` is the scattered search data (replaced by :meth:`rescattered`); ``watch`` is
    called with every new task's future (the runner's completion source); ``deadlines``
    (with ``fit_timeout``) watches the task that fits.
    """

    def __init__(
        self,
        client: Any,
        data: Any,
        config: RunConfig,
        stats: RunStats,
        *,
        watch: Any,
        keep_models: bool,
        budgeted: bool,
    ) -> None:
        self.client, self.data, self.config, self.stats = client, data, config, stats
        self.watch, self.keep_models, self.budgeted = watch, keep_models, budgeted
        self.deadlines: Any = None
        self.prefixes = PrefixCache(config.step_names, self._submit_prefix)
        self.pending: dict[UnitId, Pending] = {}
        self.queue: deque[UnitId] = deque()
        self.tasks: dict[Any, Task] = {}  # future -> task
        self._fitting: dict[Any, Any] = {}  # warm start: future -> future of its fitting task
        self._unit_s: float | None = None  # seconds per unit, smoothed

    def enqueue(self, units: list[Unit], keys: list[str], previous: list[Any]) -> None:
        """Hold ``units`` (with their journal keys and held fits) and queue them."""
        if not units:
            return
        for unit, key, prev in zip(units, keys, previous, strict=True):
            self.pending[unit.id] = Pending(unit, key, [], prev)
        chains = self.prefixes.plan(units)
        for unit in units:
            self.pending[unit.id].chain = chains[unit.id]
        if self.budgeted:
            # Under a budget, run candidates one after another (all their folds), so a stop
            # leaves complete candidates rather than every candidate's first fold.
            self.queue.extend(u.id for u in units)
            return
        groups: dict[str | None, list[UnitId]] = {}
        for unit in units:  # fits sharing a prefix run close together
            groups.setdefault(self._prefix_of(unit.id), []).append(unit.id)
        for ids in groups.values():
            self.queue.extend(ids)

    def submit_ready(self) -> None:
        """Batch queued units into tasks until ``2 x threads`` are in flight; submit them.

        Once the window is full it is refilled when half the threads' worth of tasks have
        finished, not after every result: fewer, larger messages to the scheduler (each
        costs it a graph update), while every thread still has a task queued behind the
        one it runs.
        """
        threads = self.config.n_threads
        window, tasks = 2 * threads, []
        if self.tasks and len(self.tasks) > window - max(1, threads // 2):
            return
        while self.queue and len(self.tasks) + len(tasks) < window:
            first = self.queue.popleft()
            prefix = self._prefix_of(first)
            batch, size = [first], self._batch_size()
            while (
                self.queue
                and len(batch) < size
                and self._prefix_of(self.queue[0]) == prefix
                and (not self.budgeted or self.queue[0][0] == first[0])
            ):
                batch.append(self.queue.popleft())
            tasks.append(Task(batch, prefix))
        if tasks:
            self._submit(tasks)

    def observe(self, out: BatchResult) -> None:
        """Learn the seconds per unit from a finished task (it sizes the next batches)."""
        if out.start is None:
            return
        per_unit = (out.end - out.start) / max(1, len(out.units))
        self._unit_s = per_unit if self._unit_s is None else 0.7 * self._unit_s + 0.3 * per_unit

    def retry(self, task: Task, rescatter: Any = None) -> None:
        """Run a task the cluster lost again, refitting from scratch what it continued."""
        self.stats.n_retries += 1
        for uid in task.units:  # a continued estimator may be what was lost
            p = self.pending[uid]
            p.unit, p.previous, p.model = replace(p.unit, resume=None), None, None
        if rescatter is not None and self.data.status != "finished":
            # every worker holding the scattered data died: its dependents were
            # cancelled; scatter again and rebuild prefixes from the new copy
            self.data = rescatter()
            self.prefixes.drop_futures()
        self._submit([Task(task.units, task.prefix, task.retries + 1)])

    def futures(self) -> list[Any]:
        """Every future of a task or prefix in flight (what a stop cancels)."""
        return [*self.tasks, *self.prefixes.futures()]

    def cancel(self) -> None:
        """Cancel every task and prefix in flight (a closed client: nothing to cancel)."""
        futures = self.futures()
        if futures:
            with contextlib.suppress(Exception):
                self.client.cancel(futures)

    def clear(self) -> None:
        """Forget every unit, task and future now (frees what the workers hold for them)."""
        self.queue.clear()
        self.pending.clear()
        self.tasks.clear()
        self.drop_futures()

    def drop_futures(self) -> None:
        self.prefixes.drop_futures()
        for p in self.pending.values():
            p.previous = p.model = None

    # -- submitting ------------------------------------------------------------------------

    def _prefix_of(self, uid: UnitId) -> str | None:
        chain = self.pending[uid].chain
        return chain[0] if chain else None

    def _batch_size(self) -> int:
        if self._unit_s is None or self.config.fit_timeout is not None:
            return 1
        size = max(1, int(self.config.target_task_s / max(self._unit_s, 1e-6)))
        spread = math.ceil(len(self.queue) / max(1, self.config.n_threads))
        return max(1, min(size, spread, self.config.max_batch))

    def _submit_prefix(self, node: Any, parent: Any) -> Any:
        self.stats.n_prefix_fits += 1
        return self.client.submit(fit_prefix, self.data, parent, node, pure=False)

    def _submit(self, tasks: list[Task]) -> None:
        """Submit tasks in one message to the scheduler (in order: they run in this order)."""
        parents = [None if t.prefix is None else self.prefixes.future(t.prefix) for t in tasks]
        units = [[self.pending[uid].unit for uid in t.units] for t in tasks]
        if not self.keep_models:
            futures = self.client.map(run_units, [self.data] * len(tasks), parents, units,
                                      pure=False)  # fmt: skip
        else:
            futures = [
                self._submit_keeping(t, p, u) for t, p, u in zip(tasks, parents, units, strict=True)
            ]
        if self.deadlines is not None:
            for future in futures:
                self.deadlines.watch(future, self._fitting.pop(future, None))
        self.tasks.update(zip(futures, tasks, strict=True))
        self.watch(futures)
        self.stats.n_tasks += len(tasks)

    def _submit_keeping(self, task: Task, parent: Any, units: list[Unit]) -> Any:
        """Submit a task whose fitted estimators stay on the worker (warm start)."""
        # one small future each for the next rung; the driver gathers only the scores
        pending = [self.pending[uid] for uid in task.units]
        previous = [p.previous for p in pending]
        out = self.client.submit(run_units, self.data, parent, units, previous, True,
                                 pure=False)  # fmt: skip
        for i, p in enumerate(pending):
            p.model = self.client.submit(model_at, out, i, pure=False)
        future = self.client.submit(without_models, out, pure=False)
        if self.deadlines is not None:
            self._fitting[future] = out  # the task a fit_timeout watches
        return future

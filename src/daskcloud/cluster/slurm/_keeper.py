"""The scheduler's keeper: it holds the cluster at ``wanted`` worker jobs until its deadline.

Loaded into the scheduler with ``--preload daskcloud.cluster.slurm._keeper`` (the cluster's
directory in ``$DASKCLOUD_SLURM_DIR``), it is the only thing that submits or cancels worker
jobs, like Kubernetes' Deployment controller for pods. Every few seconds it reads ``wanted``
from the cluster's record (``cluster scale`` writes it), asks ``squeue`` for the jobs, and:

* submits a worker job for each one missing — at ``cluster up``, after ``scale``, and when a
  job was preempted, failed or cancelled — with the walltime the cluster has left;
* retires and cancels the newest jobs beyond ``wanted`` (pending ones first);
* stops submitting after 3 worker jobs failed within a minute of starting (a crash loop), and
  when less than 30 s of the maximum lifetime remain; at the deadline it closes the
  scheduler.

What it did goes to ``keeper.json`` (written by the keeper only): the jobs it submitted, the
CPU-seconds each has used (for the cost line) and the last submission error, which
``cluster up`` reports. :func:`plan_workers` is the pure decision; :class:`SlurmKeeper` the I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from daskcloud.cluster.slurm._queue import JobInfo
from daskcloud.cluster.slurm._spec import SlurmSpec

__all__ = ["KeeperState", "Plan", "SlurmKeeper", "dask_setup", "plan_workers", "read_keeper"]

logger = logging.getLogger("daskcloud.slurm.keeper")

KEEPER_FILE = "keeper.json"
#: no new job when less than this much of the maximum lifetime is left
MIN_WALLTIME_S = 30
#: a worker job that fails within this many seconds of starting counts towards a crash loop
FAST_FAILURE_S = 60
MAX_FAST_FAILURES = 3
_FAILED = frozenset({"FAILED", "BOOT_FAIL", "OUT_OF_MEMORY", "NODE_FAIL"})


@dataclass(frozen=True)
class KeeperState:
    """What the keeper remembers between ticks (and ``status`` reads)."""

    next_index: int = 0
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> index, cpu_s, state
    fast_failures: tuple[str, ...] = ()
    error: str | None = None
    updated: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> KeeperState:
        data = json.loads(text)
        data["fast_failures"] = tuple(data.get("fast_failures", ()))
        return cls(**data)


@dataclass(frozen=True)
class Plan:
    """One tick's decision: what to submit, what to cancel, the state to remember."""

    submit: tuple[int, ...]
    cancel: tuple[JobInfo, ...]
    close_scheduler: bool
    state: KeeperState


def plan_workers(
    spec: SlurmSpec, wanted: int, state: KeeperState, jobs: list[JobInfo], now: float
) -> Plan:
    """Decide how to bring the cluster's worker jobs to ``wanted`` (pure)."""
    workers = [j for j in jobs if j.role == "worker" and j.cluster == spec.name]
    ledger = dict(state.jobs)
    failures = list(state.fast_failures)
    for job in workers:
        entry = {"index": job.index, "cpu_s": job.cpu_seconds, "state": job.state}
        was = ledger.get(job.job_id, {}).get("state")
        if job.state in _FAILED and was != job.state and job.elapsed_s < FAST_FAILURE_S:
            failures.append(job.job_id)
        ledger[job.job_id] = entry
    live = sorted((j for j in workers if j.active), key=lambda j: (j.running, -(j.index or 0)))
    error = state.error
    if len(failures) >= MAX_FAST_FAILURES and not error:
        error = (
            f"{len(failures)} worker jobs failed within {FAST_FAILURE_S} s of starting (last: "
            f"job {failures[-1]}); no more are submitted — see `daskcloud cluster logs "
            f"{spec.name} --worker N`"
        )
    submit: tuple[int, ...] = ()
    missing = wanted - len(live)
    if missing > 0 and not error and spec.deadline - now >= MIN_WALLTIME_S:
        submit = tuple(range(state.next_index, state.next_index + missing))
    cancel = tuple(live[: max(0, -missing)])
    new = replace(
        state,
        next_index=state.next_index + len(submit),
        jobs=ledger,
        fast_failures=tuple(failures),
        error=error,
        updated=now,
    )
    return Plan(submit, cancel, now >= spec.deadline, new)


def read_keeper(directory: Path) -> KeeperState:
    """The keeper's state of the cluster in ``directory`` (empty before its first tick)."""
    try:
        return KeeperState.from_json((directory / KEEPER_FILE).read_text())
    except (FileNotFoundError, ValueError, TypeError):
        return KeeperState()


class SlurmKeeper(SchedulerPlugin):
    """A scheduler plugin that runs :func:`plan_workers` every ``interval`` seconds."""

    name = "daskcloud-slurm-keeper"

    def __init__(self, directory: Path, interval: float = 3.0) -> None:
        self.directory = directory
        self.interval = interval
        self._task: asyncio.Task | None = None
        self.scheduler: Any = None

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed tick is retried; the scheduler must not die of it
                logger.exception("the Slurm keeper's tick failed")
            await asyncio.sleep(self.interval)

    def _spec_and_wanted(self) -> tuple[SlurmSpec, int]:
        record = json.loads((self.directory / "cluster.json").read_text())
        return SlurmSpec.from_dict(record["extra"]["spec"]), int(record["extra"]["wanted"])

    async def tick(self) -> None:
        from daskcloud.cluster._certs import write_private
        from daskcloud.cluster.slurm._commands import cancel, queue, submit
        from daskcloud.cluster.slurm._scripts import worker_job_script
        from daskcloud.exceptions import ClusterError

        spec, wanted = self._spec_and_wanted()
        state = read_keeper(self.directory)
        jobs = await asyncio.to_thread(queue, spec.name)
        now = time.time()
        plan = plan_workers(spec, wanted, state, jobs, now)
        state = plan.state
        for index in plan.submit:
            script = worker_job_script(
                spec, self.scheduler.address, index, walltime_s=spec.deadline - now
            )
            try:
                job_id = await asyncio.to_thread(submit, script)
            except ClusterError as exc:
                state = replace(state, error=str(exc))
                logger.error("cannot submit worker %d: %s", index, exc)
                break
            logger.info("submitted worker %d as job %s", index, job_id)
            state = replace(
                state,
                jobs={**state.jobs, job_id: {"index": index, "cpu_s": 0.0, "state": "PENDING"}},
            )
        if plan.cancel:
            names = [f"{spec.name}-worker-{j.index}" for j in plan.cancel if j.running]
            if names:
                with contextlib.suppress(Exception):
                    await self.scheduler.retire_workers(names=names, close_workers=True)
            await asyncio.to_thread(cancel, [j.job_id for j in plan.cancel])
            logger.info("cancelled jobs %s (scaled to %d)", [j.job_id for j in plan.cancel], wanted)
        write_private(self.directory / KEEPER_FILE, state.to_json())
        if plan.close_scheduler:
            logger.info("the maximum lifetime is over; closing the scheduler")
            await self.scheduler.close()


def dask_setup(scheduler: Any) -> None:
    """The preload's entry point: add the keeper of ``$DASKCLOUD_SLURM_DIR``'s cluster."""
    from daskcloud.cluster.slurm._scripts import KEEPER_ENV

    scheduler.add_plugin(SlurmKeeper(Path(os.environ[KEEPER_ENV])))

"""An embedded local cluster: a scheduler in this process, ``dask spec`` worker processes.

``LocalDaskCluster`` turns a few friendly options into a ``distributed.SpecCluster``
(a scheduler in this process; each worker a separate ``python -m dask spec`` process
with one thread, as many as cores, started again when it dies), connects a ``Client`` and tears
both down in :meth:`~LocalDaskCluster.close`, which is safe to call twice. Use it as a
context manager (or through :func:`daskcloud.core.client.open_client`)::

    with LocalDaskCluster(n_workers=2) as cluster:
        cluster.client.submit(sum, [1, 2]).result()

Why not ``LocalCluster``: its workers start with multiprocessing's *spawn*, which
re-imports the calling script in every worker, so a script without
``if __name__ == "__main__":`` started a second cluster there and failed. A ``dask
spec`` process imports nothing of the user's script (work reaches it by pickle, and
classes of ``__main__`` are pickled by value), so unguarded scripts, notebooks and
``python -c`` all work. The workers get this process's ``sys.path`` and write their
output to a log file whose last lines are quoted when one cannot start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from daskcloud.core.closing import Closing
from daskcloud.exceptions import ClusterError, ConfigError

__all__ = ["LocalDaskCluster", "default_n_workers"]

_logger = logging.getLogger(__name__)

#: seconds to wait for every worker to join the scheduler
START_TIMEOUT = 120.0
#: a worker whose scheduler is gone (the driver was killed) exits after this many seconds
DEATH_TIMEOUT = 60


def default_n_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _worker_class() -> type:
    from distributed.deploy.subprocess import SubprocessWorker

    class WorkerProcess(SubprocessWorker):
        """``python -m dask spec`` with this process's sys.path; its output to ``log``.

        Started again when it dies (a fit that crashed it, the OOM killer), as a Nanny
        would; a Nanny process per worker would double the start-up imports.
        """

        def __init__(self, scheduler: str, *, log: str, **kwargs: Any) -> None:
            super().__init__(scheduler, **kwargs)
            self.log = log
            self._closing = False
            self._watch: asyncio.Task | None = None
            self.exit_codes: list[int] = []  # of every exit so far

        async def _start(self) -> None:
            await self._spawn()
            self._watch = asyncio.ensure_future(self._restart_on_exit())

        async def _spawn(self) -> None:
            spec = json.dumps({"cls": self.worker_class, "opts": self.worker_kwargs})
            path = [os.getcwd() if p == "" else p for p in sys.path]
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(path))}
            with open(self.log, "ab") as out:
                self.process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "dask", "spec", self.scheduler, "--spec", spec,
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                )  # fmt: skip

        async def _restart_on_exit(self) -> None:
            while self.process is not None:
                code = await self.process.wait()
                if self._closing:
                    return
                self.exit_codes.append(code)
                await asyncio.sleep(1.0)  # no tight loop for a worker that cannot start
                if not self._closing:
                    await self._spawn()

        async def close(self) -> None:
            self._closing = True
            if self._watch is not None:
                self._watch.cancel()
            await super().close()

    return WorkerProcess


class LocalDaskCluster(Closing):
    """A local Dask cluster of ``n_workers`` processes x ``threads_per_worker`` threads.

    Nothing starts in ``__init__``; :meth:`start` (or ``with``) starts the
    scheduler and workers and connects :attr:`client`.
    """

    def __init__(
        self,
        n_workers: int | None = None,
        *,
        threads_per_worker: int = 1,
        memory_limit: str | float | None = "auto",
        dashboard_address: str | None = ":8787",  # Dask's default port; a free one when taken
        silence_logs: int = logging.ERROR,
    ) -> None:
        n = default_n_workers() if n_workers is None else n_workers
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n_workers must be a positive integer, got {n_workers!r}")
        if threads_per_worker < 1:
            raise ConfigError(f"threads_per_worker must be >= 1, got {threads_per_worker!r}")
        self.n_workers = n
        self.threads_per_worker = threads_per_worker
        self.memory_limit = memory_limit
        self.dashboard_address = dashboard_address
        self.silence_logs = silence_logs
        self.cluster: Any = None
        self.client: Any = None
        self._logs: tempfile.TemporaryDirectory | None = None

    def start(self) -> LocalDaskCluster:
        """Start the scheduler and the workers, connect a client; return self."""
        if self.client is not None:
            return self
        from distributed import Client, Scheduler, SpecCluster
        from distributed.worker_memory import parse_memory_limit

        self._logs = tempfile.TemporaryDirectory(prefix="daskcloud-workers-")
        memory = parse_memory_limit(
            self.memory_limit, self.threads_per_worker, self.n_workers, logger=_logger
        )
        opts = {"nthreads": self.threads_per_worker, "memory_limit": memory,
                "host": "127.0.0.1", "death_timeout": DEATH_TIMEOUT,
                "silence_logs": self.silence_logs}  # fmt: skip
        dashboard = self.dashboard_address
        scheduler = {"cls": Scheduler, "options": {
            "host": "127.0.0.1", "port": 0, "dashboard": dashboard is not None,
            "dashboard_address": dashboard,
        }}  # fmt: skip
        cls = _worker_class()
        workers = {
            i: {
                "cls": cls,
                "options": {
                    "worker_class": "distributed.Worker",
                    "worker_kwargs": opts,
                    "log": str(Path(self._logs.name) / f"worker-{i}.log"),
                },
            }
            for i in range(self.n_workers)
        }
        try:
            self.cluster = SpecCluster(
                workers=workers, scheduler=scheduler, silence_logs=self.silence_logs
            )
            self.client = Client(self.cluster)
            self._wait_for_workers()
        except ClusterError:
            self.close()
            raise
        except Exception as e:
            self.close()
            raise ClusterError(
                f"cannot start a local Dask cluster with {self.n_workers} workers: {e}; "
                "check the memory and processes this machine allows, or pass client= an "
                "existing cluster"
            ) from e
        return self

    def _wait_for_workers(self) -> None:
        """Until every worker joined; ClusterError quoting a worker's log when one exited."""
        deadline = time.monotonic() + START_TIMEOUT
        while len(self.client.scheduler_info(n_workers=-1)["workers"]) < self.n_workers:
            for worker in list(self.cluster.workers.values()):
                codes = getattr(worker, "exit_codes", None)
                if codes:
                    raise ClusterError(
                        f"a local Dask worker exited while starting (exit code {codes[0]}): "
                        f"{_last_lines(worker.log)}; fix what it says, or pass client= an "
                        "existing cluster"
                    )
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"the local Dask workers did not start within {START_TIMEOUT:g} s; the "
                    "machine may be overloaded: try fewer workers (n_workers=, --workers)"
                )
            time.sleep(0.05)

    @property
    def address(self) -> str | None:
        """The scheduler's address once started."""
        return None if self.cluster is None else self.cluster.scheduler_address

    def close(self) -> None:
        """Close the client and the cluster (its worker processes); safe to call twice."""
        client, cluster, logs = self.client, self.cluster, self._logs
        self.client = self.cluster = self._logs = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        if logs is not None:
            logs.cleanup()
        super().close()

    def __enter__(self) -> LocalDaskCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = self.address or "not started"
        return f"LocalDaskCluster(n_workers={self.n_workers}, {state})"


def _last_lines(path: str, n: int = 3) -> str:
    try:
        lines = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return " | ".join(line.strip() for line in lines[-n:]) or "no output"

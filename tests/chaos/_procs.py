"""Real processes for the chaos tests: a ``dask scheduler``, ``dask worker``s, a tune driver.

Everything here is a real process started with the test's Python; nothing is mocked. The
driver is ``python -m daskcloud.cli tune SPEC --scheduler ADDR`` over a search of
``SlowRidge`` fits (tests/search/_engine_estimators.py, which the driver imports and the
workers receive by value), so a test can act while fits are running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from driver_journal import wait_until

SEARCH_DIR = Path(__file__).parents[1] / "search"

SPEC = """\
name = "chaos"
[estimator]
factory = "_engine_estimators:SlowRidge"
kwargs = {{ delay = {delay} }}
[data]
path = "data.csv"
target = "y"
[space]
alpha = [{alphas}]
[cv]
name = "kfold"
n_splits = 3
"""


def env() -> dict[str, str]:
    """The environment of every process: this checkout's sources and the test estimators."""
    paths = [str(Path(__file__).parents[2] / "src"), str(SEARCH_DIR)]
    old = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, *([old] if old else [])])}


@dataclass
class Cluster:
    """A scheduler process and its worker processes; :meth:`close` kills what is left."""

    workdir: Path
    scheduler: subprocess.Popen | None = None
    address: str = ""
    workers: list[subprocess.Popen] = field(default_factory=list)

    def start_scheduler(self) -> str:
        file = self.workdir / f"scheduler-{time.monotonic_ns()}.json"
        self.scheduler = _spawn(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
            self.workdir / "scheduler.log",
        )  # fmt: skip
        assert wait_until(lambda: _address(file) is not None, timeout=90), self.log("scheduler")
        self.address = _address(file) or ""
        return self.address

    def start_workers(self, n: int = 2) -> None:
        for i in range(n):
            self.workers.append(_spawn(
                [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--nthreads",
                 "1", "--no-dashboard", "--no-nanny", "--host", "127.0.0.1",
                 "--death-timeout", "20", "--name", f"w{len(self.workers)}-{i}"],
                self.workdir / "workers.log",
            ))  # fmt: skip
        assert wait_until(lambda: self.n_workers() >= len(self.workers), timeout=90), self.log(
            "workers"
        )

    def n_workers(self) -> int:
        from distributed import Client

        with Client(self.address, timeout=10) as client:
            return len(client.scheduler_info(n_workers=-1)["workers"])

    def processing(self) -> int:
        """Tasks the scheduler is running or has queued now."""
        from distributed import Client

        with Client(self.address, timeout=10) as client:
            return sum(len(v) for v in client.processing().values())

    def kill_scheduler(self) -> None:
        assert self.scheduler is not None
        self.scheduler.kill()
        self.scheduler.wait(timeout=30)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def close(self) -> None:
        for proc in [*self.workers, *([self.scheduler] if self.scheduler else [])]:
            stop(proc)
        self.workers.clear()
        self.scheduler = None


@contextlib.contextmanager
def cluster(workdir: Path, n_workers: int = 2) -> Iterator[Cluster]:
    c = Cluster(workdir)
    try:
        c.start_scheduler()
        c.start_workers(n_workers)
        yield c
    finally:
        c.close()


def write_spec(workdir: Path, n_candidates: int = 20, delay: float = 0.1) -> Path:
    """A tune spec of ``n_candidates`` x 3 folds of SlowRidge fits and its data file."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    frame["y"] = frame @ np.arange(1.0, 5.0) + rng.normal(size=60)
    frame.to_csv(workdir / "data.csv", index=False)
    alphas = ", ".join(f"{a:.1f}" for a in range(1, n_candidates + 1))
    path = workdir / "spec.toml"
    path.write_text(SPEC.format(delay=delay, alphas=alphas))
    return path


def driver(spec: Path, address: str, out: Path, *, preexec: Callable[[], None] | None = None,
           extra: tuple[str, ...] = ()) -> subprocess.Popen:  # fmt: skip
    """``daskcloud tune SPEC --scheduler ADDR --out OUT --json`` as a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "daskcloud.cli", "tune", str(spec), "--scheduler", address,
         "--out", str(out), "--json", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=spec.parent, env=env(),
        preexec_fn=preexec,
    )  # fmt: skip


def finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    """Wait for a driver; (exit code, stdout, stderr)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        stop(proc)
    return proc.returncode, out, err


def stop(proc: subprocess.Popen) -> None:
    """Kill a process of ours if it still runs, and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env())  # fmt: skip


def _address(file: Path) -> str | None:
    try:
        return json.loads(file.read_text())["address"]
    except (FileNotFoundError, ValueError, KeyError):
        return None

"""The local backend: ``dask scheduler`` and ``dask worker`` processes detached on this machine.

``cluster up --backend local`` starts them in their own sessions (they outlive the command),
records each one's pid *and start time* and the scheduler's address under
``$DASKCLOUD_HOME/local/<name>/``, and writes their logs there. The same rules as on Kubernetes
keep them from being forgotten: the scheduler exits after ``--idle-timeout``, workers exit
after ``--lifetime`` (the maximum lifetime) or 60 s after losing their scheduler. Everything
listens on 127.0.0.1 only.

A recorded pid is acted on only while the process with that pid started at the recorded time:
after a reboot, or once the pid is reused by an unrelated process, ``cluster down`` leaves it
alone (and ``status`` reports the cluster's process as exited).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

from daskcloud.cluster import _detached
from daskcloud.cluster._detached import WORKER, alive, pid_of, spawn, start_scheduler, stop
from daskcloud.cluster._spec import ClusterSpec, parse_memory
from daskcloud.cluster._state import (
    ClusterRecord,
    cluster_dir,
    list_records,
    load_record,
    remove_record,
    save_record,
)
from daskcloud.cluster._status import ClusterStatus, MemberInfo
from daskcloud.cluster.backends import Backend, Endpoint
from daskcloud.exceptions import ClusterError, ConfigError

__all__ = ["LocalBackend"]


def _client(address: str, timeout: float = 10.0):
    from distributed import Client

    return Client(address, timeout=timeout, set_as_default=False)


def _idle_since(dask_scheduler) -> float | None:  # runs on the scheduler
    return dask_scheduler.idle_since


def _index(key: str) -> int:
    return int(key.rsplit("-", 1)[1])


class LocalBackend(Backend):
    """Scheduler and workers as detached processes on this machine (127.0.0.1 only)."""

    kind = "local"
    options = frozenset(
        {"name", "workers", "cpu", "memory", "idle_timeout", "max_lifetime", "price_per_hour",
         "jupyter"}
    )  # fmt: skip
    updatable = frozenset({"workers", "cpu", "memory"})
    fixed: ClassVar[Mapping[str, str]] = {
        "idle_timeout": "the scheduler's own setting",
        "max_lifetime": "each worker's --lifetime",
        "price_per_hour": "the cost so far is computed from it",
        "jupyter": "the notebook starts with the cluster",
    }
    hints: ClassVar[Mapping[str, str]] = {
        "notebook_storage": "the local notebook keeps its files in the cluster's directory "
        "until cluster down; use --backend kubernetes for a volume",
    }

    def where(self, namespace: str | None = None) -> str:
        return "on this machine"

    # --- create and wait ---------------------------------------------------------------------

    def create(self, spec, *, timeout, progress):
        directory = cluster_dir("local", spec.name)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        args = ["--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0"]
        args += ["--idle-timeout", f"{spec.idle_timeout_seconds}s"]
        scheduler, info = start_scheduler(args, directory, timeout=min(timeout, 120.0))
        save_record(
            ClusterRecord(
                name=spec.name,
                backend="local",
                price_per_hour=spec.price_per_hour,
                pids=(scheduler,),
                address=info["address"],
                idle_timeout_s=spec.idle_timeout_seconds,
                max_lifetime_s=spec.max_lifetime_seconds,
                extra={
                    "threads": spec.threads_per_worker,
                    "memory": spec.memory,
                    "workers": {},
                    "wanted": spec.workers,
                    "dashboard": info.get("services", {}).get("dashboard"),
                },
            )
        )
        self._start_workers(spec.name, spec.workers)
        if spec.jupyter:
            from daskcloud.cluster._local_jupyter import start_jupyter

            record = self._record(spec.name)
            server = start_jupyter(
                directory, info["address"], idle_timeout_s=spec.idle_timeout_seconds,
                deadline=record.created_at + spec.max_lifetime_seconds,
                timeout=min(timeout, 120.0),
            )  # fmt: skip
            record = self._record(spec.name)  # the workers were added meanwhile
            save_record(replace(record, extra={**record.extra, "jupyter": server}))

    def wait(self, spec, *, timeout, progress):
        self._wait_workers(spec.name, spec.workers, min(timeout, 120.0))
        return self.status(spec.name)

    def _record(self, name: str) -> ClusterRecord:
        record = load_record("local", name)
        if record is None:
            raise ClusterError(
                f"no local cluster {name!r} on this machine; `daskcloud cluster list "
                "--backend local` shows them"
            )
        return record

    def _workers(self, record: ClusterRecord) -> dict[str, Any]:
        """The worker processes of ``record`` that are still running, by name."""
        workers = record.extra.get("workers", {})
        return {k: v for k, v in workers.items() if alive(v)}

    def _start_workers(self, name: str, count: int) -> list[str]:
        """Start ``count`` more workers with the record's threads and memory; their names."""
        record = self._record(name)
        workers = dict(record.extra.get("workers", {}))
        start = max((_index(k) for k in workers), default=-1) + 1
        memory = parse_memory(str(record.extra["memory"]))
        started = []
        for index in range(start, start + count):
            key = f"{name}-worker-{index}"
            cmd = [*WORKER, record.address or "", "--name", key]
            cmd += ["--nthreads", str(record.extra["threads"]), "--memory-limit", str(memory)]
            cmd += ["--no-dashboard", "--death-timeout", "60", "--host", "127.0.0.1"]
            if record.max_lifetime_s:
                cmd += ["--lifetime", f"{record.max_lifetime_s}s"]
            log = cluster_dir("local", name) / f"worker-{index}.log"
            workers[key] = spawn(cmd, log)
            started.append(key)
        save_record(replace(record, extra={**record.extra, "workers": workers}))
        return started

    def _retire(self, name: str, keys: list[str], timeout: float) -> None:
        """Retire workers ``keys`` gracefully (their tasks move), then stop their processes."""
        if not keys:
            return
        record = self._record(name)
        workers = dict(record.extra["workers"])
        with _client(record.address or "", timeout) as client:
            client.retire_workers(names=keys, close_workers=True)
        stop([workers.pop(k) for k in keys if k in workers])
        save_record(replace(record, extra={**record.extra, "workers": workers}))

    def _wait_workers(self, name: str, count: int, timeout: float) -> None:
        record = self._record(name)
        if not count:
            return
        with _client(record.address or "", timeout) as client:
            try:
                client.wait_for_workers(count, timeout=timeout)
            except TimeoutError:
                have = len(client.scheduler_info(n_workers=-1)["workers"])
                raise ClusterError(
                    f"local cluster {name!r}: {have}/{count} workers after {timeout:.0f} s; "
                    f"see `daskcloud cluster logs {name} --worker 0`"
                ) from None

    # --- the verbs ---------------------------------------------------------------------------

    def scale(self, name, workers, namespace=None, *, timeout: float = 60.0):
        if workers < 0:
            raise ConfigError(f"workers {workers} is negative; give 0 or more, e.g. 4")
        record = self._record(name)
        running = sorted(self._workers(record), key=_index)
        save_record(replace(record, extra={**record.extra, "wanted": workers}))
        if workers > len(running):
            self._start_workers(name, workers - len(running))
        self._retire(name, running[workers:], timeout)
        self._wait_workers(name, workers, timeout)
        return workers

    def current_spec(self, name, namespace=None):
        record = self._record(name)
        return ClusterSpec(
            name=name, workers=int(record.extra.get("wanted", 0)),
            cpu=str(record.extra.get("threads", 1)), memory=str(record.extra.get("memory")),
            idle_timeout=f"{record.idle_timeout_s or 1200}s",
            max_lifetime=f"{record.max_lifetime_s or 8 * 3600}s",
            price_per_hour=record.price_per_hour, cluster_id=name,
        )  # fmt: skip

    def apply_update(self, current, desired, changed, *, timeout):
        """New threads/memory: start new workers first, then retire the old ones."""
        if set(changed) <= {"workers"}:
            self.scale(desired.name, desired.workers, timeout=timeout)
            return
        record = self._record(desired.name)
        old = sorted(self._workers(record), key=_index)
        extra = {"threads": desired.threads_per_worker, "memory": desired.memory}
        save_record(replace(record, extra={**record.extra, **extra, "wanted": desired.workers}))
        self._start_workers(desired.name, desired.workers)
        self._wait_workers(desired.name, desired.workers + len(old), timeout)
        self._retire(desired.name, old, timeout)

    def find(self, name, namespace=None):
        record = load_record("local", name)
        if record is None:
            return None
        up = bool(record.pids) and alive(record.pids[0])
        ready, idle = 0, None
        if up and record.address:
            with contextlib.suppress(OSError, TimeoutError), _client(record.address, 5) as client:
                ready = len(client.scheduler_info(n_workers=-1)["workers"])
                since = client.run_on_scheduler(_idle_since)
                idle = max(0.0, time.time() - since) if since else 0.0
        wanted = int(record.extra.get("wanted", 0))
        state = "finished" if not up else ("running" if ready >= wanted else "starting")
        pid = pid_of(record.pids[0]) if record.pids else 0
        members = [MemberInfo(f"pid {pid}", "scheduler", "Running" if up else "Exited", up)]
        for key, ident in sorted(record.extra.get("workers", {}).items()):
            on = alive(ident)
            members.append(
                MemberInfo(
                    f"{key} (pid {pid_of(ident)})", "worker", "Running" if on else "Exited", on
                )
            )
        if "jupyter" in record.extra:
            ident = record.extra["jupyter"]["process"]
            on = alive(ident)
            members.append(
                MemberInfo(f"pid {pid_of(ident)}", "jupyter", "Running" if on else "Exited", on)
            )
        dashboard = record.extra.get("dashboard")
        return ClusterStatus(
            name=name, backend="local", namespace=None, cluster_id=name, state=state,
            created_at=dt.datetime.fromtimestamp(record.created_at, dt.UTC),
            age_s=time.time() - record.created_at,
            max_lifetime_s=record.max_lifetime_s, idle_timeout_s=record.idle_timeout_s,
            workers_wanted=wanted, workers_ready=ready, scheduler_ready=up,
            price_per_hour=record.price_per_hour, members=tuple(members),
            reason="" if up else "the scheduler exited (idle timeout?); run cluster down",
            address=record.address,
            dashboard_url=f"http://127.0.0.1:{dashboard}/status" if dashboard else None,
            idle_s=idle,
        )  # fmt: skip

    def list(self, namespace=None):
        return [s for r in list_records("local") if (s := self.find(r.name)) is not None]

    def logs(self, name, namespace=None, *, worker=None, driver=False, tail=200):
        if driver:
            raise ConfigError("--driver needs --backend kubernetes (a detached search)")
        self._record(name)
        path = cluster_dir("local", name) / (
            "scheduler.log" if worker is None else f"worker-{worker}.log"
        )
        if not path.exists():
            raise ClusterError(f"local cluster {name!r} has no log {path.name}; check --worker")
        return _detached.tail(path, tail)

    def delete(self, name, namespace=None):
        record = load_record("local", name)
        if record is None:
            return False
        jupyter = [record.extra["jupyter"]["process"]] if "jupyter" in record.extra else []
        stop([*jupyter, *record.extra.get("workers", {}).values(), *record.pids])
        remove_record("local", name)
        return True

    def notebook(self, name, namespace=None):
        from daskcloud.cluster._notebook import TOKEN_FILE, notebook_url
        from daskcloud.cluster.backends import NotebookEndpoint

        record = self._record(name)
        server = record.extra.get("jupyter")
        if server is None:
            raise ClusterError(
                f"local cluster {name!r} has no notebook; start one with `daskcloud cluster up "
                f"--backend local --name {name} --jupyter` (after cluster down)"
            )
        if not alive(server["process"]):
            raise ClusterError(
                f"the notebook of local cluster {name!r} has stopped (its maximum lifetime?); "
                f"see {cluster_dir('local', name) / 'jupyter.log'}"
            )
        token = (cluster_dir("local", name) / TOKEN_FILE).read_text().strip()
        return NotebookEndpoint(notebook_url(server["port"], token))

    def endpoint(self, name, namespace=None):
        status = self.status(name)
        if status.state == "finished" or not status.address:
            raise ClusterError(f"local cluster {name!r} is not running ({status.reason})")
        return Endpoint(address=status.address, dashboard_url=status.dashboard_url)

"""The local backend: ``dask scheduler`` and ``dask worker`` processes detached on this machine.

``cluster up --backend local`` starts them in their own sessions (they outlive the command),
records their pids and the scheduler's address under ``$DASKCLOUD_HOME/local/<name>/`` and
writes their logs there. The same rules as on Kubernetes keep them from being forgotten: the
scheduler exits after ``--idle-timeout``, workers exit after ``--lifetime`` (the maximum
lifetime) or 60 s after losing their scheduler. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import replace

from daskcloud.cluster._detached import WORKER as _WORKER
from daskcloud.cluster._detached import alive as _alive
from daskcloud.cluster._detached import spawn as _spawn
from daskcloud.cluster._detached import start_scheduler
from daskcloud.cluster._detached import stop as _stop
from daskcloud.cluster._detached import tail as _tail
from daskcloud.cluster._state import (
    ClusterRecord,
    cluster_dir,
    list_records,
    load_record,
    remove_record,
    save_record,
)
from daskcloud.cluster._status import ClusterStatus, MemberInfo
from daskcloud.exceptions import ClusterError, ConfigError

__all__ = [
    "local_down",
    "local_jupyter_url",
    "local_list",
    "local_logs",
    "local_scale",
    "local_status",
    "local_up",
]


def _worker_cmd(record: ClusterRecord, index: int) -> list[str]:
    x = record.extra
    cmd = [*_WORKER, record.address or "", "--name", f"{record.name}-worker-{index}"]
    cmd += ["--nthreads", str(x["threads"]), "--memory-limit", str(x["memory"])]
    cmd += ["--no-dashboard", "--death-timeout", "60", "--host", "127.0.0.1"]
    if record.max_lifetime_s:
        cmd += ["--lifetime", f"{record.max_lifetime_s}s"]
    return cmd


def local_up(
    name: str,
    *,
    workers: int = 2,
    threads: int = 1,
    memory: str = "2GiB",
    idle_timeout_s: int = 1200,
    max_lifetime_s: int = 8 * 3600,
    price_per_hour: float | None = None,
    jupyter: bool = False,
    timeout: float = 60.0,
) -> ClusterStatus:
    """Start a scheduler and ``workers`` worker processes in the background; wait until ready.

    With ``jupyter``, a JupyterLab next to them (:mod:`._local_jupyter`).
    """
    if workers < 0 or threads < 1:
        raise ConfigError(f"workers must be >= 0 and threads >= 1, got {workers} and {threads}")
    existing = load_record("local", name)
    if existing and existing.pids and _alive(existing.pids[0]):
        raise ClusterError(
            f"local cluster {name!r} is already running at {existing.address}; use it, or stop "
            f"it first (daskcloud cluster down {name} --backend local)"
        )
    directory = cluster_dir("local", name)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    args = ["--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0"]
    args += ["--idle-timeout", f"{idle_timeout_s}s"]
    deadline = time.monotonic() + timeout
    try:
        pid, info = start_scheduler(args, directory, timeout=timeout)
    except BaseException:
        remove_record("local", name)
        raise
    record = ClusterRecord(
        name=name, backend="local", price_per_hour=price_per_hour, pids=(pid,),
        idle_timeout_s=idle_timeout_s, max_lifetime_s=max_lifetime_s,
        extra={"threads": threads, "memory": memory, "workers": {}, "wanted": workers},
    )  # fmt: skip
    save_record(record)
    try:
        dashboard = info.get("services", {}).get("dashboard")
        record = replace(
            record,
            address=info["address"],
            extra={**record.extra, "dashboard": dashboard},
        )
        save_record(record)
        local_scale(name, workers, timeout=max(1.0, deadline - time.monotonic()))
        if jupyter:
            from daskcloud.cluster._local_jupyter import start_jupyter

            server = start_jupyter(
                directory, info["address"], idle_timeout_s=idle_timeout_s,
                deadline=record.created_at + max_lifetime_s,
                timeout=max(30.0, deadline - time.monotonic()),
            )  # fmt: skip
            save_record(replace(_record(name), extra={**_record(name).extra, "jupyter": server}))
    except BaseException:
        local_down(name)
        raise
    return local_status(name)


def _client(address: str, timeout: float = 10.0):
    from distributed import Client

    return Client(address, timeout=timeout, set_as_default=False)


def local_scale(name: str, workers: int, *, timeout: float = 60.0) -> int:
    """Start or retire worker processes until ``workers`` run; wait (bounded) for them."""
    record = _record(name)
    if workers < 0:
        raise ConfigError(f"workers {workers} is negative; give 0 or more, e.g. 4")
    running = {k: v for k, v in record.extra["workers"].items() if _alive(v)}
    names = sorted(running, key=lambda k: int(k.rsplit("-", 1)[1]))
    directory = cluster_dir("local", name)
    next_index = max((int(k.rsplit("-", 1)[1]) for k in record.extra["workers"]), default=-1) + 1
    for index in range(next_index, next_index + max(0, workers - len(running))):
        key = f"{name}-worker-{index}"
        running[key] = _spawn(_worker_cmd(record, index), directory / f"worker-{index}.log")
    retire = names[workers:] if workers < len(names) else []
    record = replace(record, extra={**record.extra, "workers": running, "wanted": workers})
    save_record(record)
    with _client(record.address or "", timeout) as client:
        if retire:
            client.retire_workers(names=retire, close_workers=True)
            _stop([running.pop(k) for k in retire])
            save_record(replace(record, extra={**record.extra, "workers": running}))
        try:
            if workers:
                client.wait_for_workers(workers, timeout=timeout)
        except TimeoutError:
            raise ClusterError(
                f"local cluster {name!r}: {len(client.scheduler_info(n_workers=-1)['workers'])}/"
                f"{workers} workers after {timeout:.0f} s; see "
                f"`daskcloud cluster logs {name} --worker 0`"
            ) from None
    return workers


def _record(name: str) -> ClusterRecord:
    record = load_record("local", name)
    if record is None:
        raise ClusterError(
            f"no local cluster {name!r} on this machine; `daskcloud cluster list --backend local` "
            "shows them"
        )
    return record


def _idle_since(dask_scheduler) -> float | None:  # runs on the scheduler
    return dask_scheduler.idle_since


def local_status(name: str) -> ClusterStatus:
    """State, workers, age, time left, idle time and cost of a local cluster."""
    record = _record(name)
    scheduler_alive = bool(record.pids) and _alive(record.pids[0])
    ready, idle = 0, None
    if scheduler_alive and record.address:
        with contextlib.suppress(OSError, TimeoutError), _client(record.address, 5) as client:
            ready = len(client.scheduler_info(n_workers=-1)["workers"])
            since = client.run_on_scheduler(_idle_since)
            idle = max(0.0, time.time() - since) if since else 0.0
    wanted = int(record.extra.get("wanted", 0))
    state = "finished" if not scheduler_alive else ("running" if ready >= wanted else "starting")
    members = [MemberInfo(f"pid {record.pids[0]}", "scheduler",
                          "Running" if scheduler_alive else "Exited", scheduler_alive)]  # fmt: skip
    for key, pid in sorted(record.extra.get("workers", {}).items()):
        alive = _alive(pid)
        members.append(
            MemberInfo(f"{key} (pid {pid})", "worker", "Running" if alive else "Exited", alive)
        )
    if "jupyter" in record.extra:
        pid = record.extra["jupyter"]["pid"]
        alive = _alive(pid)
        members.append(
            MemberInfo(f"jupyter (pid {pid})", "jupyter", "Running" if alive else "Exited", alive)
        )
    created = dt.datetime.fromtimestamp(record.created_at, dt.UTC)
    dashboard = record.extra.get("dashboard")
    return ClusterStatus(
        name=name, backend="local", namespace=None, cluster_id=name, state=state,
        created_at=created, age_s=time.time() - record.created_at,
        max_lifetime_s=record.max_lifetime_s, idle_timeout_s=record.idle_timeout_s,
        workers_wanted=wanted, workers_ready=ready, scheduler_ready=scheduler_alive,
        price_per_hour=record.price_per_hour, members=tuple(members),
        reason="" if scheduler_alive else "the scheduler exited (idle timeout?); run cluster down",
        address=record.address,
        dashboard_url=f"http://127.0.0.1:{dashboard}/status" if dashboard else None, idle_s=idle,
    )  # fmt: skip


def local_list() -> list[ClusterStatus]:
    """Every local cluster recorded on this machine."""
    return [local_status(r.name) for r in list_records("local")]


def local_logs(name: str, *, worker: int | None = None, tail: int = 200) -> str:
    """The last ``tail`` lines of the scheduler's (or worker ``worker``'s) log."""
    _record(name)
    directory = cluster_dir("local", name)
    path = directory / ("scheduler.log" if worker is None else f"worker-{worker}.log")
    if not path.exists():
        raise ClusterError(f"local cluster {name!r} has no log {path.name}; check --worker")
    return _tail(path, tail)


def local_down(name: str) -> bool:
    """Stop the processes and forget the cluster (idempotent): True when it existed."""
    record = load_record("local", name)
    if record is None:
        return False
    jupyter = [record.extra["jupyter"]["pid"]] if "jupyter" in record.extra else []
    _stop([*jupyter, *record.extra.get("workers", {}).values(), *record.pids])
    remove_record("local", name)
    return True


def local_jupyter_url(name: str) -> str:
    """The URL (token included) of the cluster's JupyterLab; ClusterError when it has none."""
    from daskcloud.cluster._notebook import TOKEN_FILE, notebook_url

    record = _record(name)
    server = record.extra.get("jupyter")
    if server is None:
        raise ClusterError(
            f"local cluster {name!r} has no notebook; start one with "
            f"`daskcloud cluster up --backend local --name {name} --jupyter` (after cluster down)"
        )
    if not _alive(server["pid"]):
        raise ClusterError(
            f"the notebook of local cluster {name!r} has stopped (its maximum lifetime?); see "
            f"{cluster_dir('local', name) / 'jupyter.log'}"
        )
    token = (cluster_dir("local", name) / TOKEN_FILE).read_text().strip()
    return notebook_url(server["port"], token)

"""A Slurm cluster's life: up -> (status | scale | logs)* -> down; list finds every one.

The scheduler runs detached on the login node (or, with ``--scheduler-in-job``, as its own
batch job); its keeper (:mod:`._keeper`) submits the worker jobs. Everything the cluster needs
lives in ``$DASKCLOUD_HOME/slurm/<name>/`` — in the user's home, which login and compute
nodes share: the record, the TLS files (0600), the scheduler file, the keeper's state and the
jobs' output. So any login node can run ``status``, ``scale``, ``logs`` and ``down``, and
``list`` also asks ``squeue`` for jobs of clusters whose record is gone.

Every failure is one :class:`~daskcloud.exceptions.ClusterError` line, with Slurm's reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from daskcloud.cluster._certs import ClientCredentials, issue_tls, write_private
from daskcloud.cluster._detached import alive, pid_of, start_scheduler, stop, tail
from daskcloud.cluster._state import (
    ClusterRecord,
    cluster_dir,
    list_records,
    load_record,
    remove_record,
    save_record,
)
from daskcloud.cluster._status import ClusterStatus, MemberInfo
from daskcloud.cluster.slurm._commands import cancel, check_commands, queue, submit
from daskcloud.cluster.slurm._keeper import read_keeper
from daskcloud.cluster.slurm._queue import JobInfo
from daskcloud.cluster.slurm._reasons import NEVER_STARTS, explain_ended, explain_pending
from daskcloud.cluster.slurm._scripts import (
    KEEPER_ENV,
    _slurm_job_class,
    driver_job_script,
    scheduler_args,
    scheduler_job_script,
)
from daskcloud.cluster.slurm._spec import SlurmSpec
from daskcloud.exceptions import ClusterError, ConfigError

__all__ = [
    "client_credentials",
    "slurm_down",
    "slurm_list",
    "slurm_logs",
    "slurm_scale",
    "slurm_status",
    "slurm_up",
    "submit_driver",
]


def client_credentials(spec: SlurmSpec) -> ClientCredentials:
    """The client's TLS files of the cluster."""
    return ClientCredentials(
        directory=spec.path,
        ca_file=Path(spec.file("ca.pem")),
        cert_file=Path(spec.file("client.pem")),
        key_file=Path(spec.file("client-key.pem")),
    )


def _record(name: str) -> ClusterRecord:
    record = load_record("slurm", name)
    if record is None:
        raise ClusterError(
            f"no Slurm cluster {name!r} in {cluster_dir('slurm', name).parent}; "
            "`daskcloud cluster list --backend slurm` shows yours"
        )
    return record


def _spec(record: ClusterRecord) -> SlurmSpec:
    return SlurmSpec.from_dict(record.extra["spec"])


def _client(address: str, spec: SlurmSpec, timeout: float = 10.0) -> Any:
    from distributed import Client

    security = client_credentials(spec).security()
    return Client(address, security=security, timeout=timeout, set_as_default=False)


# --- up ----------------------------------------------------------------------------------------


def slurm_up(
    spec: SlurmSpec, *, timeout: float = 300.0, progress: Callable[[str], None] | None = None
) -> ClusterStatus:
    """Start the scheduler, let its keeper submit the workers, wait until they connect.

    On any failure — a submission Slurm refuses, a job that can never start, the timeout,
    Ctrl-C — the cluster is taken down again (scheduler stopped, jobs cancelled, files removed)
    before the error propagates.
    """
    check_commands()
    _slurm_job_class()  # fails with the install command before anything starts
    existing = load_record("slurm", spec.name)
    if existing is not None or any(j.active for j in queue(spec.name, finished=False)):
        raise ClusterError(
            f"Slurm cluster {spec.name!r} already exists; use it (daskcloud cluster status "
            f"{spec.name}), pick another --name, or delete it first (daskcloud cluster down "
            f"{spec.name} --backend slurm)"
        )
    directory = spec.path
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    spec.log_directory.mkdir(exist_ok=True, mode=0o700)
    host = socket.gethostname()
    tls = issue_tls(
        f"slurm/{spec.name}", spec.max_lifetime_s,
        scheduler_dns=[host, socket.getfqdn(), "localhost"], worker_dns=[f"{spec.name}-workers"],
    )  # fmt: skip
    for file, text in tls.all_files().items():
        write_private(directory / file, text)
    record = ClusterRecord(
        name=spec.name, backend="slurm", created_at=spec.created_at,
        price_per_hour=spec.price_per_hour, tls_dir=str(directory),
        idle_timeout_s=spec.idle_timeout_s, max_lifetime_s=spec.max_lifetime_s,
        extra={"spec": spec.to_dict(), "wanted": spec.workers, "host": host},
    )  # fmt: skip
    save_record(record)
    deadline = time.monotonic() + timeout
    try:
        if spec.options.scheduler_in_job:
            job_id = submit(scheduler_job_script(spec))
            record = replace(record, extra={**record.extra, "scheduler_job": job_id})
            save_record(record)
            info = _wait_scheduler_job(spec, job_id, deadline, progress)
        else:
            pid, info = start_scheduler(
                scheduler_args(spec), directory, timeout=min(60.0, max(1.0, timeout)),
                env={KEEPER_ENV: str(directory)},
            )  # fmt: skip
            record = replace(record, pids=(pid,))
        record = replace(
            record,
            address=info["address"],
            extra={**record.extra, "dashboard": info.get("services", {}).get("dashboard")},
        )
        save_record(record)
        _wait_workers(spec, record, deadline, timeout, progress)
    except BaseException:
        slurm_down(spec.name)
        raise
    return slurm_status(spec.name)


def _pending_reasons(jobs: list[JobInfo]) -> list[str]:
    return [
        f"job {j.job_id} ({j.role}{'' if j.index is None else f' {j.index}'}) is pending: "
        + explain_pending(j.reason)
        for j in jobs
        if j.state == "PENDING"
    ]


def _wait_scheduler_job(
    spec: SlurmSpec, job_id: str, deadline: float, progress: Callable[[str], None] | None
) -> dict:
    from daskcloud.cluster._detached import read_json

    file = Path(spec.file("scheduler.json"))
    while (info := read_json(file)) is None:
        job = next((j for j in queue(spec.name) if j.job_id == job_id), None)
        if job is not None and not job.active:
            raise ClusterError(
                f"the scheduler job {job_id} of cluster {spec.name!r} ended: "
                + explain_ended(job.state, job.reason)
            )
        if job is not None and job.state == "PENDING" and job.reason in NEVER_STARTS:
            raise ClusterError(f"cluster {spec.name!r} cannot start: " + _pending_reasons([job])[0])
        if time.monotonic() > deadline:
            why = _pending_reasons([job]) if job else [f"job {job_id} is not in the queue"]
            raise ClusterError(
                f"the scheduler job of cluster {spec.name!r} did not start in time: "
                + "; ".join(why)
                + "; retry with a longer --timeout"
            )
        if progress:
            progress(f"scheduler job {job_id}: {job.state if job else 'submitted'}")
        time.sleep(1.0)
    return info


def _wait_workers(
    spec: SlurmSpec,
    record: ClusterRecord,
    deadline: float,
    timeout: float,
    progress: Callable[[str], None] | None,
) -> None:
    wanted = spec.workers
    last = ""
    with _client(record.address or "", spec, timeout=max(5.0, deadline - time.monotonic())) as c:
        while True:
            ready = len(c.scheduler_info(n_workers=-1)["workers"])
            if ready >= wanted:
                return
            keeper = read_keeper(spec.path)
            if keeper.error:
                raise ClusterError(f"cluster {spec.name!r} cannot start: {keeper.error}")
            if record.pids and not alive(record.pids[0]):
                raise ClusterError(
                    f"the scheduler of cluster {spec.name!r} exited; its last log lines: "
                    + tail(spec.path / "scheduler.log", 5).replace("\n", " | ")
                )
            jobs = [j for j in queue(spec.name) if j.role == "worker" and j.active]
            never = [j for j in jobs if j.state == "PENDING" and j.reason in NEVER_STARTS]
            if never:
                raise ClusterError(
                    f"cluster {spec.name!r} cannot start: " + "; ".join(_pending_reasons(never))
                )
            line = f"{ready}/{wanted} workers connected; jobs: " + (
                ", ".join(f"{j.job_id} {j.state}" for j in jobs) or "none yet"
            )
            if progress and line != last:
                progress(line)
                last = line
            if time.monotonic() > deadline:
                reasons = _pending_reasons(jobs) or ["the workers did not connect; see logs"]
                raise ClusterError(
                    f"cluster {spec.name!r} was not ready after {timeout:.0f} s ({ready}/{wanted} "
                    "workers connected): " + "; ".join(reasons) + "; retry with a longer "
                    "--timeout, or ask for less"
                )
            time.sleep(1.0)


# --- status, list -------------------------------------------------------------------------------


def _scheduler_member(record: ClusterRecord, jobs: list[JobInfo]) -> tuple[MemberInfo, bool]:
    job_id = record.extra.get("scheduler_job")
    if job_id:
        job = next((j for j in jobs if j.job_id == job_id), None)
        up = job is not None and job.running
        state = job.state if job else "gone"
        return MemberInfo(f"job {job_id}", "scheduler", state, up), up
    ident = record.pids[0] if record.pids else None
    pid = pid_of(ident)
    host = record.extra.get("host", "")
    if host == socket.gethostname():
        up = alive(ident)
        return MemberInfo(
            f"pid {pid} on {host}", "scheduler", "Running" if up else "Exited", up
        ), up
    return MemberInfo(f"pid {pid} on {host}", "scheduler", "on another login node", True), True


def _job_member(job: JobInfo) -> MemberInfo:
    if job.state == "PENDING":
        state = "PENDING: " + explain_pending(job.reason)
    elif job.active:
        left = "" if job.left_s is None else f", {int(job.left_s // 60)} min left"
        state = f"{job.state} on {job.nodes}{left}"
    else:
        state = explain_ended(job.state, job.reason)
    what = "" if job.index is None else f" {job.index}"
    return MemberInfo(f"job {job.job_id} ({job.role}{what})", job.role, state, job.running)


def _idle_since(dask_scheduler) -> float | None:  # runs on the scheduler
    return dask_scheduler.idle_since


def _cpu_hours(spec: SlurmSpec, jobs: list[JobInfo]) -> float:
    seen = {jid: float(v.get("cpu_s", 0.0)) for jid, v in read_keeper(spec.path).jobs.items()}
    seen |= {j.job_id: j.cpu_seconds for j in jobs}
    return sum(seen.values()) / 3600


def slurm_status(name: str) -> ClusterStatus:
    """Jobs and their Slurm states, workers connected, age, time left, CPU-hours and cost."""
    record = _record(name)
    spec = _spec(record)
    jobs = queue(name)
    scheduler, scheduler_up = _scheduler_member(record, jobs)
    ready, idle, reachable = 0, None, False
    if scheduler_up and record.address:
        with contextlib.suppress(OSError, TimeoutError), _client(record.address, spec, 5) as c:
            ready = len(c.scheduler_info(n_workers=-1)["workers"])
            since = c.run_on_scheduler(_idle_since)
            idle = max(0.0, time.time() - since) if since else 0.0
            reachable = True
    wanted = int(record.extra.get("wanted", 0))
    keeper = read_keeper(spec.path)
    pending = _pending_reasons([j for j in jobs if j.role == "worker"])
    if not reachable:
        state, reason = "finished", "the scheduler is gone (idle timeout or lifetime); run down"
    elif keeper.error:
        state, reason = "failed", keeper.error
    else:
        state = "running" if ready >= wanted else "starting"
        reason = "; ".join(pending)
    members = [scheduler, *(_job_member(j) for j in sorted(jobs, key=lambda j: int(j.job_id)))]
    dashboard = record.extra.get("dashboard")
    host = record.extra.get("host", "localhost")
    return ClusterStatus(
        name=name, backend="slurm", namespace=None, cluster_id=name, state=state,
        created_at=dt.datetime.fromtimestamp(record.created_at, dt.UTC),
        age_s=time.time() - record.created_at, max_lifetime_s=record.max_lifetime_s,
        idle_timeout_s=record.idle_timeout_s, workers_wanted=wanted, workers_ready=ready,
        scheduler_ready=reachable, price_per_hour=record.price_per_hour, members=tuple(members),
        reason=reason, address=record.address,
        dashboard_url=f"http://{host}:{dashboard}/status (on {host} only; ssh -L)"
        if dashboard and not spec.options.scheduler_in_job else None,
        idle_s=idle, cpu_hours=_cpu_hours(spec, jobs),
        price_per_cpu_hour=spec.options.price_per_cpu_hour,
    )  # fmt: skip


def slurm_list() -> list[ClusterStatus]:
    """Every Slurm cluster of this user: recorded in the (shared) home, or with jobs in squeue."""
    names = {r.name for r in list_records("slurm")}
    orphans: dict[str, list[JobInfo]] = {}
    for job in queue(None, finished=False):
        if job.cluster not in names:
            orphans.setdefault(job.cluster, []).append(job)
    out = [slurm_status(n) for n in sorted(names)]
    now = time.time()
    for cluster, jobs in sorted(orphans.items()):
        first = min((j.submitted.timestamp() for j in jobs if j.submitted), default=now)
        out.append(
            ClusterStatus(
                name=cluster,
                backend="slurm",
                namespace=None,
                cluster_id=cluster,
                state="orphaned",
                created_at=dt.datetime.fromtimestamp(first, dt.UTC),
                age_s=now - first,
                max_lifetime_s=None,
                idle_timeout_s=None,
                workers_wanted=0,
                workers_ready=0,
                scheduler_ready=False,
                price_per_hour=None,
                members=tuple(_job_member(j) for j in jobs),
                reason="jobs without a record in this home; `daskcloud cluster down` cancels them",
                cpu_hours=sum(j.cpu_seconds for j in jobs) / 3600,
            )
        )
    return sorted(out, key=lambda s: s.created_at)


# --- scale, logs, down --------------------------------------------------------------------------


def slurm_scale(name: str, workers: int) -> int:
    """Set the number of worker jobs; the scheduler's keeper submits or cancels within seconds."""
    if workers < 0:
        raise ConfigError(f"workers {workers} is negative; give 0 or more, e.g. 4")
    record = _record(name)
    spec = replace(_spec(record), workers=workers)
    save_record(
        replace(
            record,
            price_per_hour=spec.price_per_hour,
            extra={**record.extra, "wanted": workers, "spec": spec.to_dict()},
        )
    )
    return workers


def submit_driver(name: str, argv: list[str], *, cwd: str | Path) -> str:
    """Run ``daskcloud ARGV`` as a batch job of cluster ``name`` (``tune --detach``); its id.

    The job gets the time the cluster has left, and ``cluster down`` cancels it with the rest.
    """
    check_commands("sbatch")
    record = _record(name)
    spec = _spec(record)
    left = spec.deadline - time.time()
    if left < 60:
        raise ClusterError(
            f"Slurm cluster {name!r} has {max(0, int(left))} s of its lifetime left; start a new "
            "one for this search"
        )
    job_id = submit(driver_job_script(spec, argv, cwd=str(cwd), walltime_s=left))
    save_record(replace(_record(name), extra={**_record(name).extra, "driver_job": job_id}))
    return job_id


def slurm_logs(
    name: str, *, worker: int | None = None, driver: bool = False, tail_lines: int = 200
) -> str:
    """The output of the scheduler, of worker ``worker``'s newest job, or of the driver job."""
    record = _record(name)
    spec = _spec(record)
    if worker is None and not driver and not record.extra.get("scheduler_job"):
        return tail(spec.path / "scheduler.log", tail_lines)
    role = "driver" if driver else "scheduler" if worker is None else f"worker-{worker}"
    files = sorted(
        spec.log_directory.glob(f"daskcloud-{name}-{role}-*.err"),
        key=lambda p: int(p.stem.rsplit("-", 1)[1]),
    )
    if not files:
        raise ClusterError(
            f"Slurm cluster {name!r} has no output of {role.replace('-', ' ')} yet (is its job "
            f"still pending, or is there no such worker?); `daskcloud cluster status {name}` "
            "shows the jobs"
        )
    newest = files[-1]
    text = tail(newest.with_suffix(".out"), tail_lines)
    return "\n".join(filter(None, [text, tail(newest, tail_lines)]))


def slurm_down(name: str, *, wait: float = 30.0) -> bool:
    """Stop the scheduler, cancel every job of the cluster, remove its files (idempotent).

    Returns False when there was nothing to delete. Jobs are found by name in ``squeue``, so a
    cluster whose record is gone is cleaned up too.
    """
    check_commands("squeue", "scancel")
    record = load_record("slurm", name)
    found = record is not None
    if record is not None and record.pids and record.extra.get("host") == socket.gethostname():
        stop(list(record.pids))
    elif record is not None and record.address and not record.extra.get("scheduler_job"):
        with contextlib.suppress(Exception), _client(record.address, _spec(record), 5) as c:
            c.shutdown()  # a scheduler on another login node
    deadline = time.monotonic() + wait
    while True:
        # the scheduler's job first, so its keeper submits nothing more; then the workers
        active = [j for j in queue(name, finished=False) if j.state != "COMPLETING"]
        found = found or bool(active)
        first = [j for j in active if j.role == "scheduler"] or active
        if not first or time.monotonic() > deadline:
            break
        cancel([j.job_id for j in first])
        time.sleep(0.5)
    remove_record("slurm", name)
    return found

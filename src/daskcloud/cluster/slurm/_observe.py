"""What a Slurm cluster is doing: its record, status and the list of every one of the user's.

The record and TLS files live in ``$DASKCLOUD_HOME/slurm/<name>/`` (see :mod:`._lifecycle`);
``status`` asks ``squeue`` for the cluster's jobs and the scheduler for its workers, and
``list`` also finds jobs of clusters whose record is gone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import time
from pathlib import Path
from typing import Any

from daskcloud.cluster._certs import ClientCredentials
from daskcloud.cluster._detached import alive, pid_of
from daskcloud.cluster._state import ClusterRecord, cluster_dir, list_records, load_record
from daskcloud.cluster._status import ClusterStatus, MemberInfo
from daskcloud.cluster.slurm._commands import queue
from daskcloud.cluster.slurm._keeper import read_keeper
from daskcloud.cluster.slurm._queue import JobInfo
from daskcloud.cluster.slurm._reasons import explain_ended, explain_pending
from daskcloud.cluster.slurm._spec import SlurmSpec
from daskcloud.exceptions import ClusterError

__all__ = [
    "client_credentials",
    "connect_client",
    "pending_reasons",
    "record_of",
    "slurm_list",
    "slurm_status",
    "spec_of",
]


def client_credentials(spec: SlurmSpec) -> ClientCredentials:
    """The client's TLS files of the cluster."""
    return ClientCredentials(
        directory=spec.path,
        ca_file=Path(spec.file("ca.pem")),
        cert_file=Path(spec.file("client.pem")),
        key_file=Path(spec.file("client-key.pem")),
    )


def record_of(name: str) -> ClusterRecord:
    """The record of Slurm cluster ``name``; ClusterError naming the list command if none."""
    record = load_record("slurm", name)
    if record is None:
        raise ClusterError(
            f"no Slurm cluster {name!r} in {cluster_dir('slurm', name).parent}; "
            "`daskcloud cluster list --backend slurm` shows yours"
        )
    return record


def spec_of(record: ClusterRecord) -> SlurmSpec:
    """The SlurmSpec the cluster was made with."""
    return SlurmSpec.from_dict(record.extra["spec"])


def connect_client(address: str, spec: SlurmSpec, timeout: float = 10.0) -> Any:
    """A Client of the cluster's scheduler, with the client's TLS files."""
    from distributed import Client

    security = client_credentials(spec).security()
    return Client(address, security=security, timeout=timeout, set_as_default=False)


def pending_reasons(jobs: list[JobInfo]) -> list[str]:
    """Why each pending job of ``jobs`` waits, in words."""
    return [
        f"job {j.job_id} ({j.role}{'' if j.index is None else f' {j.index}'}) is pending: "
        + explain_pending(j.reason)
        for j in jobs
        if j.state == "PENDING"
    ]


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
    record = record_of(name)
    spec = spec_of(record)
    jobs = queue(name)
    scheduler, scheduler_up = _scheduler_member(record, jobs)
    ready, idle, reachable = 0, None, False
    if scheduler_up and record.address:
        with (
            contextlib.suppress(OSError, TimeoutError),
            connect_client(record.address, spec, 5) as c,
        ):
            ready = len(c.scheduler_info(n_workers=-1)["workers"])
            since = c.run_on_scheduler(_idle_since)
            idle = max(0.0, time.time() - since) if since else 0.0
            reachable = True
    wanted = int(record.extra.get("wanted", 0))
    keeper = read_keeper(spec.path)
    pending = pending_reasons([j for j in jobs if j.role == "worker"])
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

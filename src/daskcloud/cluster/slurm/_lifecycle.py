"""A Slurm cluster's life: up -> (status | scale | logs)* -> down (status, list: :mod:`._observe`).

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
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from daskcloud.cluster._certs import issue_tls, write_private
from daskcloud.cluster._detached import alive, start_scheduler, stop, tail
from daskcloud.cluster._state import ClusterRecord, load_record, remove_record, save_record
from daskcloud.cluster._status import ClusterStatus
from daskcloud.cluster.slurm._commands import cancel, check_commands, queue, submit
from daskcloud.cluster.slurm._keeper import read_keeper
from daskcloud.cluster.slurm._observe import (
    connect_client,
    pending_reasons,
    record_of,
    slurm_status,
    spec_of,
)
from daskcloud.cluster.slurm._reasons import NEVER_STARTS, explain_ended
from daskcloud.cluster.slurm._scripts import (
    KEEPER_ENV,
    _slurm_job_class,
    driver_job_script,
    scheduler_args,
    scheduler_job_script,
)
from daskcloud.cluster.slurm._spec import SlurmSpec
from daskcloud.exceptions import ClusterError, ConfigError

__all__ = ["slurm_down", "slurm_logs", "slurm_scale", "slurm_up", "submit_driver"]


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
            raise ClusterError(f"cluster {spec.name!r} cannot start: " + pending_reasons([job])[0])
        if time.monotonic() > deadline:
            why = pending_reasons([job]) if job else [f"job {job_id} is not in the queue"]
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
    with connect_client(
        record.address or "", spec, timeout=max(5.0, deadline - time.monotonic())
    ) as c:
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
                    f"cluster {spec.name!r} cannot start: " + "; ".join(pending_reasons(never))
                )
            line = f"{ready}/{wanted} workers connected; jobs: " + (
                ", ".join(f"{j.job_id} {j.state}" for j in jobs) or "none yet"
            )
            if progress and line != last:
                progress(line)
                last = line
            if time.monotonic() > deadline:
                reasons = pending_reasons(jobs) or ["the workers did not connect; see logs"]
                raise ClusterError(
                    f"cluster {spec.name!r} was not ready after {timeout:.0f} s ({ready}/{wanted} "
                    "workers connected): " + "; ".join(reasons) + "; retry with a longer "
                    "--timeout, or ask for less"
                )
            time.sleep(1.0)


# --- scale, logs, down --------------------------------------------------------------------------


def slurm_scale(name: str, workers: int) -> int:
    """Set the number of worker jobs; the scheduler's keeper submits or cancels within seconds."""
    if workers < 0:
        raise ConfigError(f"workers {workers} is negative; give 0 or more, e.g. 4")
    record = record_of(name)
    spec = replace(spec_of(record), workers=workers)
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
    record = record_of(name)
    spec = spec_of(record)
    left = spec.deadline - time.time()
    if left < 60:
        raise ClusterError(
            f"Slurm cluster {name!r} has {max(0, int(left))} s of its lifetime left; start a new "
            "one for this search"
        )
    job_id = submit(driver_job_script(spec, argv, cwd=str(cwd), walltime_s=left))
    save_record(replace(record_of(name), extra={**record_of(name).extra, "driver_job": job_id}))
    return job_id


def slurm_logs(
    name: str, *, worker: int | None = None, driver: bool = False, tail_lines: int = 200
) -> str:
    """The output of the scheduler, of worker ``worker``'s newest job, or of the driver job."""
    record = record_of(name)
    spec = spec_of(record)
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
        with (
            contextlib.suppress(Exception),
            connect_client(record.address, spec_of(record), 5) as c,
        ):
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

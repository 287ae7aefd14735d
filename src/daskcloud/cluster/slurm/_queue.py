"""What ``squeue`` says about a cluster's jobs, parsed into typed rows (pure).

``squeue -h -t all -o FORMAT`` prints one ``|``-separated line per job with the fields of
:data:`SQUEUE_FORMAT`; :func:`parse_squeue` turns them into :class:`JobInfo`, keeping only
daskcloud's jobs (named ``daskcloud-<cluster>-<role>``). ``-t all`` includes jobs that ended in
the last ``MinJobAge`` seconds (5 minutes by default), which is how a failed, preempted or
timed-out job is seen with its final state.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from daskcloud.cluster.slurm._spec import parse_job_name

__all__ = ["ACTIVE_STATES", "SQUEUE_FORMAT", "JobInfo", "parse_slurm_time", "parse_squeue"]

#: job id, name, state, reason, time used, time limit, time left, CPUs, nodes, submit time
SQUEUE_FORMAT = "%i|%j|%T|%r|%M|%l|%L|%C|%D|%N|%V"
_FIELDS = SQUEUE_FORMAT.count("|") + 1

#: states in which a job holds or waits for resources (everything else has ended)
ACTIVE_STATES = frozenset(
    {
        "PENDING", "CONFIGURING", "RUNNING", "SUSPENDED", "COMPLETING", "REQUEUED",
        "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "RESV_DEL_HOLD", "SIGNALING",
        "STAGE_OUT", "STOPPED",
    }
)  # fmt: skip
_TIME = re.compile(r"^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$")


@dataclass(frozen=True)
class JobInfo:
    """One daskcloud job as ``squeue`` reports it."""

    job_id: str
    name: str
    cluster: str
    role: str  # worker | scheduler | driver
    index: int | None  # worker number
    state: str  # PENDING, RUNNING, COMPLETED, FAILED, PREEMPTED, TIMEOUT, ...
    reason: str  # Slurm's reason code ("None" when there is none)
    elapsed_s: float
    limit_s: float | None
    left_s: float | None
    cpus: int
    nodes: str
    submitted: dt.datetime | None

    @property
    def active(self) -> bool:
        """Pending or running (not yet ended)."""
        return self.state in ACTIVE_STATES

    @property
    def running(self) -> bool:
        return self.state == "RUNNING"

    @property
    def cpu_seconds(self) -> float:
        """CPU-seconds the job has held (its CPUs x the time it ran)."""
        return self.cpus * self.elapsed_s


def parse_slurm_time(text: str) -> float | None:
    """Seconds in Slurm's ``[D-]HH:MM:SS`` / ``MM:SS``; None for UNLIMITED, INVALID, N/A."""
    match = _TIME.match(text.strip())
    if match is None:
        return None
    d, h, m, s = (int(g or 0) for g in match.groups())
    return float(((d * 24 + h) * 60 + m) * 60 + s)


def _submitted(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def parse_squeue(output: str, cluster: str | None = None) -> list[JobInfo]:
    """daskcloud's jobs in ``squeue -o SQUEUE_FORMAT`` output (only ``cluster``'s if given)."""
    jobs = []
    for line in output.splitlines():
        fields = line.split("|")
        if len(fields) != _FIELDS:
            continue  # another job whose name holds a '|', or a blank line
        job_id, name, state, reason, used, limit, left, cpus, _nnodes, nodes, submit = fields
        parsed = parse_job_name(name.strip())
        if parsed is None or (cluster is not None and parsed[0] != cluster):
            continue
        jobs.append(
            JobInfo(
                job_id=job_id.strip(),
                name=name.strip(),
                cluster=parsed[0],
                role=parsed[1],
                index=parsed[2],
                state=state.strip().split()[0] if state.strip() else "UNKNOWN",
                reason=reason.strip(),
                elapsed_s=parse_slurm_time(used) or 0.0,
                limit_s=parse_slurm_time(limit),
                left_s=parse_slurm_time(left),
                cpus=int(cpus) if cpus.strip().isdigit() else 0,
                nodes=nodes.strip(),
                submitted=_submitted(submit),
            )
        )
    return jobs

"""The only code that runs Slurm's commands: ``sbatch``, ``squeue``, ``scancel``.

Each failure becomes one :class:`~daskcloud.exceptions.ClusterError` line with Slurm's own
message (``sbatch: error: Batch job submission failed: Invalid account ...``) or, when a
command is missing, what to do about it.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess

from daskcloud.cluster.slurm._queue import SQUEUE_FORMAT, JobInfo, parse_squeue
from daskcloud.exceptions import ClusterError

__all__ = ["cancel", "check_commands", "queue", "submit"]

_TIMEOUT = 60.0


def check_commands(*names: str) -> None:
    """ClusterError naming the first of ``names`` (default: sbatch, squeue, scancel) not on PATH."""
    for name in names or ("sbatch", "squeue", "scancel"):
        if shutil.which(name) is None:
            raise ClusterError(
                f"{name!r} is not installed or not on PATH; run daskcloud on a login node of "
                "your Slurm cluster (some sites need `module load slurm` first)"
            )


def _env() -> dict[str, str]:
    """This environment without the SLURM_* variables of an enclosing job (SLURM_CONF kept):
    an sbatch run inside a job would otherwise inherit that job's settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") or k == "SLURM_CONF"}


def _run(argv: list[str], *, input: str | None = None) -> str:
    try:
        proc = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=_TIMEOUT, env=_env()
        )
    except FileNotFoundError:
        check_commands(argv[0])
        raise
    except subprocess.TimeoutExpired:
        raise ClusterError(
            f"`{argv[0]}` did not answer within {_TIMEOUT:.0f} s; the Slurm controller may be "
            "busy or down — retry, or check `sinfo`"
        ) from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        message = lines[-1] if lines else f"exit code {proc.returncode}"
        raise ClusterError(f"{argv[0]} failed: {message}")
    return proc.stdout


def submit(script: str) -> str:
    """Submit a batch script (on stdin); returns the job id."""
    out = _run(["sbatch", "--parsable"], input=script).strip()
    job_id = out.split(";")[0]  # "<id>" or "<id>;<cluster>"
    if not job_id.isdigit():
        raise ClusterError(f"sbatch printed {out!r}, not a job id; check the Slurm installation")
    return job_id


def queue(cluster: str | None = None, *, finished: bool = True) -> list[JobInfo]:
    """This user's daskcloud jobs (only ``cluster``'s if given), ended ones too by default."""
    argv = ["squeue", "-h", "-u", getpass.getuser(), "-o", SQUEUE_FORMAT]
    if finished:
        argv += ["-t", "all"]
    return parse_squeue(_run(argv), cluster)


def cancel(job_ids: list[str]) -> None:
    """``scancel`` the jobs (those already ended are no error)."""
    if job_ids:
        _run(["scancel", *job_ids])

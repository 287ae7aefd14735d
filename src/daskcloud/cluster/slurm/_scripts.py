"""Batch scripts of a Slurm cluster, written by dask-jobqueue's ``SLURMJob`` (pure).

dask-jobqueue knows how a Dask worker becomes a Slurm job — the ``#SBATCH`` header from cores,
memory, walltime, partition and account, the ``dask worker`` command line with its TLS flags —
so daskcloud asks it for the script (``job_script()``) and does not write its own. It does not
submit through jobqueue's ``SLURMCluster``: that cluster lives in the Python process that made
it, and daskcloud's clusters must outlive ``cluster up``. Submitting, tracking and cancelling
are daskcloud's (:mod:`._commands`).

The scheduler's job (``--scheduler-in-job``) takes jobqueue's header for one CPU and the
scheduler's command in place of the worker's.
"""

from __future__ import annotations

import shlex
import sys
import warnings
from typing import Any

from daskcloud.cluster.slurm._spec import SlurmSpec, format_walltime, job_name
from daskcloud.exceptions import ConfigError

__all__ = [
    "KEEPER_ENV",
    "driver_job_script",
    "scheduler_args",
    "scheduler_job_script",
    "worker_job_script",
]

#: the scheduler's keeper reads its cluster's directory from this variable
KEEPER_ENV = "DASKCLOUD_SLURM_DIR"
#: what the scheduler's own job asks for
_SCHEDULER_MEMORY = 2 * 2**30


def _slurm_job_class() -> Any:
    try:
        from dask_jobqueue.slurm import SLURMJob
    except ImportError:
        raise ConfigError(
            "the Slurm backend needs dask-jobqueue; install it with: pip install 'daskcloud[slurm]'"
        ) from None
    return SLURMJob


def _job(spec: SlurmSpec, name: str, *, cores: int, memory: int, walltime_s: float,
         scheduler: str | None, worker_args: list[str], security: Any = None) -> Any:  # fmt: skip
    opts = spec.options
    extra = ([f"--qos={opts.qos}"] if opts.qos else []) + list(opts.job_extra)
    with warnings.catch_warnings():  # jobqueue warns about its own deprecated config keys
        warnings.simplefilter("ignore", FutureWarning)
        return _slurm_job_class()(
            scheduler=scheduler,
            name=name,
            job_name=job_name(spec.name, *_role(name, spec.name)),
            cores=cores,
            memory=memory,
            processes=1,
            walltime=format_walltime(walltime_s),
            queue=opts.partition,
            account=opts.account,
            job_extra_directives=extra,
            log_directory=str(spec.log_directory),
            python=sys.executable,
            death_timeout=60,
            interface=opts.interface,
            worker_extra_args=worker_args,
            security=security,
            job_script_prologue=[],
            shebang="#!/usr/bin/env bash",
        )


def _role(name: str, cluster: str) -> tuple[str, int | None]:
    role = name.removeprefix(f"{cluster}-")
    if role.startswith("worker-"):
        return "worker", int(role.split("-", 1)[1])
    return role, None


def worker_job_script(spec: SlurmSpec, address: str, index: int, *, walltime_s: float) -> str:
    """The batch script of worker ``index``: ``dask worker ADDRESS`` over the cluster's TLS.

    ``walltime_s`` is what the cluster has left. A worker with at least 10 minutes retires
    itself 2 minutes before Slurm would kill it, so its tasks move to other workers cleanly;
    shorter ones are left to Slurm.
    """
    from distributed.security import Security

    security = Security(
        tls_ca_file=spec.file("ca.pem"),
        tls_worker_cert=spec.file("worker.pem"),
        tls_worker_key=spec.file("worker-key.pem"),
        require_encryption=True,
    )
    args = ["--no-dashboard"]
    if walltime_s >= 600:
        args += ["--lifetime", f"{int(walltime_s) // 60 * 60 - 120}s"]
    job = _job(
        spec, f"{spec.name}-worker-{index}", cores=spec.cpu, memory=spec.memory,
        walltime_s=walltime_s, scheduler=address, security=security, worker_args=args,
    )  # fmt: skip
    return job.job_script()


def scheduler_args(spec: SlurmSpec, *, dashboard_host: str = "127.0.0.1") -> list[str]:
    """``dask scheduler`` arguments: TLS with the cluster's files, idle timeout, the keeper."""
    args = ["--protocol", "tls", "--port", "0", "--dashboard-address", f"{dashboard_host}:0"]
    if spec.options.interface:
        args += ["--interface", spec.options.interface]
    args += ["--idle-timeout", f"{spec.idle_timeout_s}s"]
    args += ["--tls-ca-file", spec.file("ca.pem")]
    args += ["--tls-cert", spec.file("scheduler.pem")]
    args += ["--tls-key", spec.file("scheduler-key.pem")]
    args += ["--preload", "daskcloud.cluster.slurm._keeper"]
    return args


def _script(job: Any, lines: list[str]) -> str:
    """jobqueue's shebang and ``#SBATCH`` header, then ``lines`` in place of its worker command."""
    return "\n".join([job.shebang, "", job.job_header, *lines, ""])


def driver_job_script(spec: SlurmSpec, argv: list[str], *, cwd: str, walltime_s: float) -> str:
    """The batch script of ``tune --detach``: ``daskcloud ARGV`` in ``cwd``, as a job.

    One CPU and the workers' memory (the driver holds the data it scatters), for the time the
    cluster has left.
    """
    job = _job(
        spec, f"{spec.name}-driver", cores=1, memory=spec.memory, walltime_s=walltime_s,
        scheduler=None, worker_args=[],
    )  # fmt: skip
    command = shlex.join([sys.executable, "-m", "daskcloud.cli", *argv])
    return _script(job, [f"cd {shlex.quote(cwd)}", command])


def scheduler_job_script(spec: SlurmSpec) -> str:
    """The batch script of ``--scheduler-in-job``: jobqueue's header, the scheduler's command.

    Its walltime is the cluster's maximum lifetime; it writes ``scheduler.json`` into the
    cluster's directory (shared with the login node), where ``cluster up`` waits for it.
    """
    job = _job(
        spec, f"{spec.name}-scheduler", cores=1, memory=_SCHEDULER_MEMORY,
        walltime_s=spec.max_lifetime_s, scheduler=None, worker_args=[],
    )  # fmt: skip
    command = [sys.executable, "-m", "distributed.cli.dask_scheduler", *scheduler_args(spec)]
    command += ["--scheduler-file", spec.file("scheduler.json")]
    return _script(job, [f"export {KEEPER_ENV}={shlex.quote(spec.directory)}", shlex.join(command)])

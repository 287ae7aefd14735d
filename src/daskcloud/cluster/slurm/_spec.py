"""What a Slurm cluster is: a frozen, validated spec, and the names and files derived from it.

:class:`SlurmSpec` is validated once, at the edge (``cluster up``); everything else — job
scripts, job names, the keeper's plan — is a pure function of it. It travels in the cluster's
record (``cluster.json`` in the shared home) so that the scheduler's keeper and any login node
read the same spec.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from daskcloud.core.units import parse_duration, parse_memory
from daskcloud.exceptions import ConfigError

__all__ = [
    "JOB_PREFIX",
    "SlurmOptions",
    "SlurmSpec",
    "format_walltime",
    "job_name",
    "parse_job_name",
]

#: every Slurm job of a daskcloud cluster is named ``daskcloud-<cluster>-<role>``
JOB_PREFIX = "daskcloud-"
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_JOB = re.compile(
    r"^daskcloud-(?P<cluster>.+)-(?:worker-(?P<index>\d+)|(?P<role>scheduler|driver))$"
)


@dataclass(frozen=True)
class SlurmOptions:
    """The Slurm-only options of ``cluster up`` (everything else is shared by the backends)."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    job_extra: tuple[str, ...] = ()
    scheduler_in_job: bool = False
    price_per_cpu_hour: float | None = None
    interface: str | None = None


@dataclass(frozen=True)
class SlurmSpec:
    """A Slurm cluster: ``workers`` batch jobs of ``cpu`` CPUs and ``memory`` bytes each.

    ``max_lifetime_s`` is every job's walltime (Slurm ends forgotten workers), counted from
    ``created_at``: a job submitted later gets only the time the cluster has left.
    ``idle_timeout_s`` ends the scheduler.
    """

    name: str
    directory: str
    workers: int = 2
    cpu: int = 1
    memory: int = 4 * 2**30
    idle_timeout_s: int = 1200
    max_lifetime_s: int = 8 * 3600
    created_at: float = 0.0
    options: SlurmOptions = field(default_factory=SlurmOptions)

    def __post_init__(self) -> None:
        if len(self.name) > 40 or not _NAME.match(self.name):
            raise ConfigError(
                f"cluster name {self.name!r} must be lowercase letters, digits and '-', start "
                "with a letter and be at most 40 characters, e.g. hpo"
            )
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0:
            raise ConfigError(f"--workers {self.workers!r} must be 0 or more, e.g. 4")
        if isinstance(self.cpu, bool) or not isinstance(self.cpu, int) or self.cpu < 1:
            raise ConfigError(f"--cpu {self.cpu!r} must be a whole number of CPUs >= 1 on Slurm")
        if self.max_lifetime_s < 60:
            raise ConfigError(
                f"--max-lifetime {self.max_lifetime_s}s is shorter than Slurm's 1-minute "
                "walltime granularity; give at least 1m"
            )
        price = self.options.price_per_cpu_hour
        if price is not None and not price >= 0:
            raise ConfigError(f"--price-per-cpu-hour {price!r} must be 0 or more, e.g. 0.02")

    @classmethod
    def build(
        cls,
        name: str,
        directory: str | Path,
        *,
        workers: int,
        cpu: str,
        memory: str,
        idle_timeout: str,
        max_lifetime: str,
        created_at: float,
        options: SlurmOptions | None = None,
    ) -> SlurmSpec:
        """The spec of ``cluster up``'s friendly values (``"4Gi"``, ``"8h"``), validated."""
        try:
            cpus = float(cpu)
        except ValueError:
            raise ConfigError(
                f"--cpu {cpu!r} must be a whole number of CPUs on Slurm, e.g. 2"
            ) from None
        if not cpus.is_integer():
            raise ConfigError(f"--cpu {cpu!r} must be a whole number of CPUs on Slurm, e.g. 2")
        try:
            seconds = {
                "idle_timeout_s": parse_duration(idle_timeout, "--idle-timeout"),
                "max_lifetime_s": parse_duration(max_lifetime, "--max-lifetime"),
            }
            nbytes = parse_memory(memory)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return cls(
            name=name, directory=str(directory), workers=workers, cpu=int(cpus), memory=nbytes,
            created_at=created_at, options=options or SlurmOptions(), **seconds,
        )  # fmt: skip

    # --- derived names and files ------------------------------------------------------------

    @property
    def path(self) -> Path:
        return Path(self.directory)

    @property
    def log_directory(self) -> Path:
        """Where the jobs' output files go (``%x-%j.out/.err``, by dask-jobqueue)."""
        return self.path / "logs"

    @property
    def deadline(self) -> float:
        """When the maximum lifetime ends (epoch seconds)."""
        return self.created_at + self.max_lifetime_s

    @property
    def price_per_hour(self) -> float | None:
        """The workers' price per hour at ``price_per_cpu_hour`` (what ``max_cost`` uses)."""
        price = self.options.price_per_cpu_hour
        return None if price is None else price * self.cpu * self.workers

    def file(self, name: str) -> str:
        """The path of file ``name`` in the cluster's directory."""
        return str(self.path / name)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["options"]["job_extra"] = list(self.options.job_extra)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SlurmSpec:
        opts = dict(data.get("options", {}))
        opts["job_extra"] = tuple(opts.get("job_extra", ()))
        return cls(**{**data, "options": SlurmOptions(**opts)})


def job_name(cluster: str, role: str, index: int | None = None) -> str:
    """``daskcloud-hpo-worker-3``, ``daskcloud-hpo-scheduler``, ``daskcloud-hpo-driver``."""
    return f"{JOB_PREFIX}{cluster}-{role}" + ("" if index is None else f"-{index}")


def parse_job_name(name: str) -> tuple[str, str, int | None] | None:
    """``(cluster, role, index)`` of a daskcloud job name, or None for any other job."""
    match = _JOB.match(name)
    if match is None:
        return None
    if match["index"] is not None:
        return match["cluster"], "worker", int(match["index"])
    return match["cluster"], match["role"], None


def format_walltime(seconds: float) -> str:
    """Slurm's ``D-HH:MM:SS`` (rounded down to whole minutes, at least 1 minute)."""
    total = max(60, int(seconds) // 60 * 60)
    days, rest = divmod(total, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:00"
    return f"{days}-{text}" if days else text

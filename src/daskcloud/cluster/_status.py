"""What ``cluster status`` and ``cluster list`` report, for every backend."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["ClusterStatus", "MemberInfo", "format_duration"]


@dataclass(frozen=True)
class MemberInfo:
    """One pod (Kubernetes) or process (local) of a cluster."""

    name: str
    component: str  # scheduler | worker | driver
    state: str
    ready: bool
    restarts: int = 0


@dataclass(frozen=True)
class ClusterStatus:
    """A cluster as its backend reports it now."""

    name: str
    backend: str  # kubernetes | local
    namespace: str | None
    cluster_id: str
    state: str  # starting | running | degraded | finished | failed
    created_at: dt.datetime
    age_s: float
    max_lifetime_s: int | None
    idle_timeout_s: int | None
    workers_wanted: int
    workers_ready: int
    scheduler_ready: bool
    price_per_hour: float | None
    members: tuple[MemberInfo, ...] = ()
    reason: str = ""
    address: str | None = None
    dashboard_url: str | None = None
    idle_s: float | None = None  # measured only when the scheduler could be asked
    rollout: str = ""  # the workers' last change (cluster update) rolling out, or ""
    cpu_hours: float | None = None  # Slurm: CPU-hours its jobs have held
    price_per_cpu_hour: float | None = None  # Slurm: cost = cpu_hours x this

    @property
    def time_left_s(self) -> float | None:
        """Seconds until the maximum lifetime ends the cluster."""
        if self.max_lifetime_s is None:
            return None
        return max(0.0, self.max_lifetime_s - self.age_s)

    @property
    def cost_so_far(self) -> float | None:
        """price_per_hour x age (Slurm: CPU-hours x price), when ``cluster up`` had a price."""
        if self.cpu_hours is not None and self.price_per_cpu_hour is not None:
            return self.cpu_hours * self.price_per_cpu_hour
        if self.price_per_hour is None:
            return None
        return self.price_per_hour * self.age_s / 3600

    def render(self) -> str:
        """Human-readable multi-line status."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        left = self.time_left_s
        lines = [
            f"cluster {where} ({self.backend}): {self.state}"
            + (f" — {self.reason}" if self.reason else ""),
            f"  workers      {self.workers_ready}/{self.workers_wanted} ready; scheduler "
            + ("ready" if self.scheduler_ready else "not ready"),
            f"  age          {format_duration(self.age_s)}"
            + (
                f"; {format_duration(left)} left of the maximum lifetime"
                if left is not None
                else ""
            ),
            "  idle         "
            + (format_duration(self.idle_s) if self.idle_s is not None else "not measured")
            + (
                f" (ends itself after {format_duration(self.idle_timeout_s)} idle)"
                if self.idle_timeout_s
                else ""
            ),
            "  cost so far  " + self._cost_text(),
        ]
        if self.rollout:
            lines.append(f"  rollout      {self.rollout}")
        if self.address:
            lines.append(f"  scheduler    {self.address}")
        if self.dashboard_url:
            lines.append(f"  dashboard    {self.dashboard_url}")
        for m in self.members:
            restarts = f", {m.restarts} restarts" if m.restarts else ""
            lines.append(f"  {m.component:<10} {m.name}: {m.state}{restarts}")
        return "\n".join(lines)

    def _cost_text(self) -> str:
        if self.cpu_hours is not None:
            cost = self.cost_so_far
            return f"{self.cpu_hours:.3f} CPU-hours" + (
                f"; {cost:.2f} (at {self.price_per_cpu_hour:g}/CPU-hour)"
                if cost is not None
                else " (give --price-per-cpu-hour at cluster up for money)"
            )
        if self.cost_so_far is not None:
            return f"{self.cost_so_far:.2f} (at {self.price_per_hour:g}/hour)"
        return "unknown (give --price-per-hour at cluster up)"

    def row(self) -> tuple[str, ...]:
        """One row of ``cluster list``: name, backend, state, workers, age, left, cost."""
        left = self.time_left_s
        cost = self.cost_so_far
        return (
            f"{self.namespace}/{self.name}" if self.namespace else self.name,
            self.backend,
            self.state,
            f"{self.workers_ready}/{self.workers_wanted}",
            format_duration(self.age_s),
            format_duration(left) if left is not None else "-",
            f"{cost:.2f}" if cost is not None else "-",
        )


def format_duration(seconds: float | None) -> str:
    """``3h12m``, ``4m05s``, ``12s``."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600:02d}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"

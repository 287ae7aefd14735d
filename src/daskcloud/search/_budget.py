"""Budgets: when a search stops early, and why.

A :class:`Budget` is a pure, frozen description of the limits; the runner
measures a :class:`Usage` in its loop and asks :meth:`Budget.exceeded`. The
first limit reached is returned as a :class:`StopReason`, which the search
keeps as ``stop_reason_`` and prints as a note. Nothing here touches Dask.

========================  ==========================================================
``max_trials``            finished trials (a halving trial is one candidate on one rung)
``max_time``              wall-clock seconds since the search started; fits in flight
                          are cancelled and journaled as cancelled
``max_cpu_hours``         fit + score CPU time of finished trials, summed over workers
``max_cost``              money: wall-clock hours x the cluster's ``price_per_hour``
                          (a local cluster costs 0, so it never stops a local search)
========================  ==========================================================

>>> budget = Budget(max_trials=10, max_time=60)
>>> budget.exceeded(Usage(n_trials=10, elapsed_s=5.0, cpu_s=9.0)).message
'stopped by the budget max_trials=10 (used 10 trials)'
>>> budget.exceeded(Usage(n_trials=3, elapsed_s=5.0, cpu_s=9.0)) is None
True
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from daskcloud.core.units import parse_duration
from daskcloud.exceptions import ConfigError

__all__ = [
    "Budget",
    "BudgetStop",
    "StopCondition",
    "StopReason",
    "Usage",
    "make_stop",
    "resolve_budget",
]

_UNITS = {"max_trials": "trials", "max_time": "s", "max_cpu_hours": "CPU h", "max_cost": "money"}


@dataclass(frozen=True)
class Usage:
    """What a search has used so far, measured by the runner."""

    n_trials: int = 0
    elapsed_s: float = 0.0
    cpu_s: float = 0.0


@dataclass(frozen=True)
class StopReason:
    """Which budget stopped the search, its limit and how much was used."""

    budget: str
    limit: float
    used: float

    @property
    def message(self) -> str:
        """One line for the terminal, the summary and ``stop_reason_``."""
        return (
            f"stopped by the budget {self.budget}={_fmt(self.limit)} "
            f"(used {_fmt(self.used)} {_UNITS[self.budget]})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for summary.json."""
        return {"budget": self.budget, "limit": self.limit, "used": self.used}


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


@dataclass(frozen=True)
class Budget:
    """Limits on a search; every field is optional (None = no limit).

    Attributes:
        max_trials: most trials to finish (trials still running then are cancelled).
        max_time: most wall-clock seconds.
        max_cpu_hours: most CPU hours of finished fits and scores.
        max_cost: most money, at ``price_per_hour`` of the cluster.
        price_per_hour: the cluster's price (0 for a local cluster); the jobs layer
            fills it from the cluster's record with :meth:`with_price`.
    """

    max_trials: int | None = None
    max_time: float | None = None
    max_cpu_hours: float | None = None
    max_cost: float | None = None
    price_per_hour: float = 0.0

    def __post_init__(self) -> None:
        if self.max_trials is not None and (
            isinstance(self.max_trials, bool)
            or not isinstance(self.max_trials, int)
            or self.max_trials < 1
        ):
            raise ConfigError(f"max_trials must be a positive integer, got {self.max_trials!r}")
        for name in ("max_time", "max_cpu_hours", "max_cost"):
            value = getattr(self, name)
            if value is not None and not _positive(value):
                raise ConfigError(f"{name} must be a positive number, got {value!r}")
        if not _positive(self.price_per_hour, zero_ok=True):
            raise ConfigError(f"price_per_hour must be a number >= 0, got {self.price_per_hour!r}")

    @property
    def limited(self) -> bool:
        """True if any limit is set."""
        return any(getattr(self, n) is not None for n in _UNITS)

    def with_price(self, price_per_hour: float | None) -> Budget:
        """This budget at the cluster's price (None, for an unknown cluster, means 0)."""
        return replace(self, price_per_hour=float(price_per_hour or 0.0))

    def used(self, usage: Usage) -> dict[str, float]:
        """Amount used of each limited budget, in that budget's unit."""
        amounts = {
            "max_trials": float(usage.n_trials),
            "max_time": usage.elapsed_s,
            "max_cpu_hours": usage.cpu_s / 3600.0,
            "max_cost": usage.elapsed_s / 3600.0 * self.price_per_hour,
        }
        return {name: amounts[name] for name in _UNITS if getattr(self, name) is not None}

    def describe(self, usage: Usage) -> str:
        """Text such as ``"budget: max_time 12/60 s, max_trials 4/10 trials"``; '' if unlimited."""
        parts = [
            f"{name} {_fmt(used)}/{_fmt(getattr(self, name))} {_UNITS[name]}"
            for name, used in self.used(usage).items()
        ]
        return "budget: " + ", ".join(parts) if parts else ""

    def exceeded(self, usage: Usage) -> StopReason | None:
        """The first budget that is used up (trials, time, CPU, cost), or None."""
        for name, used in self.used(usage).items():
            limit = getattr(self, name)
            if used >= limit:
                return StopReason(name, float(limit), float(used))
        return None

    def seconds_left(self, elapsed_s: float) -> float | None:
        """Seconds until ``max_time``, or the cost limit at this price; None if neither is set."""
        limits = []
        if self.max_time is not None:
            limits.append(self.max_time - elapsed_s)
        if self.max_cost is not None and self.price_per_hour > 0:
            limits.append(self.max_cost / self.price_per_hour * 3600.0 - elapsed_s)
        return max(0.0, min(limits)) if limits else None


def _positive(value: Any, *, zero_ok: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    return value >= 0 if zero_ok else value > 0


def resolve_budget(budget: Budget | Mapping[str, Any] | None = None, **limits: Any) -> Budget:
    """Normalise ``None | Budget | {"max_time": 60, ...}`` plus keyword limits into one Budget.

    Keyword limits that are not None override the mapping's. ``max_time`` may be a
    duration string (``"30s"``, ``"10m"``, ``"2h"``, ``"1h30m"``) as well as seconds.

    Raises:
        ConfigError: for an unknown key or a bad value, naming the accepted keys.
    """
    known = {f.name for f in fields(Budget)}
    keys = set(limits) | (set(budget) if isinstance(budget, Mapping) else set())
    unknown = sorted(keys - known)
    if unknown:
        raise ConfigError(f"unknown budget key {unknown[0]!r}; use {', '.join(sorted(known))}")
    if isinstance(budget, Budget):
        base = budget
    elif budget is None:
        base = Budget()
    elif isinstance(budget, Mapping):
        base = Budget(**_durations(budget))
    else:
        raise ConfigError(f"budget must be a Budget or a mapping, got {type(budget).__name__}")
    extra = _durations({k: v for k, v in limits.items() if v is not None})
    return replace(base, **extra) if extra else base


def _durations(limits: Mapping[str, Any]) -> dict[str, Any]:
    """``limits`` with a ``max_time`` duration string turned into seconds."""
    out = dict(limits)
    text = out.get("max_time")
    if isinstance(text, str):
        try:
            out["max_time"] = float(text)  # plain seconds, "90" or "1.5"
        except ValueError:
            try:
                out["max_time"] = float(parse_duration(text, "max_time"))
            except ValueError as e:
                raise ConfigError(str(e)) from None
    return out


class StopCondition(abc.ABC):
    """When the runner stops a search early; checked between results.

    Subclasses implement :meth:`__call__`; the other two methods have working
    defaults. The runner calls, in its loop:

    1. ``stop(stats)`` -- before asking for or waiting on work: a reason (one line,
       kept as ``stop_reason_``) stops the search, ``None`` goes on;
    2. ``stop.seconds_left(stats)`` -- how long it may wait for the next result before
       asking again (a deadline wakes the loop); ``None``: no deadline;
    3. ``stop.describe(stats)`` -- shown on the progress bar and log lines.

    ``stats`` is the runner's live :class:`~daskcloud.search._trials.RunStats`
    (``n_trials_done``, ``elapsed``, ``fit_cpu_s``, ``n_fits`` ...).
    """

    @abc.abstractmethod
    def __call__(self, stats: Any) -> str | None:
        """Why the search stops now, or None to go on."""

    def seconds_left(self, stats: Any) -> float | None:
        """Seconds until this condition will stop the search by itself; None if unknown."""
        return None

    def describe(self, stats: Any) -> str:
        """How much of the limit is used, for the progress display; '' for nothing."""
        return ""


class BudgetStop(StopCondition):
    """The :class:`StopCondition` of a :class:`Budget`.

    Reads the runner's live counters (``n_trials_done``, ``elapsed``, ``fit_cpu_s``),
    keeps the :class:`StopReason` as :attr:`reason`, and describes the budget used for
    the progress display (:meth:`describe`).

    Time is measured on a monotonic clock (``clock``, default :func:`time.monotonic`),
    anchored to the runner's ``elapsed`` the first time it is read: a wall-clock jump
    (NTP, a suspended laptop) neither ends a ``max_time`` search early nor extends it.
    """

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self.reason: StopReason | None = None
        self._clock = clock
        self._started: float | None = None

    def elapsed(self, stats: Any) -> float:
        """Seconds since the search started, on the monotonic clock."""
        now = self._clock()
        if self._started is None:
            self._started = now - max(0.0, float(stats.elapsed))
        return now - self._started

    def usage(self, stats: Any) -> Usage:
        """The runner's counters as a :class:`Usage`."""
        return Usage(
            n_trials=stats.n_trials_done, elapsed_s=self.elapsed(stats), cpu_s=stats.fit_cpu_s
        )

    def __call__(self, stats: Any) -> str | None:
        self.reason = self.budget.exceeded(self.usage(stats))
        return None if self.reason is None else self.reason.message

    def seconds_left(self, stats: Any) -> float | None:
        """Seconds until the time (or cost) budget runs out; None if neither is set."""
        return self.budget.seconds_left(self.elapsed(stats))

    def describe(self, stats: Any) -> str:
        """Budget used so far, for the progress bar and log lines."""
        return self.budget.describe(self.usage(stats))


def make_stop(budget: Any) -> BudgetStop | None:
    """The runner's stop callback for ``DaskSearchCV(budget=...)``; None when unlimited.

    ``max_cost`` counts at the budget's ``price_per_hour``: whoever knows the cluster (the
    jobs layer, from ``daskcloud.cluster``) sets it with :meth:`Budget.with_price`.
    """
    resolved = resolve_budget(budget)
    return BudgetStop(resolved) if resolved.limited else None

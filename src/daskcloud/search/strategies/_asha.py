"""Asynchronous successive halving's promotion rule, pure (Li et al., MLSys 2020).

:class:`AshaPromotions` keeps every rung's results and promotions; no Dask, no
estimators. A candidate moves up one rung as soon as it ranks in the top
``1/eta`` of the results already in its rung. Ties are broken by the lower
candidate index and NaN scores rank last, so the same results give the same
promotions. :func:`resource_ladder` gives the resource of each rung.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from daskcloud.exceptions import ConfigError

__all__ = ["AshaPromotions", "check_int", "exhaust_min_resource", "rank_key", "resource_ladder"]


def resource_ladder(min_resource: int, max_resource: int, eta: int) -> tuple[int, ...]:
    """The resource of each rung, lowest first: ``max_resource / eta**k``, >= ``min_resource``.

    The ladder is built down from ``max_resource`` so the top rung is the full
    resource and consecutive rungs differ by exactly ``eta`` (before rounding).

    >>> resource_ladder(3, 243, 3)
    (3, 9, 27, 81, 243)
    >>> resource_ladder(100, 1000, 3)
    (111, 333, 1000)
    """
    check_int(eta, "eta", low=2)
    check_int(min_resource, "min_resource", low=1)
    check_int(max_resource, "max_resource", low=1)
    if min_resource > max_resource:
        raise ConfigError(
            f"min_resource={min_resource} is larger than max_resource={max_resource}; "
            "lower min_resource or raise max_resource"
        )
    # a small epsilon so that exact powers (243 / 3**4 == 3) are not lost to float error
    n_rungs = math.floor(math.log(max_resource / min_resource, eta) + 1e-9) + 1
    return tuple(
        max(min_resource, round(max_resource / eta ** (n_rungs - 1 - k))) for k in range(n_rungs)
    )


def exhaust_min_resource(n_candidates: int, max_resource: int, eta: int) -> int:
    """scikit-learn's ``min_resources='exhaust'``: rungs for ``n_candidates`` to halve to one."""
    n_rungs = 1 + math.floor(math.log(max(n_candidates, 1), eta) + 1e-9)
    return max(1, max_resource // eta ** (n_rungs - 1))


def check_int(value: object, name: str, *, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


def rank_key(item: tuple[int, float]) -> tuple[bool, float, int]:
    """Best first: NaN last, higher score first, then the lower candidate index."""
    candidate, score = item
    nan = score != score
    return (nan, 0.0 if nan else -score, candidate)


class AshaPromotions:
    """Promotion state of asynchronous successive halving over ``n_rungs`` rungs.

    Call order: :meth:`next_promotion` to find a (candidate, rung) job that can run
    now, :meth:`start` when it is handed out, :meth:`record` when its score comes
    back (higher is better). New candidates are started on rung 0 by the caller
    whenever :meth:`next_promotion` has nothing.

    >>> asha = AshaPromotions(n_rungs=2, eta=2)
    >>> for c, s in [(0, 0.1), (1, 0.9)]:
    ...     asha.start(c, 0)
    ...     asha.record(c, 0, s)
    >>> asha.next_promotion()
    (1, 1)
    """

    def __init__(self, n_rungs: int, eta: int) -> None:
        check_int(n_rungs, "n_rungs", low=1)
        check_int(eta, "eta", low=2)
        self.n_rungs = n_rungs
        self.eta = eta
        self._scores: list[dict[int, float]] = [{} for _ in range(n_rungs)]
        self._promoted: list[set[int]] = [set() for _ in range(n_rungs)]
        self._running: set[tuple[int, int]] = set()

    @property
    def running(self) -> frozenset[tuple[int, int]]:
        """(candidate, rung) jobs handed out and not yet recorded."""
        return frozenset(self._running)

    def scores(self, rung: int) -> dict[int, float]:
        """Candidate -> score of every result recorded on ``rung``."""
        return dict(self._scores[rung])

    def next_promotion(self) -> tuple[int, int] | None:
        """The (candidate, rung) to run next by promotion, highest rung first; None if none."""
        for rung in range(self.n_rungs - 2, -1, -1):
            results = self._scores[rung]
            k = len(results) // self.eta
            if k == 0:
                continue
            for candidate, _ in sorted(results.items(), key=rank_key)[:k]:
                if candidate not in self._promoted[rung]:
                    return candidate, rung + 1
        return None

    def start(self, candidate: int, rung: int) -> None:
        """Mark a job as handed out; a job above rung 0 consumes its promotion."""
        if not 0 <= rung < self.n_rungs:
            raise ValueError(f"rung {rung} out of range 0..{self.n_rungs - 1}")
        if (candidate, rung) in self._running or candidate in self._scores[rung]:
            raise ValueError(f"candidate {candidate} already ran on rung {rung}")
        if rung > 0:
            if candidate not in self._scores[rung - 1]:
                raise ValueError(f"candidate {candidate} has no result on rung {rung - 1}")
            self._promoted[rung - 1].add(candidate)
        self._running.add((candidate, rung))

    def record(self, candidate: int, rung: int, score: float) -> None:
        """Store the score of a finished job (also used to replay a journal)."""
        self._running.discard((candidate, rung))
        if rung > 0:
            self._promoted[rung - 1].add(candidate)
        self._scores[rung][candidate] = float(score)

    def cancel(self, candidate: int, rung: int) -> None:
        """Forget a handed-out job that will not report (cancelled by a budget)."""
        self._running.discard((candidate, rung))

    def is_promotable(self, candidate: int, rung: int) -> bool:
        """True if ``candidate`` ranks in the top ``1/eta`` of ``rung`` and is not promoted yet."""
        if rung >= self.n_rungs - 1 or candidate in self._promoted[rung]:
            return False
        results = self._scores[rung]
        top = sorted(results.items(), key=rank_key)[: len(results) // self.eta]
        return any(c == candidate for c, _ in top)

    def may_grow(self, rung: int) -> bool:
        """True if ``rung`` may get more results: jobs run at or below it, or promotions wait."""
        if any(r <= rung for _, r in self._running):
            return True
        for q in range(min(rung, self.n_rungs - 1)):
            top = sorted(self._scores[q].items(), key=rank_key)[: len(self._scores[q]) // self.eta]
            if any(c not in self._promoted[q] for c, _ in top):
                return True
        return False

    def may_promote(self, candidate: int, rung: int, more_results: bool) -> bool:
        """True if ``candidate`` is, or may become (``more_results`` on ``rung``), promotable."""
        if rung >= self.n_rungs - 1 or candidate in self._promoted[rung]:
            return False
        if candidate not in self._scores[rung]:
            return False
        return more_results or self.is_promotable(candidate, rung)

    def is_idle(self) -> bool:
        """True when nothing runs and no candidate can be promoted."""
        return not self._running and self.next_promotion() is None

    def replay(self, results: Iterable[tuple[int, int, float]]) -> None:
        """Record journaled (candidate, rung, score) results, lower rungs first."""
        for candidate, rung, score in sorted(results, key=lambda r: (r[1], r[0])):
            self.record(candidate, rung, score)

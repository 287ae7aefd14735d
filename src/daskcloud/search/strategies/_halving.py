"""Asynchronous successive halving (ASHA, Li et al., MLSys 2020) as a strategy.

Candidates start on the lowest rung with the smallest resource (training rows,
or a smaller value of an estimator parameter such as ``max_iter``). A candidate
moves up one rung, to ``eta`` times the resource, as soon as it ranks in the top
``1/eta`` of the results *already in* its rung -- no rung waits for a whole
round, so no worker idles while any candidate can run. The top rung uses
``max_resource``. The promotion rule itself is :mod:`._asha` (pure), shared
with the Optuna strategy when it has a resource.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from daskcloud.exceptions import ConfigError
from daskcloud.search._keys import candidate_key
from daskcloud.search.strategies._asha import (
    AshaPromotions,
    check_int,
    exhaust_min_resource,
    rank_key,
    resource_ladder,
)
from daskcloud.search.strategies._base import SearchContext, Strategy, Trial, TrialResult

__all__ = ["Halving", "seed_of"]


def seed_of(random_state: Any) -> int | None:
    """An integer seed from ``None | int | RandomState | Generator`` (None stays None)."""
    if random_state is None:
        return None
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise ConfigError(
            f"random_state must be None, an int or a numpy RandomState, got {random_state!r}"
        )
    return int(random_state)


class Halving(Strategy):
    """Asynchronous successive halving over a grid or ``n_candidates`` sampled candidates.

    Args:
        space: a grid (dict or list of dicts of lists) or a space with distributions.
        n_candidates: sample this many candidates (scikit-learn's ``ParameterSampler``);
            None takes every candidate of the grid.
        random_state: seeds the sampling and the order in which candidates start.
        resource: ``"n_samples"`` (training rows of each fold, subsampled with a seed) or an
            estimator parameter such as ``"mlp__max_iter"`` (continued with ``warm_start``
            where the runner supports it, else refitted).
        min_resource: resource of the lowest rung; default: scikit-learn's ``"exhaust"``
            rule, enough rungs for the candidates to halve down to about one.
        max_resource: resource of the top rung; default for ``"n_samples"``: each fold's
            whole training set. Required for a parameter resource.
        eta: reduction factor; the top ``1/eta`` of each rung is promoted (default 3).

    Each evaluation of a candidate on a rung is one trial and one ``cv_results_`` row,
    with ``iter`` (the rung) and ``n_resources`` columns, ordered by rung and then by the
    candidate's place in the grid or sample (:meth:`row_key`); :meth:`best_mask` restricts
    ``best_*`` to the highest rung reached (the top rung unless a budget stopped the search).

    >>> from daskcloud.search.strategies import SearchContext, TrialResult
    >>> s = Halving({"alpha": [1, 2, 3, 4, 5, 6, 7, 8, 9]}, random_state=0)
    >>> s.bind(SearchContext(n_splits=3, n_train=900, n_workers=1))
    >>> s.ladder
    (100, 300, 900)
    >>> while not s.is_finished():
    ...     for t in s.ask(1):
    ...         s.tell(TrialResult(trial=t, score=-abs(t.params["alpha"] - 4)))
    >>> s.best_candidates()[0]
    {'alpha': 4}
    """

    resource: str | None = "n_samples"

    def __init__(
        self,
        space: Any,
        *,
        n_candidates: int | None = None,
        random_state: Any = None,
        resource: str | None = "n_samples",
        min_resource: int | None = None,
        max_resource: int | None = None,
        eta: int = 3,
    ) -> None:
        check_int(eta, "eta", low=2)
        for name, value in (("min_resource", min_resource), ("max_resource", max_resource)):
            if value is not None:
                check_int(value, name, low=1)
        if resource is not None and (not isinstance(resource, str) or not resource):
            raise ConfigError(
                f"resource must be 'n_samples' or an estimator parameter name, got {resource!r}"
            )
        if resource not in (None, "n_samples") and _space_names(space) & {resource}:
            raise ConfigError(
                f"resource {resource!r} is also a parameter of the space; remove it from the "
                "space (halving sets it) or use resource='n_samples'"
            )
        self.space = space
        self.n_candidates = n_candidates
        self.random_state = random_state
        self.resource = resource
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.eta = eta
        self._seed = seed_of(random_state)
        self.candidates: list[dict[str, Any]] = []
        self._jobs: dict[int, tuple[int, int]] = {}
        self._started: set[int] = set()
        self._next_id = 0
        self._reemit: list[tuple[int, int]] = []
        self._reemitted: set[int] = set()
        self._order: list[int] = []
        self.ladder: tuple[int, ...] = ()
        self._asha: AshaPromotions | None = None
        self._make_candidates()

    # -- candidate source (the Optuna strategy overrides these) ---------------------------
    def _make_candidates(self) -> None:
        """Build the fixed candidate list and the seeded order they start in."""
        from daskcloud.search.space import resolve_space
        from daskcloud.search.strategies._grid import GridStrategy
        from daskcloud.search.strategies._random import RandomStrategy

        space = resolve_space(self.space)
        if self.n_candidates is None:
            self.candidates = GridStrategy(space).candidates
        else:
            self.candidates = RandomStrategy(
                space, n_candidates=self.n_candidates, random_state=self._seed
            ).candidates
        # Start in a seeded random order: early promotions then see a fair sample, not
        # the first corner of the grid.
        rng = np.random.default_rng(0 if self._seed is None else self._seed)
        self._order = [int(i) for i in rng.permutation(len(self.candidates))]
        self._by_key = {candidate_key(c): i for i, c in enumerate(self.candidates)}

    def _draw_candidate(self) -> int | None:
        """Index of the next candidate to start on rung 0, or None when there is none."""
        for i in self._order:
            if i not in self._started:
                return i
        return None

    def _candidates_left(self) -> bool:
        """True while some candidate has not started."""
        return len(self._started) < len(self.candidates)

    def _planned_candidates(self) -> int:
        return len(self.candidates)

    def _on_result(self, candidate: int, rung: int, result: TrialResult) -> None:
        """Hook after a result is recorded (the Optuna strategy tells its study)."""

    # -- protocol ----------------------------------------------------------------------
    def bind(self, context: SearchContext) -> None:
        super().bind(context)
        self.ladder, self._top_is_full = self._resolve_ladder(context)
        self._asha = AshaPromotions(len(self.ladder), self.eta)

    def _resolve_ladder(self, context: SearchContext) -> tuple[tuple[int, ...], bool]:
        if self.resource is None:
            return (0,), True
        top_is_full = False
        max_resource = self.max_resource
        if max_resource is None:
            if self.resource != "n_samples":
                raise ConfigError(
                    f"resource {self.resource!r} needs max_resource (the full value of the "
                    "parameter, e.g. max_resource=200 for 200 iterations)"
                )
            max_resource, top_is_full = int(context.n_train), True
        min_resource = self.min_resource
        if min_resource is None:
            min_resource = exhaust_min_resource(self._planned_candidates(), max_resource, self.eta)
        if min_resource > max_resource:
            raise ConfigError(
                f"min_resource={min_resource} is larger than max_resource={max_resource} "
                f"({'the smallest training fold' if top_is_full else 'given'}); "
                "lower min_resource"
            )
        return resource_ladder(min_resource, max_resource, self.eta), top_is_full

    def _trial(self, candidate: int, rung: int) -> Trial:
        trial_resource: int | None = self.ladder[rung]
        if self.resource is None or (self._top_is_full and rung == len(self.ladder) - 1):
            trial_resource = None  # the whole training fold: the same fit as a grid's
        extra = {} if self.resource is None else {"iter": rung, "n_resources": self.ladder[rung]}
        trial = Trial(
            id=self._next_id,
            params=self.candidates[candidate],
            resource=trial_resource,
            extra=extra,
        )
        self._jobs[trial.id] = (candidate, rung)
        self._next_id += 1
        return trial

    @property
    def asha(self) -> AshaPromotions:
        if self._asha is None:
            raise RuntimeError("bind() the strategy to a SearchContext before asking")
        return self._asha

    def ask(self, n: int) -> list[Trial]:
        trials = []
        while self._reemit and len(trials) < n:
            # journaled jobs first: the runner serves them from the journal, unfitted,
            # and they take their place in cv_results_
            trial = self._trial(*self._reemit.pop(0))
            self._reemitted.add(trial.id)
            trials.append(trial)
        while len(trials) < n:
            job = self.asha.next_promotion()
            if job is None:
                candidate = self._draw_candidate()
                if candidate is None:
                    break
                job = (candidate, 0)
                self._started.add(candidate)
            self.asha.start(*job)
            trials.append(self._trial(*job))
        return trials

    def tell(self, result: TrialResult) -> None:
        candidate, rung = self._jobs[result.trial.id]
        if result.trial.id in self._reemitted:
            self._reemitted.discard(result.trial.id)
            if result.status != "cancelled":
                self.asha.record(candidate, rung, result.score)
            return
        if result.status == "cancelled":
            self.asha.cancel(candidate, rung)
            return
        self.asha.record(candidate, rung, result.score)
        self._on_result(candidate, rung, result)

    def is_finished(self) -> bool:
        return (
            not self._reemit
            and not self._reemitted
            and self.asha.is_idle()
            and not self._candidates_left()
        )

    def may_continue(self, trial: Trial) -> bool:
        """True while the trial's candidate may still be promoted from the trial's rung."""
        job = self._jobs.get(trial.id)
        if job is None or self.resource in (None, "n_samples"):
            return False
        candidate, rung = job
        more = self._candidates_left() or self.asha.may_grow(rung)
        return self.asha.may_promote(candidate, rung, more)

    def replay(self, results: Sequence[TrialResult]) -> None:
        """Rebuild the promotion state from journaled trials.

        They are asked again first (the runner serves them from the journal without
        fitting, so they appear in ``cv_results_``), and never run again on the same rung.
        """
        jobs = {}
        for result in results:
            if result.status == "cancelled":
                continue
            candidate = self._replay_candidate(result.trial.params)
            if candidate is None:
                continue  # not a candidate of this search: ignore rather than guess
            self._started.add(candidate)
            self._next_id = max(self._next_id, result.trial.id + 1)
            jobs[(candidate, self._rung_of(result.trial))] = result
        rank = {c: i for i, c in enumerate(self._order)}
        order = sorted(jobs, key=lambda job: (job[1], rank.get(job[0], job[0])))
        for candidate, rung in order:
            self.asha.record(candidate, rung, jobs[(candidate, rung)].score)
            self._on_result(candidate, rung, jobs[(candidate, rung)])
        self._reemit.extend(order)

    def _replay_candidate(self, params: Mapping[str, Any]) -> int | None:
        return self._by_key.get(candidate_key(params))

    def _rung_of(self, trial: Trial) -> int:
        if "iter" in trial.extra:
            return int(trial.extra["iter"])
        if trial.resource is None:
            return len(self.ladder) - 1
        return self.ladder.index(int(trial.resource))

    def n_trials_hint(self) -> int:
        n = self._planned_candidates()
        # before bind() the ladder is unknown: assume the 'exhaust' number of rungs
        n_rungs = len(self.ladder) or 1 + math.floor(math.log(max(n, 1), self.eta) + 1e-9)
        return sum(max(1, n // self.eta**k) for k in range(n_rungs))

    def best_candidates(self) -> list[dict[str, Any]]:
        """Parameters of the candidates on the highest rung reached, best first."""
        for rung in range(self.asha.n_rungs - 1, -1, -1):
            scores = self.asha.scores(rung)
            if scores:
                return [self.candidates[c] for c, _ in sorted(scores.items(), key=rank_key)]
        return []

    def row_key(self, trial: Trial) -> tuple[int, int, int]:
        """Rows by rung, then by the candidate's place in the space, as ``HalvingGridSearchCV``.

        Trial ids follow when promotions were asked, which depends on timing and differs
        between a resumed and a fresh search; (rung, candidate) does not.
        """
        job = self._jobs.get(trial.id)
        if job is None:  # not asked by this instance: find it by its parameters
            candidate = self._by_key.get(candidate_key(trial.params), len(self.candidates))
            job = (candidate, self._rung_of(trial))
        candidate, rung = job
        return rung, candidate, trial.id

    def best_mask(self, cv_results: Mapping[str, Any]) -> np.ndarray | None:
        """Rows on the highest rung reached: best_* never picks a low-resource score."""
        if self.resource is None or "iter" not in cv_results:
            return None
        rungs = np.asarray(cv_results["iter"])
        return rungs == rungs.max() if rungs.size else None


def _space_names(space: Any) -> set[str]:
    subs = [space] if isinstance(space, Mapping) else list(space or [])
    return {k for sub in subs if isinstance(sub, Mapping) for k in sub}

"""Optuna samplers as strategies: a study in the driver, driven by ask/tell.

The runner asks whenever a worker slot is free, so as many trials are in flight
as there are worker threads (TPE uses Optuna's ``constant_liar`` so that trials
asked together differ). The journal is the durable record, and a resumed search
replays it into the study with ``study.add_trial``.

The study lives in memory unless ``storage`` names an Optuna storage — an RDB URL
(``sqlite:///study.db``, ``postgresql://...``), a JournalStorage file
(``journal:///path/study.log`` or a path ending in ``.log``) or a ``BaseStorage``
instance — so optuna-dashboard can watch a running search and Optuna itself can
continue the study (``optuna.load_study(study_name=..., storage=...)``). Its value is
scikit-learn's signed score, maximised. On resume, trials already in the stored study
are not added again, and trials a killed driver left RUNNING are marked FAIL.

With a ``resource`` the candidates Optuna proposes are also promoted by
asynchronous successive halving (this class *is* a :class:`Halving` whose
candidates come from the sampler): each rung result is reported to the Optuna
trial as an intermediate value at ``step=resource``; a trial that is not
promoted at once is told ``PRUNED``, one that completes the top rung
``COMPLETE``. Without a resource there is one rung and every trial completes.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from daskcloud.exceptions import ConfigError
from daskcloud.search._keys import candidate_key
from daskcloud.search.space import from_optuna_params, to_optuna_distributions
from daskcloud.search.strategies._base import TrialResult
from daskcloud.search.strategies._halving import Halving

__all__ = ["SAMPLERS", "OptunaStrategy", "make_sampler", "open_storage"]

#: sampler names accepted by :func:`make_sampler` (``optuna-random`` is the registry's
#: name for Optuna's random sampler; ``random`` alone is scikit-learn's random search)
SAMPLERS = ("tpe", "cmaes", "gp", "qmc", "random", "optuna-random")

#: trials when neither n_candidates nor max_trials says otherwise
DEFAULT_N_CANDIDATES = 50
#: proposals of already-tried candidates in a row before the space counts as used up
MAX_DUPLICATE_ASKS = 50


def _require(module: str, extra: str, sampler: str) -> None:
    try:
        __import__(module)
    except (ImportError, OSError) as e:
        raise ConfigError(
            f"sampler {sampler!r} needs the {module!r} package ({e}); "
            f"install it with: pip install '{extra}'"
        ) from e


def make_sampler(sampler: Any, seed: int | None, **options: Any) -> Any:
    """An Optuna sampler from a name in :data:`SAMPLERS` (seeded) or a sampler instance.

    Raises:
        ConfigError: for an unknown name, or a missing optional package (with the install command).
    """
    import optuna
    from optuna.exceptions import ExperimentalWarning

    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    samplers = optuna.samplers
    with warnings.catch_warnings():
        # constant_liar and QMC are marked experimental by Optuna; we rely on them knowingly.
        warnings.simplefilter("ignore", ExperimentalWarning)
        if sampler == "tpe":
            return samplers.TPESampler(seed=seed, **{"constant_liar": True, **options})
        if sampler == "cmaes":
            _require("cmaes", "daskcloud[cmaes]", sampler)
            return samplers.CmaEsSampler(
                seed=seed, **{"warn_independent_sampling": False, **options}
            )
        if sampler == "gp":
            _require("torch", "daskcloud[torch]", sampler)
            return samplers.GPSampler(seed=seed, **options)
        if sampler == "qmc":
            return samplers.QMCSampler(seed=seed, **{"warn_independent_sampling": False, **options})
        if sampler in ("random", "optuna-random"):
            return samplers.RandomSampler(seed=seed, **options)
    raise ConfigError(
        f"unknown Optuna sampler {sampler!r}; use one of {', '.join(SAMPLERS)} "
        "or an optuna.samplers.BaseSampler instance"
    )


def open_storage(storage: Any) -> Any:
    """``None`` (in memory), an RDB URL, ``journal:///path`` or ``*.log``, or a BaseStorage.

    Raises:
        ConfigError: a storage Optuna cannot open, with the reason.
    """
    import optuna

    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if not isinstance(storage, str):
        raise ConfigError(
            f"storage {storage!r} is not an Optuna storage; give an RDB URL such as "
            "'sqlite:///study.db', 'journal:///path/study.log' or an optuna.storages object"
        )
    path = storage.removeprefix("journal://") if storage.startswith("journal://") else None
    if path is None and "://" not in storage and storage.endswith(".log"):
        path = storage
    try:
        if path is not None:
            from optuna.storages.journal import JournalFileBackend

            return optuna.storages.JournalStorage(JournalFileBackend(path))
        return optuna.storages.RDBStorage(storage)
    except Exception as e:  # SQLAlchemy and file errors: one message with the fix
        raise ConfigError(
            f"cannot open the Optuna storage {storage!r}: {e}; give a reachable RDB URL "
            "('sqlite:///study.db') or a writable journal file ('journal:///tmp/study.log')"
        ) from e


class OptunaStrategy(Halving):
    """Candidates proposed by an Optuna sampler; optionally promoted by successive halving.

    Args:
        space: one table of parameters: lists (categorical) and distributions
            (``uniform``, ``loguniform``, ``randint``), as for grid and random search.
        n_candidates: number of Optuna trials (default 50).
        random_state: seeds the sampler; one worker and a seed give one result.
        sampler: ``"tpe"`` (default), ``"cmaes"``, ``"gp"``, ``"qmc"``, ``"random"``
            or an ``optuna.samplers.BaseSampler``.
        sampler_options: keyword arguments for the sampler's constructor.
        resource, min_resource, max_resource, eta: as for :class:`Halving`; the
            default ``resource=None`` runs every trial on the full data.
        storage: where the study lives (see the module docstring); default in memory.
        study_name: the study's name in ``storage`` (created, or loaded when it exists).

    The study is available as :attr:`study` (``study.trials_dataframe()``, Optuna's plots).

    >>> from daskcloud.search.strategies import SearchContext, TrialResult
    >>> s = OptunaStrategy({"x": "uniform(-3, 3)"}, n_candidates=20, random_state=0)
    >>> s.bind(SearchContext(n_splits=2, n_train=100, n_workers=2))
    >>> while not s.is_finished():
    ...     for t in s.ask(2):
    ...         s.tell(TrialResult(trial=t, score=-(t.params["x"] - 1) ** 2))
    >>> abs(s.study.best_params["x"] - 1) < 0.5
    True
    """

    def __init__(
        self,
        space: Any,
        *,
        n_candidates: int | None = None,
        random_state: Any = None,
        sampler: Any = "tpe",
        sampler_options: Mapping[str, Any] | None = None,
        resource: str | None = None,
        min_resource: int | None = None,
        max_resource: int | None = None,
        eta: int = 3,
        storage: Any = None,
        study_name: str | None = None,
    ) -> None:
        n = DEFAULT_N_CANDIDATES if n_candidates is None else n_candidates
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n_candidates must be a positive integer, got {n_candidates!r}")
        self.sampler = sampler
        self.sampler_options = dict(sampler_options or {})
        self.storage = storage
        self.study_name = study_name
        super().__init__(
            space,
            n_candidates=n,
            random_state=random_state,
            resource=resource,
            min_resource=min_resource,
            max_resource=max_resource,
            eta=eta,
        )

    def _make_candidates(self) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.distributions = to_optuna_distributions(self.space)
        storage = open_storage(self.storage)
        self.study = optuna.create_study(
            direction="maximize",
            sampler=make_sampler(self.sampler, self._seed, **self.sampler_options),
            storage=storage,
            study_name=self.study_name,
            load_if_exists=True,
        )
        self._stored = set() if storage is None else self._settle_stored_trials(storage)
        self.candidates = []
        self._by_key = {}
        self._open: dict[int, Any] = {}  # candidate -> optuna.Trial still RUNNING
        self._replayed: dict[int, dict[int, float]] | None = None
        self._exhausted = False

    def _settle_stored_trials(self, storage: Any) -> set[str]:
        """Keys of the finished trials already in a stored study; stale RUNNING ones -> FAIL."""
        from optuna.trial import TrialState

        stored = set()
        study_id = storage.get_study_id_from_name(self.study.study_name)
        for trial in self.study.get_trials(deepcopy=False):
            if trial.state == TrialState.RUNNING:  # its driver died; the journal has its fits
                trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
                storage.set_trial_state_values(trial_id, TrialState.FAIL)
            elif trial.state.is_finished() and set(trial.params) == set(self.distributions):
                stored.add(candidate_key(from_optuna_params(self.space, trial.params)))
        return stored

    def _add_candidate(self, params: Mapping[str, Any]) -> int:
        index = len(self.candidates)
        self.candidates.append(dict(params))
        self._by_key[candidate_key(params)] = index
        return index

    def _candidates_left(self) -> bool:
        return not self._exhausted and len(self.candidates) < self._planned_candidates()

    def _draw_candidate(self) -> int | None:
        from optuna.trial import TrialState

        for _ in range(MAX_DUPLICATE_ASKS):
            if not self._candidates_left():
                return None
            trial = self.study.ask(self.distributions)
            params = from_optuna_params(self.space, trial.params)
            known = self._by_key.get(candidate_key(params))
            if known is None:
                index = self._add_candidate(params)
                self._open[index] = trial
                return index
            # A candidate already tried: answer from what we know instead of refitting it.
            top = self.asha.scores(len(self.ladder) - 1).get(known)
            if top is not None and top == top:
                self.study.tell(trial, top)
            else:
                self.study.tell(trial, state=TrialState.FAIL)
        self._exhausted = True  # the sampler keeps proposing known candidates: space used up
        return None

    def _planned_candidates(self) -> int:
        return int(self.n_candidates)

    def _on_result(self, candidate: int, rung: int, result: TrialResult) -> None:
        from optuna.trial import TrialState

        if self._replayed is not None:
            self._replayed.setdefault(candidate, {})[rung] = result.score
            return
        top = rung == len(self.ladder) - 1
        score = result.score
        trial = self._open.get(candidate)
        if trial is None:
            if top:  # promoted after its Optuna trial was pruned: record the full result too
                self._add_frozen(candidate, {rung: score})
            return
        if score != score:  # NaN: the fit failed (error_score)
            self.study.tell(trial, state=TrialState.FAIL)
        elif top:
            self.study.tell(trial, score)
        else:
            trial.report(score, step=self.ladder[rung])
            if self.asha.is_promotable(candidate, rung):
                return
            self.study.tell(trial, state=TrialState.PRUNED)
        del self._open[candidate]

    def _add_frozen(self, candidate: int, by_rung: Mapping[int, float]) -> None:
        """Add a finished trial to the study (resume, or a late promotion)."""
        import optuna
        from optuna.trial import TrialState

        top_rung = len(self.ladder) - 1
        params = self._encode(self.candidates[candidate])
        if any(v != v for v in by_rung.values()):
            frozen = optuna.trial.create_trial(
                params=params, distributions=self.distributions, state=TrialState.FAIL
            )
        elif top_rung in by_rung:
            frozen = optuna.trial.create_trial(
                params=params, distributions=self.distributions, value=by_rung[top_rung]
            )
        else:
            frozen = optuna.trial.create_trial(
                params=params,
                distributions=self.distributions,
                state=TrialState.PRUNED,
                intermediate_values={self.ladder[r]: v for r, v in by_rung.items()},
            )
        self.study.add_trial(frozen)

    def _encode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Estimator parameters -> Optuna's internal values (categoricals encoded)."""
        from optuna.distributions import CategoricalDistribution

        out = {}
        for name, dist in self.distributions.items():
            value = params[name]
            if isinstance(dist, CategoricalDistribution):
                plain = value is None or isinstance(value, bool | int | float | str)
                value = value if plain else json.dumps(value)
                if value not in dist.choices:
                    raise ConfigError(
                        f"journaled value {params[name]!r} of {name!r} is not in the space; "
                        "resume with the same space or a fresh journal"
                    )
            out[name] = value
        return out

    def _replay_candidate(self, params: Mapping[str, Any]) -> int | None:
        key = candidate_key(params)
        if key in self._by_key:
            return self._by_key[key]
        if set(params) != set(self.distributions):
            return None
        return self._add_candidate(params)

    def replay(self, results: Sequence[TrialResult]) -> None:
        """Replay journaled trials into the promotion state and the study (``add_trial``)."""
        self._replayed = {}
        try:
            super().replay(results)
            for candidate in sorted(self._replayed):
                if candidate_key(self.candidates[candidate]) not in self._stored:
                    self._add_frozen(candidate, self._replayed[candidate])
            if self._replayed and self._seed is not None and isinstance(self.sampler, str):
                # A fresh sampler with the old seed would re-propose the journaled points
                # first; derive a new seed from the number of replayed candidates instead.
                self.study.sampler = make_sampler(
                    self.sampler, self._seed + len(self.candidates), **self.sampler_options
                )
        finally:
            self._replayed = None

    def n_trials_hint(self) -> int:
        if self.resource is None:
            return self._planned_candidates()
        return super().n_trials_hint()

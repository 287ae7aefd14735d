"""DaskSearchCV: a drop-in GridSearchCV / RandomizedSearchCV that runs on Dask."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any, ClassVar

import numpy as np
import sklearn
from sklearn.base import clone, is_classifier
from sklearn.model_selection import check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils import indexable

from daskcloud.exceptions import ConfigError, SearchError
from daskcloud.search import _deadline, _failures, _keys, _precheck, _sklearn, _steps
from daskcloud.search._continue import continuation_mode
from daskcloud.search._fit import SearchData
from daskcloud.search._progress import make_progress
from daskcloud.search._runner import Runner
from daskcloud.search._trials import RunConfig, RunStats
from daskcloud.search.journal import open_journal
from daskcloud.search.strategies import SearchContext, resolve_strategy

__all__ = ["DaskSearchCV"]


class DaskSearchCV(BaseSearchCV):
    """Hyperparameter search with cross-validation on a Dask cluster, journaled and resumable.

    Results equal scikit-learn's ``GridSearchCV`` (``strategy="grid"``) and
    ``RandomizedSearchCV`` (``strategy="random"``, ``n_candidates`` = ``n_iter``)
    for the same candidates and folds: ``cv_results_``, ``best_params_``,
    ``best_score_``, ``best_index_``, ``best_estimator_``, ``refit_time_``,
    ``n_splits_``, ``scorer_``, ``multimetric_``; ``predict``, ``score`` etc.
    delegate to ``best_estimator_``. On top of that:

    - fits run on Dask workers (a local cluster of one process per core when
      ``client`` is None; a ``Client`` or a scheduler address otherwise), X and
      y travel to each worker once, BLAS threads are limited per worker;
    - shared pipeline prefixes are fitted once per fold and reused;
    - every fit is journaled as it finishes (``journal=`` a path): a rerun
      with the same journal fits only what is missing (``resume=True``);
    - ``search_stats_`` reports candidates, fits run and skipped, wall and fit
      CPU seconds; ``journal_path_`` the journal file.

    Parameters
    ----------
    estimator : estimator
        Usually a ``Pipeline``. Cloned for every fit.
    space : dict or list of dicts
        Lists of values (grid) or lists / scipy.stats distributions (random).
    strategy : {"grid", "random", "halving", "tpe", ...} or Strategy
        Which candidates to try; see :mod:`daskcloud.search.strategies`.
    n_candidates : int, optional
        Number of candidates for sampling strategies (random: default 10).
    cv, scoring, refit, error_score, return_train_score
        As in scikit-learn's ``GridSearchCV``.
    random_state : int, optional
        Seeds candidate sampling (and training-subsample resources).
    client : None, str, distributed.Client or callable
        Where to run: None starts (and closes) a local cluster; a zero-argument callable
        returning a context manager that yields a Client is called once the inputs are
        checked (so a bad input fails before any cluster starts).
    journal : None, path or Journal
        None keeps the journal in memory only.
    resume : bool
        Skip fits already in the journal (False: fit everything again).
    progress : bool or {"bar", "log"}
        True shows a bar on a terminal and log lines otherwise.
    strategy_options : dict, optional
        Options of a named strategy, e.g. ``{"resource": "n_samples", "eta": 3}`` for
        ``"halving"`` or ``{"resource": "mlp__max_iter", "max_resource": 200}``; see
        ``docs/adaptive.md``.
    budget : None, dict or Budget
        Stop early: ``max_trials``, ``max_time`` (s), ``max_cpu_hours``, ``max_cost``
        (with ``price_per_hour``); the reason is kept in ``stop_reason_``.
    fit_timeout : None, float or str
        Seconds (or a duration such as ``"10m"``) one fit may run. A fit still running
        then is given up and scored ``error_score`` (journaled as failed with
        ``fit_timeout=...``), its worker restarted to free the thread; the search goes
        on. Each task then holds one fit and pipeline prefixes are not shared; see
        :mod:`daskcloud.search._deadline`.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    >>> search = DaskSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=3, progress=False)
    >>> search.fit(X, y).best_params_  # doctest: +SKIP
    {'alpha': 0.1}
    """

    _parameter_constraints: ClassVar[dict] = {}  # validated in fit, with daskcloud's own messages

    def __init__(
        self,
        estimator: Any,
        space: Any,
        *,
        strategy: Any = "grid",
        n_candidates: int | None = None,
        cv: Any = 5,
        scoring: Any = None,
        refit: Any = True,
        error_score: Any = np.nan,
        return_train_score: bool = False,
        random_state: Any = None,
        client: Any = None,
        journal: Any = None,
        resume: bool = True,
        progress: bool | str = True,
        strategy_options: Any = None,
        budget: Any = None,
        fit_timeout: Any = None,
    ) -> None:
        self.estimator = estimator
        self.space = space
        self.strategy = strategy
        self.n_candidates = n_candidates
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.random_state = random_state
        self.client = client
        self.journal = journal
        self.resume = resume
        self.progress = progress
        self.strategy_options = strategy_options
        self.budget = budget
        self.fit_timeout = fit_timeout

    # BaseSearchCV reads these; they have no meaning here
    n_jobs = None
    verbose = 0
    pre_dispatch = None

    def __sklearn_clone__(self) -> DaskSearchCV:
        # A Client or an open Journal cannot be deep-copied: clones share them.
        shared = {"client": self.client, "journal": self.journal}
        self.client = self.journal = None
        try:
            new = super().__sklearn_clone__()
        finally:
            self.client, self.journal = shared["client"], shared["journal"]
        new.client, new.journal = shared["client"], shared["journal"]
        return new

    def __getstate__(self) -> dict[str, Any]:
        # A live Client or an open Journal cannot be pickled: keep what can be reopened.
        state = dict(super().__getstate__())  # a copy: it may be self.__dict__
        if state.get("client") is not None and not isinstance(state["client"], str):
            state["client"] = None
        journal = state.get("journal")
        if journal is not None and not isinstance(journal, str | os.PathLike):
            state["journal"] = None if journal.path is None else str(journal.path)
        return state

    def _stop_condition(self, budget: Any) -> Any:
        """A callable ``(RunStats) -> reason | None`` that stops the search; None: never stop.

        The hook for budgets (max_trials, max_time, max_cpu_hours, max_cost); ``budget`` is
        already resolved, priced for ``max_cost`` by whoever knows the cluster.
        """
        from daskcloud.search._budget import make_stop

        return make_stop(budget)

    def fit(self, X: Any, y: Any = None, groups: Any = None, **fit_params: Any) -> DaskSearchCV:
        """Run the search on the cluster, then refit the best candidate on all of ``X, y``."""
        from daskcloud.core.client import open_client
        from daskcloud.core.versions import check_versions
        from daskcloud.search._budget import resolve_budget
        from daskcloud.sync import prepare_cluster

        t0 = time.time()
        budget = resolve_budget(self.budget)  # a bad budget fails before any cluster starts
        fit_timeout = _deadline.resolve_fit_timeout(self.fit_timeout)
        if not (isinstance(self.error_score, int | float) or self.error_score == "raise"):
            raise ConfigError(f"error_score must be a number or 'raise', got {self.error_score!r}")
        scorers, refit_metric = _sklearn.get_scorers(self)
        X, y, groups = indexable(X, y, groups)
        params = _sklearn.split_params(X, fit_params, None)
        routed = _sklearn.routed_fit_params(
            self, params if groups is None else {**params, "groups": groups}
        )
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = _precheck.cv_splits(self.cv, cv, X, y, routed.splitter.split)
        self.n_splits_ = len(splits)
        strategy = resolve_strategy(
            self.strategy,
            self.space,
            n_candidates=self.n_candidates,
            random_state=self.random_state,
            options=self.strategy_options,
        )
        fold_tokens = _keys.splits_fingerprint(splits)
        search = _keys.search_key(
            self.estimator,
            _keys.data_fingerprint(X, y, routed.estimator.fit),
            self.scoring,
            self.return_train_score,
        )
        if not self.resume:  # a fresh key: nothing is found, nothing old is overwritten
            search = _keys.token((search, uuid.uuid4().hex))
        # before a cluster starts (or is connected to); on a running one (client= a Client)
        # there is no start to save, and the fits tell as fast: no fit waits for the check
        if not hasattr(self.client, "submit") and not _precheck.journal_has_fits(
            self.journal, search
        ):  # a journal with a good fit of this search: it fitted before
            _precheck.dry_fit(
                self.estimator, strategy, X, y, splits, scorer=scorers,
                fit_params=routed.estimator.fit, score_params=routed.scorer.score,
                random_state=self.random_state, fit_timeout=fit_timeout,
            )  # fmt: skip
        seed = self.random_state if isinstance(self.random_state, int) else 0
        journal, owns_journal = open_journal(self.journal)
        try:
            journal.describe_search(
                search,
                {"estimator": repr(self.estimator), "cv": repr(cv), "scoring": repr(self.scoring),
                 "n_samples": len(y) if y is not None else None, "folds": fold_tokens},
            )  # fmt: skip
            with open_client(self.client) as client:
                # ship what the workers lack (daskcloud, local modules) before checking versions
                plan = prepare_cluster(client, self.estimator, X, y, scorers, space=self.space)
                check_versions(client, ["python", "daskcloud", *plan.checked])
                n_threads = sum(client.nthreads().values()) or 1
                data = SearchData(
                    X=X, y=y, splits=splits, estimator=clone(self.estimator), scorer=scorers,
                    fit_params=dict(routed.estimator.fit), score_params=dict(routed.scorer.score),
                    error_score=self.error_score, return_train_score=self.return_train_score,
                    subsample_seed=seed, sklearn_config=sklearn.get_config(),
                    fit_timeout=fit_timeout,
                )  # fmt: skip
                data_future = client.scatter(data, broadcast=True, hash=False)
                hint = strategy.n_trials_hint()
                progress = make_progress(
                    self.progress, None if hint is None else hint * len(splits), n_threads
                )
                config = RunConfig(
                    search=search,
                    fold_tokens=fold_tokens,
                    # a deadline per fit needs the whole fit in one task: no shared prefix
                    step_names=None if fit_timeout else _step_names(self.estimator),
                    resource_name=strategy.resource,
                    error_score=self.error_score,
                    n_threads=n_threads,
                    primary_metric=refit_metric if isinstance(refit_metric, str) else None,
                    continuation=continuation_mode(self.estimator, strategy.resource),
                    fit_timeout=fit_timeout,
                )
                context = SearchContext(
                    n_splits=len(splits),
                    n_train=min(len(tr) for tr, _ in splits),
                    n_workers=n_threads,
                    random_state=self.random_state,
                )
                stop = self._stop_condition(budget)
                if progress is not None and stop is not None:
                    progress.note = stop.describe  # budget used, on the bar
                runner = Runner(
                    client, data_future, journal, strategy, config, context=context,
                    progress=progress, stop=stop,
                    rescatter=lambda: client.scatter(data, broadcast=True, hash=False),
                )  # fmt: skip
                try:
                    outcome = runner.run()
                except BaseException as e:
                    ended = _ended_badly(e, client, journal, search, hint, len(splits))
                    if ended is e:
                        raise
                    raise ended from e
                finally:
                    if progress is not None:
                        progress.close()
                    del data_future
            self.journal_path_ = None if journal.path is None else str(journal.path)
        finally:
            if owns_journal:
                journal.close()
        if not outcome.trials:
            raise SearchError(
                "no candidate finished"
                + (f" (stopped: {outcome.stop_reason})" if outcome.stop_reason else "")
                + "; check the space is not empty and the budget allows at least one trial"
            )
        self._set_results(outcome, strategy, scorers, refit_metric)
        if self.refit:
            self._refit(X, y, routed.estimator.fit)
        self.search_stats_ = _stats(outcome.stats, len(outcome.trials), outcome.stop_reason, t0,
                                    n_threads)  # fmt: skip
        self.stop_reason_ = outcome.stop_reason
        return self

    def _set_results(self, outcome: Any, strategy: Any, scorers: Any, refit_metric: Any) -> None:
        resource_param = strategy.resource if strategy.resource not in (None, "n_samples") else None
        candidate_params, out, extra = [], [], {}
        error_scores = (
            {n: self.error_score for n in _sklearn.scorer_names(scorers)}
            if _sklearn.is_multimetric_scorer(scorers)
            else self.error_score
        )
        for trial, records in outcome.trials:
            params = dict(trial.params)
            if resource_param is not None:
                params[resource_param] = trial.resource
            candidate_params.append(params)
            for name, value in trial.extra.items():
                extra.setdefault(name, []).append(value)
            for r in records:
                failed = r.status != "ok"
                item = {
                    "fit_time": r.fit_time,
                    "score_time": r.score_time,
                    "test_scores": error_scores if failed else r.test_scores,
                    "fit_error": (r.error or "failed") if failed else None,
                    "n_test_samples": r.n_test_samples,
                }
                if self.return_train_score:
                    item["train_scores"] = error_scores if failed else r.train_scores
                out.append(item)
        if self.error_score != "raise":
            _failures.check_fit_failures(out, self.error_score, self.journal_path_)
        if callable(self.scoring):
            _sklearn.insert_error_scores(out, self.error_score)
        results = _sklearn.format_results(self, candidate_params, self.n_splits_, out, extra)
        self.multimetric_ = isinstance(out[0]["test_scores"], dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(out[0]["test_scores"])
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = int(_best_index(self, strategy, refit_metric, results))
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        self.scorer_ = scorers._scorers if _sklearn.is_multimetric_scorer(scorers) else scorers
        self.cv_results_ = results

    def _refit(self, X: Any, y: Any, fit_params: Any) -> None:
        self.best_estimator_ = clone(self.estimator).set_params(
            **clone(self.best_params_, safe=False)
        )
        t = time.time()
        if y is None:
            self.best_estimator_.fit(X, **fit_params)
        else:
            self.best_estimator_.fit(X, y, **fit_params)
        self.refit_time_ = time.time() - t
        if hasattr(self.best_estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.best_estimator_.feature_names_in_


def _ended_badly(
    error: BaseException, client: Any, journal: Any, search: str, hint: Any, n_splits: int
) -> BaseException:
    """What to raise when the runner raised ``error``: a one-line error when the scheduler
    was lost or a signal stopped the search (with how much the journal holds), else itself."""
    lost = _failures.is_scheduler_lost(client, error)
    if not (lost or isinstance(error, KeyboardInterrupt)):
        return error
    try:
        n_done = len(journal.read(search))
    except Exception:  # the journal itself failed: say what is known
        n_done = 0
    total = None if hint is None else hint * n_splits
    path = None if journal.path is None else str(journal.path)
    if lost:
        address = getattr(getattr(client, "scheduler", None), "address", None)
        return _failures.scheduler_lost(address, n_done, total, path)
    return _failures.interrupted(getattr(error, "signum", 2), n_done, total, path)


def _step_names(estimator: Any) -> list[str] | None:
    """Step names of a Pipeline (prefix sharing applies), else None."""
    if _steps.can_split(estimator):
        return [name for name, _ in estimator.steps]
    return None


def _best_index(search: Any, strategy: Any, refit_metric: Any, results: dict[str, Any]) -> int:
    mask = strategy.best_mask(results)
    if mask is None or callable(search.refit):
        return _sklearn.select_best_index(search, search.refit, refit_metric, results)
    rows = np.flatnonzero(mask)
    if not len(rows):
        raise SearchError("the strategy marked no candidate as eligible for best")
    scores = np.asarray(results[f"mean_test_{refit_metric}"], dtype=float)[rows]
    return int(rows[0] if np.isnan(scores).all() else rows[np.nanargmax(scores)])


def _stats(stats: RunStats, n_candidates: int, reason: Any, t0: float, n_threads: int) -> dict:
    return {
        "n_candidates": n_candidates,
        "n_fits": stats.n_fits,
        "n_fits_skipped": stats.n_fits_skipped,
        "n_fits_failed": stats.n_fits_failed,
        "n_fits_continued": stats.n_fits_continued,
        "n_prefix_fits": stats.n_prefix_fits,
        "n_tasks": stats.n_tasks,
        "n_retries": stats.n_retries,
        "n_workers": n_threads,
        "wall_s": time.time() - t0,
        "search_s": stats.elapsed,
        "fit_cpu_s": stats.fit_cpu_s,
        "stop_reason": reason,
    }

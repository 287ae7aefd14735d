"""DaskSearchCV: a drop-in GridSearchCV / RandomizedSearchCV that runs on Dask."""

from __future__ import annotations

import os
import time
from typing import Any, ClassVar

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.model_selection._search import BaseSearchCV

from daskcloud.exceptions import SearchError
from daskcloud.search import _failures, _precheck, _sklearn, _steps
from daskcloud.search._continue import continuation_mode
from daskcloud.search._cv_results import best_index, fit_rows, search_stats
from daskcloud.search._fit import SearchData
from daskcloud.search._inputs import FitInputs, resolve_inputs
from daskcloud.search._progress import make_progress
from daskcloud.search._runner import Runner
from daskcloud.search._trials import RunConfig
from daskcloud.search.journal import open_journal
from daskcloud.search.strategies import SearchContext

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
        """Run the search on the cluster, then refit the best candidate on all of ``X, y``.

        Four steps: resolve every input once (the strategy included), dry-fit a few
        candidates on the client, run the search on the cluster, set the results and refit.
        """
        t0 = time.time()
        inputs = resolve_inputs(self, X, y, groups, fit_params)
        self.n_splits_ = len(inputs.splits)
        self._dry_fit(inputs)
        outcome, n_threads = self._run(inputs)
        self._set_results(outcome, inputs.strategy, inputs.scorers, inputs.refit_metric)
        if self.refit:
            self._refit(inputs.X, inputs.y, inputs.fit_params)
        self.stop_reason_ = outcome.stop_reason
        self.search_stats_ = search_stats(
            outcome.stats, len(outcome.trials), outcome.stop_reason, t0, n_threads
        )
        return self

    def _dry_fit(self, inputs: FitInputs) -> None:
        """A few candidates on a few rows, on the client: a search none can fit fails now.

        Before a cluster starts (or is connected to); on a running one (``client=`` a Client)
        there is no start to save, and the fits tell as fast: no fit waits for the check.
        """
        if hasattr(self.client, "submit"):
            return
        if _precheck.journal_has_fits(self.journal, inputs.search):  # it fitted before
            return
        _precheck.dry_fit(
            self.estimator, inputs.strategy, inputs.X, inputs.y, inputs.splits,
            scorer=inputs.scorers, fit_params=inputs.fit_params,
            score_params=inputs.score_params, random_state=self.random_state,
            fit_timeout=inputs.fit_timeout,
        )  # fmt: skip

    def _run(self, inputs: FitInputs) -> tuple[Any, int]:
        """Open the journal and the cluster, run the search: ``(RunOutcome, worker threads)``."""
        from daskcloud.core.client import open_client

        journal, owns_journal = open_journal(self.journal)
        try:
            journal.describe_search(
                inputs.search,
                {"estimator": repr(self.estimator), "cv": repr(inputs.cv),
                 "scoring": repr(self.scoring),
                 "n_samples": len(inputs.y) if inputs.y is not None else None,
                 "folds": inputs.fold_tokens},
            )  # fmt: skip
            with open_client(self.client) as client:
                outcome, n_threads = self._run_on(client, journal, inputs)
            self.journal_path_ = None if journal.path is None else str(journal.path)
        finally:
            if owns_journal:
                journal.close()
        return outcome, n_threads

    def _run_on(self, client: Any, journal: Any, inputs: FitInputs) -> tuple[Any, int]:
        """Prepare ``client``'s workers, scatter the data once and run the strategy's trials."""
        from daskcloud.core.versions import check_versions
        from daskcloud.sync import prepare_cluster

        X, y, strategy, splits = inputs.X, inputs.y, inputs.strategy, inputs.splits
        # ship what the workers lack (daskcloud, local modules) before checking versions
        plan = prepare_cluster(client, self.estimator, X, y, inputs.scorers, space=self.space)
        check_versions(client, ["python", "daskcloud", *plan.checked])
        n_threads = sum(client.nthreads().values()) or 1
        data = SearchData(
            X=X, y=y, splits=splits, estimator=clone(self.estimator), scorer=inputs.scorers,
            fit_params=inputs.fit_params, score_params=inputs.score_params,
            error_score=self.error_score, return_train_score=self.return_train_score,
            subsample_seed=self.random_state if isinstance(self.random_state, int) else 0,
            sklearn_config=sklearn.get_config(), fit_timeout=inputs.fit_timeout,
        )  # fmt: skip
        data_future = client.scatter(data, broadcast=True, hash=False)
        hint = strategy.n_trials_hint()
        progress = make_progress(
            self.progress, None if hint is None else hint * len(splits), n_threads
        )
        stop = self._stop_condition(inputs.budget)
        if progress is not None and stop is not None:
            progress.note = stop.describe  # budget used, on the bar
        runner = Runner(
            client, data_future, journal, strategy, self._run_config(inputs, n_threads),
            context=SearchContext(n_splits=len(splits), n_train=min(len(tr) for tr, _ in splits),
                                  n_workers=n_threads, random_state=self.random_state),
            progress=progress, stop=stop,
            rescatter=lambda: client.scatter(data, broadcast=True, hash=False),
        )  # fmt: skip
        try:
            return runner.run(), n_threads
        except BaseException as e:
            ended = _ended_badly(e, client, journal, inputs.search, hint, len(splits))
            if ended is e:
                raise
            raise ended from e
        finally:
            if progress is not None:
                progress.close()
            del data_future

    def _run_config(self, inputs: FitInputs, n_threads: int) -> RunConfig:
        resource = inputs.strategy.resource
        metric = inputs.refit_metric
        return RunConfig(
            search=inputs.search,
            fold_tokens=inputs.fold_tokens,
            # a deadline per fit needs the whole fit in one task: no shared prefix
            step_names=None if inputs.fit_timeout else _step_names(self.estimator),
            resource_name=resource,
            error_score=self.error_score,
            n_threads=n_threads,
            primary_metric=metric if isinstance(metric, str) else None,
            continuation=continuation_mode(self.estimator, resource),
            fit_timeout=inputs.fit_timeout,
        )

    def _set_results(self, outcome: Any, strategy: Any, scorers: Any, refit_metric: Any) -> None:
        """``cv_results_``, ``best_*``, ``scorer_`` and ``multimetric_`` from the run's trials."""
        if not outcome.trials:
            raise SearchError(
                "no candidate finished"
                + (f" (stopped: {outcome.stop_reason})" if outcome.stop_reason else "")
                + "; check the space is not empty and the budget allows at least one trial"
            )
        candidate_params, out, extra = fit_rows(
            outcome.trials, strategy, scorers, self.error_score, self.return_train_score
        )
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
            self.best_index_ = best_index(self, strategy, refit_metric, results)
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

"""What both jobs share: where the search runs, running it, and writing the run directory."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from daskcloud.exceptions import ConfigError, DaskcloudError
from daskcloud.jobs._signals import as_interrupted
from daskcloud.search.results import default_run_dir, leaderboard, primary_metric, write_run

__all__ = [
    "JSON_KEYS",
    "SearchOptions",
    "TuneResult",
    "announce_dashboard",
    "check_where",
    "dashboard_link",
    "open_client",
    "resolve_run_dir",
    "search",
]

#: keys of the one JSON object ``--json`` prints
JSON_KEYS = (
    "best_params",
    "best_score",
    "best_metric",
    "n_candidates",
    "n_fits",
    "n_fits_skipped",
    "wall_s",
    "fit_cpu_s",
    "stop_reason",
    "run_dir",
)

JOURNAL_FILE = "journal.sqlite"


@dataclass(frozen=True)
class TuneResult:
    """A finished search: its run directory, ``summary.json`` contents and the fitted search."""

    run_dir: Path
    summary: dict[str, Any]
    search: Any

    def to_json(self) -> dict[str, Any]:
        """The object ``--json`` prints."""
        return {key: self.summary.get(key) for key in JSON_KEYS}

    def leaderboard(self, top: int = 10) -> Any:
        """The top candidates as a rich Table."""
        from daskcloud.search._terms import score_terms

        metric = primary_metric(self.search)
        terms = score_terms(self.search, metric)
        return leaderboard(self.search.cv_results_, metric=metric, top=top, terms=terms)


@dataclass(frozen=True)
class SearchOptions:
    """Search settings shared by ``tune`` specs and the Rossmann job."""

    strategy: str = "grid"
    strategy_options: Mapping[str, Any] | None = None
    n_candidates: int | None = None
    scoring: Any = None
    refit: bool | str = True
    error_score: Any = float("nan")
    return_train_score: bool = False
    seed: int = 0
    budget: Any = None  # a resolved Budget (resolved before any cluster starts)
    fit_timeout: float | None = None  # seconds one fit may run (resolved like the budget)


def resolve_run_dir(out: str | Path | None, name: str) -> Path:
    """``out`` or ``runs/<timestamp>-<name>``, created."""
    run_dir = Path(out) if out is not None else default_run_dir(name)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create the run directory {str(run_dir)!r}: {e}") from e
    return run_dir


def check_where(scheduler: str | None, workers: int | None, cluster: str | None = None) -> None:
    """ConfigError unless at most one of ``scheduler``, ``cluster`` and ``workers`` is given."""
    given = [
        flag
        for flag, value in (
            ("--scheduler", scheduler),
            ("--cluster", cluster),
            ("--workers", workers),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise ConfigError(
            f"give only one of {' and '.join(given)}: --scheduler and --cluster bring their own "
            "workers; --workers sizes a new local cluster"
        )


@contextlib.contextmanager
def open_client(
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    cluster: str | None = None,
    namespace: str | None = None,
    security: Any = None,
) -> Iterator[Any]:
    """A Client of a daskcloud cluster by name (``cluster up``), of the scheduler at
    ``scheduler`` (``security`` for ``tls://``), or of a new local cluster of ``workers``."""
    from daskcloud.cluster import connect_cluster
    from daskcloud.cluster import open_client as _open_client

    check_where(scheduler, workers, cluster)
    if cluster is not None:
        with connect_cluster(cluster, namespace) as connection:
            announce_dashboard(connection.client)
            yield connection.client
        return
    with _open_client(scheduler, n_workers=workers, security=security) as client:
        announce_dashboard(client)
        yield client


def dashboard_link(client: Any) -> str | None:
    """The Dask dashboard of ``client``'s scheduler (``distributed.dashboard.link``), or None."""
    try:
        return str(client.dashboard_link) or None
    except Exception:  # a scheduler without a dashboard (no bokeh) has no link
        return None


def announce_dashboard(client: Any) -> None:
    """One line on stderr, ``dashboard: URL``, as the search starts (``--json`` mode too)."""
    link = dashboard_link(client)
    if link:
        print(f"dashboard: {link}", file=sys.stderr, flush=True)


def _noting_dashboard(opener: Any, links: list[str]) -> Any:
    """``opener`` (a zero-argument context-manager factory) that appends its client's
    dashboard link to ``links`` when the client opens."""

    @contextlib.contextmanager
    def opened() -> Iterator[Any]:
        with opener() as client:
            if link := dashboard_link(client):
                links.append(link)
            yield client

    return opened


def _priced(budget: Any, client: Any) -> Any:
    """A ``max_cost`` budget without a price, at the price recorded for ``client``'s cluster."""
    if client is None or budget is None or budget.max_cost is None or budget.price_per_hour:
        return budget
    from daskcloud.cluster import cluster_price

    return budget.with_price(cluster_price(client))


def _make_search(estimator: Any, space: Any, cv: Any, options: SearchOptions, **engine: Any) -> Any:
    from daskcloud.search import DaskSearchCV, resolve_strategy

    strategy: Any = options.strategy
    if options.strategy_options:  # a [strategy] table: build the strategy with its options
        strategy = resolve_strategy(
            strategy,
            space,
            n_candidates=options.n_candidates,
            random_state=options.seed,
            **options.strategy_options,
        )
    return DaskSearchCV(
        estimator,
        space,
        strategy=strategy,
        n_candidates=options.n_candidates,
        cv=cv,
        scoring=options.scoring,
        refit=options.refit,
        error_score=options.error_score,
        return_train_score=options.return_train_score,
        random_state=options.seed,
        budget=options.budget,
        fit_timeout=options.fit_timeout,
        **engine,
    )


def _n_splits(cv: Any, X: Any, y: Any) -> int | None:
    """Folds per candidate, for logging candidates as soon as they are complete."""
    from sklearn.model_selection import check_cv

    try:
        return int(check_cv(cv).get_n_splits(X, y))
    except (TypeError, ValueError):
        return None


def search(
    estimator: Any,
    space: Any,
    X: Any,
    y: Any,
    *,
    cv: Any,
    options: SearchOptions,
    run_dir: Path,
    client: Any = None,
    resume: bool = True,
    progress: bool = True,
    name: str,
    extra: Mapping[str, Any] | None = None,
    tracker: Any = None,
) -> TuneResult:
    """Fit a DaskSearchCV journaled in ``run_dir``, then write the run directory.

    ``client`` is a Client, or a zero-argument callable opening one (a context manager),
    called only after the search checked its inputs. ``tracker`` (a
    :class:`daskcloud.tracking.MlflowLogger`) logs candidates as they finish; the caller ends
    it with ``tracker.finish(run_dir)`` once the report is written.
    """
    started = time.perf_counter()
    fresh = not any(run_dir.iterdir())
    budget = options.budget
    link, links = None, []
    with contextlib.ExitStack() as stack:
        lazy = callable(client) and not hasattr(client, "submit")
        if lazy:  # remember the dashboard of the cluster the search opens
            client = _noting_dashboard(client, links)
        if (
            lazy
            and budget is not None
            and budget.max_cost is not None
            and not budget.price_per_hour
        ):
            # the price comes from the cluster: open it now
            client, lazy = stack.enter_context(client()), False
        engine = _make_search(
            estimator,
            space,
            cv,
            replace(options, budget=_priced(budget, None if lazy else client)),
            client=client,
            journal=run_dir / JOURNAL_FILE,
            resume=resume,
            progress=progress,
        )
        try:
            with as_interrupted():
                if tracker is None:
                    fitted = engine.fit(X, y)
                else:  # child runs stream from the journal while the search runs
                    with tracker.streaming(run_dir, _n_splits(cv, X, y), name=name):
                        fitted = engine.fit(X, y)
        except DaskcloudError as e:
            if e.exit_code == 2 and fresh and not any(run_dir.iterdir()):
                run_dir.rmdir()  # an input that could never work leaves nothing behind
            raise
        if client is not None and not lazy:
            link = dashboard_link(client)
        elif links:
            link = links[0]
    wall_s = time.perf_counter() - started
    if link:  # the report links to the dashboard (live while the cluster is)
        extra = {**(extra or {}), "dashboard_link": link}
    summary = write_run(fitted, run_dir, name=name, wall_s=wall_s, extra=extra)
    return TuneResult(run_dir=run_dir, summary=summary, search=fitted)

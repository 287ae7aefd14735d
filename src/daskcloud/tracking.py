"""MLflow tracking of a search, driven by its journal (the optional ``daskcloud[mlflow]`` extra).

One *parent* run per search — its spec, best parameters and scores, ``summary.json``,
``report.html`` and the model (``best_model.skops``) — and one *child* run per candidate —
its parameters, per-fold test scores and fit times, named as in ``cv_results_``
(``split0_test_score``, ``mean_test_score``, ``split0_fit_time``) — logged while the search
runs, as candidates finish. The children come from the journal, not from the runner: a
thread reads the journal every ``poll_s`` seconds (SQLite in WAL mode: a reader never blocks
the search) and logs each candidate whose folds are all there. The parent carries the tag
``daskcloud.run_dir`` and every child ``daskcloud.candidate``, so a resumed search finds its
parent again and logs no candidate twice.

Example:
    >>> logger = MlflowLogger(tracking_uri="sqlite:///mlflow.db")          # doctest: +SKIP
    >>> with logger.streaming("runs/ridge", n_splits=5):                    # doctest: +SKIP
    ...     search.fit(X, y)                    # journal="runs/ridge/journal.sqlite"
    >>> logger.finish("runs/ridge")       # after write_run / write_report   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from daskcloud.exceptions import ConfigError

__all__ = ["MlflowLogger", "resolve_logger"]

INSTALL = "pip install 'daskcloud[mlflow]'"
JOURNAL_FILE = "journal.sqlite"
_ARTIFACTS = ("summary.json", "report.html", "best_model.skops", "cv_results.csv")


def _client(tracking_uri: str | None) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as e:
        raise ConfigError(
            f"MLflow logging needs the mlflow extra; install it with: {INSTALL}"
        ) from e
    return MlflowClient(tracking_uri=tracking_uri)


def _candidate_key(params: Mapping[str, Any], resource: int | None) -> str:
    return json.dumps({"params": params, "resource": resource}, sort_keys=True, default=str)


def _scores(value: Any) -> dict[str, float]:
    if isinstance(value, Mapping):
        return {str(k): float(v) for k, v in value.items() if v is not None}
    return {} if value is None else {"score": float(value)}


class MlflowLogger:
    """Log a search to MLflow: a parent run per search, a child run per candidate.

    Args:
        tracking_uri: MLflow tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``);
            default: MLflow's own (``$MLFLOW_TRACKING_URI``).
        experiment: experiment name, created when missing (default ``$MLFLOW_EXPERIMENT_NAME``
            or ``daskcloud``).
        poll_s: how often the journal is read while the search runs.
    """

    def __init__(
        self, tracking_uri: str | None = None, experiment: str | None = None, poll_s: float = 2.0
    ) -> None:
        import os

        self.client = _client(tracking_uri)
        self.experiment = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or "daskcloud"
        self.poll_s = poll_s
        self.parent_id: str | None = None
        self._logged: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    # -- the parent run ------------------------------------------------------------------------

    def _experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        return found.experiment_id if found else self.client.create_experiment(self.experiment)

    def open_parent(self, run_dir: str | Path, name: str | None = None) -> str:
        """Find the parent run of ``run_dir`` (a resumed search) or create it; its run id."""
        run_dir = Path(run_dir).resolve()
        experiment_id = self._experiment_id()
        tag = str(run_dir).replace("'", "\\'")
        found = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`daskcloud.run_dir` = '{tag}'", max_results=1
        )
        if found:
            self.parent_id = found[0].info.run_id
            self.client.update_run(self.parent_id, status="RUNNING")
            children = self.client.search_runs(
                [experiment_id],
                filter_string=f"tags.`mlflow.parentRunId` = '{self.parent_id}'",
                max_results=50000,
            )
            self._logged = {c.data.tags.get("daskcloud.candidate", "") for c in children}
        else:
            run = self.client.create_run(
                experiment_id,
                run_name=name or run_dir.name,
                tags={"daskcloud.run_dir": str(run_dir)},
            )
            self.parent_id = run.info.run_id
        self._experiment = experiment_id
        return self.parent_id

    # -- child runs from the journal -----------------------------------------------------------

    def sync(self, journal: str | Path, n_splits: int | None = None) -> int:
        """Log every finished candidate of ``journal`` not logged yet; how many were logged.

        A candidate (parameters and resource) is finished when it has ``n_splits`` folds
        without a fit in flight; ``n_splits=None`` logs whatever is journaled (the last sync).
        """
        from daskcloud.search.journal import Journal

        if self.parent_id is None:
            raise ConfigError("open_parent(run_dir) before logging candidates")
        if not Path(journal).is_file():
            return 0
        with Journal(journal) as j:
            fits = j.read()
        groups: dict[str, list[Any]] = {}
        for fit in fits:
            groups.setdefault(_candidate_key(fit.params, fit.resource), []).append(fit)
        logged = 0
        with self._lock:
            for key, group in groups.items():
                folds = {f.fold: f for f in group}
                if key in self._logged or (n_splits is not None and len(folds) < n_splits):
                    continue
                self._log_child(key, group[0].params, group[0].resource, folds)
                self._logged.add(key)
                logged += 1
        return logged

    def _log_child(self, key: str, params: Mapping[str, Any], resource: Any, folds: dict) -> None:
        from mlflow.entities import Metric, Param

        run = self.client.create_run(
            self._experiment,
            run_name=f"candidate {len(self._logged) + 1}",
            tags={"mlflow.parentRunId": self.parent_id, "daskcloud.candidate": key},
        )
        values = {k: str(v)[:6000] for k, v in params.items()}
        if resource is not None:
            values["n_resources"] = str(resource)
        metrics: dict[str, float] = {}
        per_metric: dict[str, list[float]] = {}
        for k, fit in sorted(folds.items()):
            for name, score in _scores(fit.test_scores).items():
                metrics[f"split{k}_test_{name}"] = score
                per_metric.setdefault(name, []).append(score)
            metrics[f"split{k}_fit_time"] = float(fit.fit_time)
        for name, scores in per_metric.items():
            metrics[f"mean_test_{name}"] = sum(scores) / len(scores)
        metrics["mean_fit_time"] = sum(f.fit_time for f in folds.values()) / len(folds)
        failed = any(f.status != "ok" for f in folds.values())
        self.client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, 0, 0) for k, v in metrics.items() if v == v],
            params=[Param(k, v) for k, v in values.items()],
        )
        self.client.set_terminated(run.info.run_id, status="FAILED" if failed else "FINISHED")

    @contextlib.contextmanager
    def streaming(
        self, run_dir: str | Path, n_splits: int | None, name: str | None = None
    ) -> Iterator[MlflowLogger]:
        """Log candidates from ``run_dir/journal.sqlite`` in a thread while the block runs.

        The parent is marked FAILED when the block raises (KILLED on Ctrl-C).
        """
        self.open_parent(run_dir, name)
        journal = Path(run_dir) / JOURNAL_FILE
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(self.poll_s):
                with contextlib.suppress(Exception):  # a busy journal: next round
                    self.sync(journal, n_splits)

        thread = threading.Thread(target=loop, name="daskcloud-mlflow", daemon=True)
        thread.start()
        try:
            yield self
        except BaseException as e:
            self._stop.set()
            thread.join()
            status = "KILLED" if isinstance(e, KeyboardInterrupt) else "FAILED"
            self.client.set_terminated(self.parent_id, status=status)
            raise
        self._stop.set()
        thread.join()
        self.sync(journal, n_splits)

    # -- the end -------------------------------------------------------------------------------

    def finish(self, run_dir: str | Path) -> str:
        """Log the last candidates and the parent's summary, scores and files; its run id."""
        run_dir = Path(run_dir)
        if self.parent_id is None:
            self.open_parent(run_dir)
        self.sync(run_dir / JOURNAL_FILE)
        summary = json.loads((run_dir / "summary.json").read_text())
        self._log_parent(summary)
        for file in _ARTIFACTS:
            if (run_dir / file).is_file():
                self.client.log_artifact(self.parent_id, str(run_dir / file))
        self.client.set_terminated(self.parent_id, status="FINISHED")
        return str(self.parent_id)

    def _log_parent(self, summary: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric, Param

        params = {f"best.{k}": str(v)[:6000] for k, v in (summary.get("best_params") or {}).items()}
        for key in ("name", "metric", "strategy"):
            if summary.get(key) is not None:
                params[key] = str(summary[key])
        metrics = {
            k: float(summary[k])
            for k in ("best_score", "n_candidates", "n_fits", "n_fits_skipped", "wall_s",
                      "fit_cpu_s")
            if isinstance(summary.get(k), int | float)
        }  # fmt: skip
        best = summary.get("best_metric")
        if isinstance(best, Mapping) and isinstance(best.get("value"), int | float):
            metrics[f"best_{best['name']}"] = float(best["value"])
        for model, score in (summary.get("holdout_rmspe") or {}).items():
            if isinstance(score, int | float):
                metrics[f"holdout_rmspe_{model}"] = float(score)
        existing = self.client.get_run(self.parent_id).data.params
        fresh = [Param(k, v) for k, v in params.items() if k not in existing]
        self.client.log_batch(
            self.parent_id, metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()], params=fresh
        )
        if summary.get("spec") is not None:
            self.client.log_dict(self.parent_id, summary["spec"], "spec.json")


def resolve_logger(mlflow: Any) -> MlflowLogger | None:
    """``None``/``False`` -> no logging; ``True`` -> MLflow's defaults; a URI; or a logger."""
    if mlflow is None or mlflow is False:
        return None
    if isinstance(mlflow, MlflowLogger):
        return mlflow
    if mlflow is True:
        return MlflowLogger()
    if isinstance(mlflow, str):
        return MlflowLogger(tracking_uri=mlflow)
    raise ConfigError(
        f"mlflow={mlflow!r} is not understood; pass True, a tracking URI or an MlflowLogger"
    )

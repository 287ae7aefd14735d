"""Any run as an Optuna study: one trial per candidate, so Optuna's tools work on every run.

:func:`run_study` turns a run directory's results (grid, random, halving, Optuna alike) into
an Optuna study: one trial per candidate with its mean score as the value — in the metric's
own terms, so ``RMSPE`` is minimised — its parameters with Optuna distributions inferred
from the values the search tried, the score of each halving rung as an intermediate value at
``step = n_resources`` (candidates stopped below the top rung are ``PRUNED``), and, with a
journal, start and end times from the candidate's fits. :func:`export_study` writes it to an
Optuna storage (``daskcloud export optuna RUN_DIR --storage URL``), for optuna-dashboard,
``optuna.visualization`` or ``optuna.load_study``.

Example:
    >>> study = run_study("runs/20261128-170000-rossmann")               # doctest: +SKIP
    >>> optuna.visualization.plot_param_importances(study).show()         # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from daskcloud.exceptions import ConfigError
from daskcloud.report._load import RunData, load_run
from daskcloud.search._terms import ScoreTerms

__all__ = ["export_study", "run_study", "study_trials"]

#: positive numbers spanning this ratio get a log-scaled distribution
_LOG_RATIO = 100.0


def _plain(value: Any) -> Any:
    """A parameter value Optuna can store: numbers and strings as is, others as JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def _distribution(values: list[Any]) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) == len(values) and len(set(numbers)) > 1:
        low, high = min(numbers), max(numbers)
        log = low > 0 and high / low >= _LOG_RATIO
        if all(isinstance(v, int) for v in numbers):
            return IntDistribution(int(low), int(high), log=log)
        return FloatDistribution(float(low), float(high), log=log)
    return CategoricalDistribution(sorted(set(values), key=lambda v: (str(type(v)), str(v))))


def _times(fits: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """params JSON -> (first start, last end) of the candidate's journaled fits."""
    if fits.empty:
        return {}
    done = fits[fits["status"] != "cancelled"]
    spans = done.groupby("params").agg(start=("start", "min"), end=("end", "max"))
    return {str(k): (float(r.start), float(r.end)) for k, r in spans.iterrows()}


def _when(seconds: float | None) -> dt.datetime | None:
    if seconds is None or not math.isfinite(seconds):
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


def study_trials(run: RunData) -> tuple[list[Any], ScoreTerms]:
    """The FrozenTrials of a run (ordered by when each candidate finished) and its terms."""
    import optuna
    from optuna.trial import TrialState

    metric = run.metric
    terms = ScoreTerms.from_json(run.summary.get("score_terms"), metric)
    column = f"mean_test_{metric}" if f"mean_test_{metric}" in run.results else "mean_test_score"
    results = run.results
    params = [json.loads(p) for p in results["params"]]
    halving = "n_resources" in results and "iter" in results
    top_iter = int(results["iter"].max()) if halving else 0
    candidates: dict[str, dict[str, Any]] = {}
    for row, p in enumerate(params):
        key = json.dumps(p, sort_keys=True)
        entry = candidates.setdefault(key, {"params": p, "rungs": {}, "value": None})
        value = float(results[column].iloc[row])
        value = terms.value(value) if math.isfinite(value) else math.nan
        if halving:
            entry["rungs"][int(results["n_resources"].iloc[row])] = value
            if int(results["iter"].iloc[row]) == top_iter:
                entry["value"] = value
        else:
            entry["value"] = value
    names = sorted({k for c in candidates.values() for k in c["params"]})
    distributions = {
        n: _distribution([_plain(c["params"][n]) for c in candidates.values() if n in c["params"]])
        for n in names
    }
    spans = _times(run.fits)
    trials = []
    for key, c in candidates.items():
        dists = {n: distributions[n] for n in c["params"]}
        values = {n: _plain(v) for n, v in c["params"].items()}
        rungs = {step: v for step, v in c["rungs"].items() if math.isfinite(v)}
        if c["value"] is not None and math.isfinite(c["value"]):
            state, value = TrialState.COMPLETE, c["value"]
        elif rungs and c["value"] is None:
            state, value = TrialState.PRUNED, None
        else:
            state, value = TrialState.FAIL, None
        start, end = spans.get(key, (None, None))
        trial = optuna.trial.create_trial(
            state=state,
            value=value,
            params=values,
            distributions=dists,
            intermediate_values=rungs,
            user_attrs={"daskcloud_params": json.dumps(c["params"], sort_keys=True)},
        )
        if start is not None:  # else Optuna's default, the time of the export
            trial.datetime_start, trial.datetime_complete = _when(start), _when(end)
        trials.append(trial)
    if spans:
        trials.sort(key=lambda t: t.datetime_complete or dt.datetime.max)
    return trials, terms


def _new_study(storage: Any, study_name: str | None, terms: ScoreTerms, run: RunData) -> Any:
    import optuna

    from daskcloud.search.strategies._optuna import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            storage=open_storage(storage),
            study_name=study_name,
            direction="minimize" if terms.lower_is_better else "maximize",
        )
    except optuna.exceptions.DuplicatedStudyError as e:
        raise ConfigError(
            f"the storage already holds a study named {study_name!r}; pick another "
            "--study-name or delete it (optuna delete-study)"
        ) from e
    study.set_user_attr("metric", terms.name)
    study.set_user_attr("lower_is_better", terms.lower_is_better)
    study.set_user_attr("run_dir", str(run.run_dir))
    return study


def run_study(run: str | Path | RunData, storage: Any = None, study_name: str | None = None) -> Any:
    """The run as an ``optuna.Study`` (in memory, or in ``storage`` under ``study_name``).

    Raises:
        DataError: the run directory or its results are missing.
        ConfigError: the storage cannot be opened, or already holds ``study_name``.
    """
    data = run if isinstance(run, RunData) else load_run(run)
    trials, terms = study_trials(data)
    study = _new_study(storage, study_name, terms, data)
    study.add_trials(trials)
    return study


def export_study(run_dir: str | Path, storage: str, study_name: str | None = None) -> Any:
    """Write a run as an Optuna study into ``storage``; the name defaults to the run's name."""
    data = load_run(run_dir)
    name = study_name or str(data.summary.get("name") or data.run_dir.name)
    return run_study(data, storage=storage, study_name=name)

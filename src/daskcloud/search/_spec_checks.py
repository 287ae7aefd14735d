"""Building what a spec names, checked: estimator, parameter names, splitter, scorers, strategy,
budget. Pure of files and Dask (modules are imported and objects built); each problem is one
:class:`ConfigError` line naming the spec key and the fix. ``check_spec`` calls them.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daskcloud.exceptions import ConfigError
from daskcloud.search._budget import Budget, resolve_budget
from daskcloud.search._spec_model import CVSpec, EstimatorSpec, TuneSpec
from daskcloud.search.space import grid_size

__all__ = [
    "CV_SPLITTERS",
    "build_cv",
    "build_estimator",
    "build_scoring",
    "build_strategy",
    "check_budget",
    "check_param_names",
]

#: ``cv = {name = ...}`` short names; any ``module:Class`` splitter works too.
CV_SPLITTERS: dict[str, str] = {
    "kfold": "sklearn.model_selection:KFold",
    "stratified": "sklearn.model_selection:StratifiedKFold",
    "shuffle": "sklearn.model_selection:ShuffleSplit",
    "timeseries": "sklearn.model_selection:TimeSeriesSplit",
    "rossmann": "daskcloud.rossmann.splits:TimeSeriesFolds",
}

#: scorer names daskcloud adds to scikit-learn's
_EXTRA_SCORERS = {"rmspe": "daskcloud.rossmann.metric:rmspe_scorer"}


def _import(target: str, what: str, base_dir: Path | None = None) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        module = _import_beside(module_name, e, [base_dir, Path.cwd()], what)
    except ImportError as e:
        raise ConfigError(
            f"{what}: cannot import module {module_name!r} ({e}); check the name"
        ) from e
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(
            f"{what}: module {module_name!r} has no {attr!r}; check the name"
        ) from None


def _import_beside(
    module_name: str, error: ModuleNotFoundError, folders: list[Path | None], what: str
) -> Any:
    """Import a user's module that lies beside the spec file or in the current directory.

    The folder joins ``sys.path`` (at its end: installed packages keep precedence), so the
    estimator's classes unpickle here; the search ships the module to the workers.
    """
    top = module_name.split(".")[0]
    for folder in folders:
        if folder is None or error.name != top:
            continue
        if (folder / f"{top}.py").is_file() or (folder / top / "__init__.py").is_file():
            if str(folder) not in sys.path:
                sys.path.append(str(folder))
            importlib.invalidate_caches()
            try:
                return importlib.import_module(module_name)
            except ImportError as e:
                raise ConfigError(
                    f"{what}: cannot import module {module_name!r} from {folder} ({e})"
                ) from e
    raise ConfigError(
        f"{what}: cannot import module {module_name!r} ({error}); check the name, or put "
        f"{top}.py beside the spec file"
    ) from error


def build_estimator(spec: EstimatorSpec, base_dir: Path | None = None) -> Any:
    """Import the estimator factory (or class) and call it with the spec's kwargs."""
    factory = _import(spec.factory, "estimator.factory", base_dir)
    if not callable(factory):
        raise ConfigError(f"estimator.factory: {spec.factory!r} is not callable")
    try:
        estimator = factory(**spec.kwargs)
    except (TypeError, ValueError, ConfigError) as e:
        raise ConfigError(f"estimator.kwargs: {spec.factory}(**kwargs) failed: {e}") from e
    if not hasattr(estimator, "get_params") or not hasattr(estimator, "fit"):
        raise ConfigError(
            f"estimator.factory: {spec.factory!r} returned {type(estimator).__name__}, "
            "not a scikit-learn estimator (needs fit and get_params)"
        )
    return estimator


def check_param_names(estimator: Any, space: Any) -> None:
    """Every space key must be one of ``estimator.get_params()``; close names suggested."""
    valid = sorted(estimator.get_params(deep=True))
    subspaces = [space] if isinstance(space, Mapping) else space
    for sub in subspaces:
        for key in sub:
            if key in valid:
                continue
            close = difflib.get_close_matches(key, valid, n=3, cutoff=0.6)
            hint = (
                f"did you mean {' or '.join(close)}?"
                if close
                else f"valid names include {', '.join(valid[:12])}"
                + (", ..." if valid[12:] else "")
            )
            raise ConfigError(
                f"space.{key}: unknown parameter for {type(estimator).__name__}; {hint}"
            )


def build_cv(spec: CVSpec) -> Any:
    """The splitter of ``cv``: a short name of :data:`CV_SPLITTERS` or ``module:Class``."""
    target = CV_SPLITTERS.get(spec.name, spec.name)
    if ":" not in target:
        raise ConfigError(
            f"cv.name: unknown splitter {spec.name!r}; use one of {', '.join(CV_SPLITTERS)} "
            "or 'module:Class'"
        )
    cls = _import(target, "cv.name")
    try:
        cv = cls(**spec.options)
    except (TypeError, ValueError, ConfigError) as e:
        raise ConfigError(f"cv: {spec.name} rejected the options {spec.options}: {e}") from e
    if not hasattr(cv, "split"):
        raise ConfigError(f"cv.name: {target!r} is not a splitter (it has no split method)")
    return cv


def _scorer(name: str) -> Any:
    from sklearn.metrics import get_scorer_names

    if name in _EXTRA_SCORERS:
        return _import(_EXTRA_SCORERS[name], "scoring")
    if name not in get_scorer_names():
        close = difflib.get_close_matches(name, [*get_scorer_names(), *_EXTRA_SCORERS], n=3)
        hint = (
            f"did you mean {' or '.join(close)}?"
            if close
            else "see sklearn.metrics.get_scorer_names()"
        )
        raise ConfigError(f"scoring: unknown scorer {name!r}; {hint}")
    return name  # scikit-learn resolves its own names; the journal key stays readable


def build_scoring(spec: TuneSpec) -> tuple[Any, bool | str]:
    """``(scoring, refit)``: scorer names checked, ``refit`` naming one of several."""
    scoring, refit = spec.scoring, spec.refit
    if scoring is None or isinstance(scoring, str):
        if isinstance(refit, str):
            raise ConfigError("refit: a metric name needs several scorers; use refit = true")
        return (None if scoring is None else _scorer(scoring)), refit
    if not scoring or len(set(scoring)) != len(scoring):
        raise ConfigError("scoring: give a non-empty list of distinct scorer names")
    scorers = {name: _scorer(name) for name in scoring}
    if refit is True or refit not in scorers:
        raise ConfigError(
            f"refit: with several scorers, refit must name one of {', '.join(scorers)} "
            f"(got {refit!r})"
        )
    return scorers, refit


def build_strategy(spec: TuneSpec, space: Any) -> Any:
    """The strategy, built once: the search uses this instance."""
    name = spec.strategy.name
    if name == "grid":
        grid_size(space)  # a distribution in a grid: one line naming it
    try:
        from daskcloud.search.strategies import resolve_strategy
    except ImportError:  # the engine is optional for validation
        if name not in ("grid", "random"):
            raise ConfigError(f"strategy: unknown strategy {name!r}; use grid or random") from None
        return name
    try:
        return resolve_strategy(
            name,
            space,
            n_candidates=spec.n_candidates,
            random_state=spec.seed,
            options=spec.strategy.options,
        )
    except ConfigError as e:
        raise ConfigError(f"strategy: {e}") from e
    except (TypeError, ValueError) as e:
        raise ConfigError(
            f"strategy: {name} rejected the options {spec.strategy.options}: {e}"
        ) from e


def check_budget(spec: TuneSpec) -> Budget:
    """The ``[budget]`` table, resolved."""
    try:
        return resolve_budget(spec.budget)
    except ConfigError as e:
        raise ConfigError(f"budget: {e}") from e

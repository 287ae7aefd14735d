"""The TOML spec of ``daskcloud tune SPEC.toml``: typed, validated before any cluster starts.

Two steps, both pure of Dask:

1. :func:`load_spec` reads the file into a frozen :class:`TuneSpec` (pydantic):
   unknown keys, wrong types and a missing file become one :class:`ConfigError` line.
2. :func:`check_spec` builds what the search needs (:class:`TuneJob`): it imports the
   estimator factory and calls it, parses the space and checks every name against
   ``estimator.get_params()``, builds the CV splitter and scorers, resolves the strategy,
   and checks that the data file exists and holds the target column.

Every problem is one line naming the file, the key and the fix; ConfigError and
DataError both mean exit code 2 on the command line. ``docs/spec.md`` is the
full reference; a minimal spec::

    estimator = "sklearn.linear_model:Ridge"
    [data]
    path = "diabetes.csv"
    target = "target"
    [space]
    alpha = "loguniform(1e-3, 1e2)"
"""

from __future__ import annotations

import difflib
import importlib
import math
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from daskcloud.exceptions import ConfigError, DataError
from daskcloud.search._budget import Budget, resolve_budget
from daskcloud.search.space import grid_size, resolve_space

__all__ = [
    "CV_SPLITTERS",
    "CVSpec",
    "DataSpec",
    "EstimatorSpec",
    "RossmannDataSpec",
    "StrategySpec",
    "TuneJob",
    "TuneSpec",
    "check_spec",
    "load_spec",
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

_STRICT = ConfigDict(extra="forbid", frozen=True)
_OPEN = ConfigDict(extra="allow", frozen=True)  # passthrough options for splitters and strategies


class EstimatorSpec(BaseModel):
    """``estimator = "module:factory"`` or ``[estimator]`` with ``factory`` and ``kwargs``."""

    model_config = _STRICT
    factory: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    kwargs: dict[str, Any] = {}


class RossmannDataSpec(BaseModel):
    """``data.rossmann``: the Rossmann files of ``data_dir``, or synthetic data of ``preset``."""

    model_config = _STRICT
    preset: Literal["small", "medium", "full"] = "small"
    data_dir: Path | None = None
    seed: int = 0
    holdout_weeks: int = Field(default=6, ge=1)


class DataSpec(BaseModel):
    """``[data]``: a CSV/Parquet ``path`` and its ``target`` column, or ``rossmann = {...}``."""

    model_config = _STRICT
    path: Path | None = None
    target: str | None = None
    rossmann: RossmannDataSpec | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if (self.path is None) == (self.rossmann is None):
            raise ValueError("give either path (with target) or rossmann = {preset = ...}")
        if self.path is not None and not self.target:
            raise ValueError("path needs target = the name of the column to predict")
        if self.path is not None and self.path.suffix.lower() not in (".csv", ".parquet", ".pq"):
            raise ValueError(f"path {str(self.path)!r} must end in .csv or .parquet")
        return self


class CVSpec(BaseModel):
    """``cv = 5`` (k-fold) or ``cv = {name = "rossmann", n_splits = 3}``; the rest are options."""

    model_config = _OPEN
    name: str = "kfold"

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class StrategySpec(BaseModel):
    """``strategy = "grid"`` or ``[strategy]`` with ``name`` and the strategy's own options."""

    model_config = _OPEN
    name: str = "grid"

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class TuneSpec(BaseModel):
    """The whole spec file; see ``docs/spec.md``."""

    model_config = _STRICT
    name: str | None = Field(default=None, pattern=r"^[\w.-]+$")
    estimator: EstimatorSpec
    data: DataSpec
    space: dict[str, Any]
    cv: CVSpec = CVSpec(name="kfold", n_splits=5)
    scoring: str | list[str] | None = None
    refit: bool | str = True
    strategy: StrategySpec = StrategySpec()
    n_candidates: int | None = Field(default=None, ge=1)
    seed: int = 0
    error_score: float | Literal["raise"] = math.nan
    #: seconds (or a duration such as "10m") one fit may run; scored error_score past it
    fit_timeout: float | str | None = None
    return_train_score: bool = False
    budget: dict[str, Any] | None = None
    #: the spec file's folder: modules beside it import (set by load_spec, not read from TOML)
    base_dir: Path | None = Field(default=None, exclude=True)

    @field_validator("estimator", mode="before")
    @classmethod
    def _estimator_string(cls, value: Any) -> Any:
        return {"factory": value} if isinstance(value, str) else value

    @field_validator("fit_timeout", mode="before")
    @classmethod
    def _fit_timeout(cls, value: Any) -> Any:
        from daskcloud.search._deadline import resolve_fit_timeout

        try:
            return resolve_fit_timeout(value)
        except ConfigError as e:
            raise ValueError(str(e)) from e

    @field_validator("cv", mode="before")
    @classmethod
    def _cv_int(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 2:
                raise ValueError(f"cv = {value}: need at least 2 folds")
            return {"name": "kfold", "n_splits": value}
        return value

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy_string(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


@dataclass(frozen=True)
class TuneJob:
    """Everything a search needs, built and checked from a :class:`TuneSpec`.

    ``strategy`` is the :class:`~daskcloud.search.strategies.Strategy` built from the spec's
    ``[strategy]`` (with ``strategy_options``, kept for the record), once: a search given it
    uses this instance, so build one job per search.
    """

    spec: TuneSpec
    name: str
    estimator: Any
    space: Any
    cv: Any
    scoring: Any
    refit: bool | str
    strategy: Any
    strategy_options: dict[str, Any] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)


def _format_errors(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"] if not str(p).startswith("function-"))
        msg = item["msg"].removeprefix("Value error, ")
        got = item.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        parts.append(f"{loc or 'spec'}: {msg}{shown}")
    return "; ".join(parts)


def load_spec(path: str | Path) -> TuneSpec:
    """Read and type-check a spec file; relative data paths are taken from the spec's folder.

    Raises:
        ConfigError: missing file, invalid TOML, unknown keys or wrong types (one line).
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"spec file {str(path)!r} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the spec file: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    try:
        spec = TuneSpec.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"{path}: {_format_errors(e)}") from None
    base = path.resolve().parent
    data = spec.data
    if data.path is not None and not data.path.is_absolute():
        data = data.model_copy(update={"path": base / data.path})
    if data.rossmann is not None and data.rossmann.data_dir is not None:
        rossmann = data.rossmann
        if not rossmann.data_dir.is_absolute():
            rossmann = rossmann.model_copy(update={"data_dir": base / rossmann.data_dir})
        data = data.model_copy(update={"rossmann": rossmann})
    name = spec.name or path.stem
    return spec.model_copy(update={"data": data, "name": name, "base_dir": base})


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


def _build_estimator(spec: EstimatorSpec, base_dir: Path | None = None) -> Any:
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


def _check_param_names(estimator: Any, space: Any) -> None:
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


def _build_cv(spec: CVSpec) -> Any:
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


def _build_scoring(spec: TuneSpec) -> tuple[Any, bool | str]:
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


def _check_strategy(spec: TuneSpec, space: Any) -> Any:
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


def _check_budget(spec: TuneSpec) -> Budget:
    try:
        return resolve_budget(spec.budget)
    except ConfigError as e:
        raise ConfigError(f"budget: {e}") from e


def _check_data(data: DataSpec) -> None:
    if data.rossmann is not None:
        data_dir = data.rossmann.data_dir
        if data_dir is not None and not (data_dir / "train.csv").is_file():
            raise DataError(
                f"data.rossmann.data_dir: {str(data_dir)!r} has no train.csv; "
                "point it at the Kaggle files or drop data_dir to use synthetic data"
            )
        return
    path = data.path
    assert path is not None and data.target is not None
    if not path.is_file():
        raise DataError(f"data.path: file {str(path)!r} does not exist; check the path")
    columns = _read_columns(path)
    if data.target not in columns:
        raise DataError(
            f"data.target: column {data.target!r} is not in {path.name} "
            f"(columns: {', '.join(columns[:20])}); set target to the column to predict"
        )


def _read_columns(path: Path) -> list[str]:
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            return [str(c) for c in pd.read_csv(path, nrows=0).columns]
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    except (OSError, ValueError) as e:
        raise DataError(f"data.path: cannot read {str(path)!r}: {e}") from e


def check_spec(spec: TuneSpec, *, where: str | Path = "spec") -> TuneJob:
    """Build and check everything a search needs; pure of Dask, cheap (reads a file header).

    Raises:
        ConfigError: unknown parameter, malformed distribution, bad cv/scoring/strategy/budget.
        DataError: the data file is missing or lacks the target column.
    """
    try:
        estimator = _build_estimator(spec.estimator, spec.base_dir)
        space = resolve_space(spec.space)
        _check_param_names(estimator, space)
        cv = _build_cv(spec.cv)
        scoring, refit = _build_scoring(spec)
        strategy = _check_strategy(spec, space)
        budget = _check_budget(spec)
        _check_data(spec.data)
    except (ConfigError, DataError) as e:
        raise type(e)(f"{where}: {e}") from e
    return TuneJob(
        spec=spec,
        name=spec.name or Path(str(where)).stem,
        estimator=estimator,
        space=space,
        cv=cv,
        scoring=scoring,
        refit=refit,
        strategy=strategy,
        strategy_options=spec.strategy.options,
        budget=budget,
    )

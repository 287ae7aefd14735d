"""The spec file's typed model: frozen pydantic classes, one per table, and :class:`TuneJob`.

Pure: no file is read here (:func:`daskcloud.search.spec.load_spec` reads one) and nothing
is imported or built (:mod:`._spec_checks` builds). Validation errors become one line with
:func:`format_errors`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from daskcloud.exceptions import ConfigError
from daskcloud.search._budget import Budget

__all__ = [
    "CVSpec",
    "DataSpec",
    "EstimatorSpec",
    "RossmannDataSpec",
    "StrategySpec",
    "TuneJob",
    "TuneSpec",
    "format_errors",
]

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


def format_errors(error: ValidationError) -> str:
    """A pydantic error as one line: ``key.path: message (got value)``, joined by "; "."""
    parts = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"] if not str(p).startswith("function-"))
        msg = item["msg"].removeprefix("Value error, ")
        got = item.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        parts.append(f"{loc or 'spec'}: {msg}{shown}")
    return "; ".join(parts)

"""The TOML spec of ``daskcloud tune SPEC.toml``: typed, validated before any cluster starts.

Two steps, both pure of Dask:

1. :func:`load_spec` reads the file into a frozen :class:`TuneSpec` (pydantic):
   unknown keys, wrong types and a missing file become one :class:`ConfigError` line.
2. :func:`check_spec` builds what the search needs (:class:`TuneJob`): it imports the
   estimator factory and calls it, parses the space and checks every name against
   ``estimator.get_params()``, builds the CV splitter and scorers, resolves the strategy,
   and checks that the data file exists and holds the target column.

The parts: :mod:`._spec_model` holds the typed model (pure), :mod:`._spec_checks` the
builders of step 2 (pure of files and Dask); this module is the edge that reads files (the
spec, the data file's header) and keeps the public names.

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

import tomllib
from pathlib import Path

from pydantic import ValidationError

from daskcloud.exceptions import ConfigError, DataError
from daskcloud.search._spec_checks import (
    CV_SPLITTERS,
    build_cv,
    build_estimator,
    build_scoring,
    build_strategy,
    check_budget,
    check_param_names,
)
from daskcloud.search._spec_model import (
    CVSpec,
    DataSpec,
    EstimatorSpec,
    RossmannDataSpec,
    StrategySpec,
    TuneJob,
    TuneSpec,
    format_errors,
)
from daskcloud.search.space import resolve_space

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
        raise ConfigError(f"{path}: {format_errors(e)}") from None
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
        estimator = build_estimator(spec.estimator, spec.base_dir)
        space = resolve_space(spec.space)
        check_param_names(estimator, space)
        cv = build_cv(spec.cv)
        scoring, refit = build_scoring(spec)
        strategy = build_strategy(spec, space)
        budget = check_budget(spec)
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

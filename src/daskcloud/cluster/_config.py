"""The command-line edge of a cluster: flags and a ``--config`` file become one ClusterSpec.

A config file (YAML, or TOML by its ``.toml`` suffix) holds the same options as the flags,
under the field names of :class:`~daskcloud.cluster._spec.ClusterSpec` or the flags' names
(``max_lifetime`` or ``max-lifetime``); flags given on the command line override it. The file
is checked by the same model as the flags, before anything is created: an unknown key, a
wrong type or a bad value is one :class:`~daskcloud.exceptions.ConfigError` line naming the
file and the key::

    >>> spec = build_spec({"workers": 4}, Path("examples/cluster.yaml"))   # doctest: +SKIP
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from daskcloud.cluster._spec import ClusterSpec, one_line, spec_options
from daskcloud.exceptions import ConfigError

__all__ = ["build_spec", "load_config", "spec_changes"]


def load_config(path: Path) -> dict[str, tuple[str, Any]]:
    """The options in ``path``: ClusterSpec field -> (the key as the file spells it, value).

    Unknown keys are kept under their own name; the model reports them with the file's name.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; give the path of a cluster config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "YAML"
        raise ConfigError(f"{path}: not valid {kind} ({' '.join(str(exc).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of options (workers: 4, memory: 8Gi, ...), "
            f"got a {type(data).__name__}"
        )
    aliases = {key: o.field for o in spec_options() for key in o.config_keys}
    out: dict[str, tuple[str, Any]] = {}
    for key, value in data.items():
        field = aliases.get(str(key).replace("-", "_"), str(key))
        if field in out:
            raise ConfigError(f"{path}: {key}: given twice (also as {out[field][0]}); keep one")
        if field not in aliases.values() and field in ClusterSpec.model_fields:
            # a field that is not an option (cluster_id) is as unknown in a file as a typo
            known = ", ".join(o.field for o in spec_options())
            raise ConfigError(f"{path}: {key}: unknown key; the keys are {known}")
        out[field] = (str(key), value)
    return out


def build_spec(flags: Mapping[str, Any], config: Path | None = None) -> ClusterSpec:
    """One ClusterSpec from the flags given and the config file (flags override the file)."""
    data, keys = _sources(flags, config)
    return _validate(data, config, keys)


def spec_changes(
    current: ClusterSpec, flags: Mapping[str, Any], config: Path | None = None
) -> ClusterSpec:
    """``current`` with the options of the flags and the file applied, validated."""
    data, keys = _sources(flags, config)
    return _validate({**current.model_dump(), **data}, config, keys)


def _sources(
    flags: Mapping[str, Any], config: Path | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Merged values (flags win) and, for those taken from the file, the key written there."""
    loaded = load_config(config) if config is not None else {}
    keys = {field: key for field, (key, _) in loaded.items() if field not in flags}
    return {**{f: v for f, (_, v) in loaded.items()}, **flags}, keys


def _validate(data: dict[str, Any], config: Path | None, keys: dict[str, str]) -> ClusterSpec:
    try:
        return ClusterSpec(**data)
    except ConfigError as exc:  # its cause is pydantic's report: name the file and key too
        if not keys or not isinstance(exc.__cause__, ValidationError):
            raise
        raise ConfigError(one_line(exc.__cause__, file=str(config), keys=keys)) from None

"""daskcloud's settings in dask's config system, as dask-kubernetes and dask-jobqueue do.

The defaults ship in ``daskcloud.yaml`` (namespace ``daskcloud``) and are registered with
:func:`dask.config.update_defaults` on import, so every source dask reads applies, in dask's
order of precedence (later wins)::

    daskcloud.yaml (package)  <  YAML files in /etc/dask, ~/.config/dask, $DASK_CONFIG
                              <  DASK_DASKCLOUD__<KEY> variables  <  dask.config.set(...)

The variables daskcloud read before it used dask config are aliases and, when set, win:
``DASKCLOUD_HOME`` (``home``), ``DASKCLOUD_CACHE`` (``cache``) and ``DASKCLOUD_PORT_FORWARD``
(``cluster.port-forward``).

Example:
    >>> import dask, daskcloud.config as cfg
    >>> with dask.config.set({"daskcloud.cluster.idle-timeout": "1h"}):
    ...     cfg.get("cluster.idle-timeout")
    '1h'
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.config
import yaml

from daskcloud.exceptions import ConfigError

__all__ = ["ALIASES", "Setting", "cache_dir", "get", "home_dir", "settings", "write_template"]

DEFAULTS_FILE = Path(__file__).with_name("daskcloud.yaml")
with DEFAULTS_FILE.open() as _f:
    DEFAULTS: dict[str, Any] = yaml.safe_load(_f)
dask.config.update_defaults(DEFAULTS)

#: legacy environment variables, each an alias of one key (and winning over dask config)
ALIASES: dict[str, str] = {
    "home": "DASKCLOUD_HOME",
    "cache": "DASKCLOUD_CACHE",
    "cluster.port-forward": "DASKCLOUD_PORT_FORWARD",
}
_MISSING = object()


def _flat(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


KEYS: tuple[str, ...] = tuple(key for key, _ in _flat(DEFAULTS["daskcloud"]))


def _check_key(key: str) -> None:
    if key not in KEYS:
        raise ConfigError(f"unknown daskcloud setting {key!r}; known: {', '.join(KEYS)}")


def _parse_alias(key: str, text: str) -> Any:
    if isinstance(_default(key), bool):
        return text.strip().lower() in ("1", "true", "yes", "on")
    return text


def _default(key: str) -> Any:
    value: Any = DEFAULTS["daskcloud"]
    for part in key.split("."):
        value = value[part]
    return value


def get(key: str) -> Any:
    """The effective value of ``daskcloud.<key>`` (``"cluster.image"``, ``"home"``, ...)."""
    _check_key(key)
    alias = ALIASES.get(key)
    if alias and os.environ.get(alias):
        return _parse_alias(key, os.environ[alias])
    return dask.config.get(f"daskcloud.{key}")


def home_dir() -> Path:
    """daskcloud's state directory: ``daskcloud.home``, else ``~/.daskcloud``."""
    value = get("home")
    return Path(value).expanduser() if value else Path.home() / ".daskcloud"


def cache_dir() -> Path:
    """``daskcloud.cache``, else ``$XDG_CACHE_HOME/daskcloud``, else ``~/.cache/daskcloud``."""
    value = get("cache")
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "daskcloud"


@dataclass(frozen=True)
class Setting:
    """One effective setting and where its value came from."""

    key: str
    value: Any
    source: str


def _lookup(tree: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(tree, Mapping):
            return _MISSING
        # dask treats - and _ in keys alike
        for candidate in (part, part.replace("-", "_"), part.replace("_", "-")):
            if candidate in tree:
                tree = tree[candidate]
                break
        else:
            return _MISSING
    return tree


def _config_files(paths: list[str]) -> list[Path]:
    """The files dask reads from ``paths``, in its order (later wins)."""
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            files += sorted(p for p in entry.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
        elif entry.is_file():
            files.append(entry)
    return files


def _file_layers(paths: list[str]) -> list[tuple[str, Any]]:
    layers = []
    for path in _config_files(paths):
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue  # dask itself reports unreadable files
        layers.append((str(path), data))
    return layers


def settings(paths: list[str] | None = None) -> list[Setting]:
    """Every daskcloud setting, its effective value and its source.

    A source is ``$VAR`` (an environment variable), a config file's path, ``dask.config.set``
    (set in this Python process) or ``default`` (the packaged ``daskcloud.yaml``). ``paths``
    are the places dask reads YAML from (default ``dask.config.paths``).
    """
    layers = _file_layers(list(dask.config.paths if paths is None else paths))
    env = dask.config.collect_env()
    out = []
    for key in KEYS:
        value = get(key)
        alias = ALIASES.get(key)
        if alias and os.environ.get(alias):
            source = f"${alias}"
        elif (
            _lookup(env, f"daskcloud.{key}") is not _MISSING
            and _lookup(env, f"daskcloud.{key}") == value
        ):
            source = "$DASK_DASKCLOUD__" + key.upper().replace(".", "__").replace("-", "_")
        else:
            source = "default" if value == _default(key) else "dask.config.set"
            for path, data in reversed(layers):
                found = _lookup(data, f"daskcloud.{key}")
                if found is not _MISSING:
                    source = path if found == value else source
                    break
        out.append(Setting(key, value, source))
    return out


def write_template(destination: str | os.PathLike | None = None) -> Path:
    """Copy ``daskcloud.yaml``, commented out, to ``~/.config/dask/`` (kept if it exists)."""
    directory = Path(destination) if destination else Path(dask.config.PATH)
    dask.config.ensure_file(source=str(DEFAULTS_FILE), destination=str(directory), comment=True)
    return directory / DEFAULTS_FILE.name

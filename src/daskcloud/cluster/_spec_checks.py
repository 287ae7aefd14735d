"""The checks of :class:`~daskcloud.cluster._spec.ClusterSpec`'s values, one per kind of value.

Each check takes the value as given (``mode="before"`` ones: as written on the command line or
in a config file) and returns it normalised, or raises ``ValueError`` with a one-line message
that names the value and the fix; the spec turns that into a
:class:`~daskcloud.exceptions.ConfigError`. ``info`` is pydantic's validation info: the field's
name, for messages shared by several fields.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement

from daskcloud.core.units import format_cpu, parse_cpu, parse_duration, parse_memory

if TYPE_CHECKING:
    from daskcloud.cluster._spec import ClusterSpec

__all__ = [
    "DEFAULT_IMAGE_REPOSITORY",
    "MAX_LIFETIME_SECONDS",
    "MAX_NAME_LENGTH",
    "check_cluster_id",
    "check_count",
    "check_cpu",
    "check_duration",
    "check_image",
    "check_index_urls",
    "check_lifetimes",
    "check_memory",
    "check_name",
    "check_namespace",
    "check_packages",
    "check_pull_secret",
    "check_storage",
    "default_image",
    "not_bool",
    "suggest_label",
]

DEFAULT_IMAGE_REPOSITORY = "ghcr.io/dask/dask"
#: longest cluster name: leaves room for the ``-scheduler``/``-workers`` suffixes and pod hashes
MAX_NAME_LENGTH = 40
#: no cluster may be asked to live longer than this
MAX_LIFETIME_SECONDS = 30 * 24 * 3600

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_MIN_MEMORY = 256 * 2**20


def default_image() -> str:
    """The team's image (dask config ``daskcloud.cluster.image``), else the official dask image
    at the client's distributed and Python versions: it exists for every dask release, and the
    sync init container adds the client's pinned packages (never ``latest``)."""
    from daskcloud.config import get

    configured = get("cluster.image")
    if configured:
        return str(configured)
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return f"{DEFAULT_IMAGE_REPOSITORY}:{version('distributed')}-py{python}"


def suggest_label(value: str) -> str:
    """A DNS label close to ``value``: lowercased, other characters turned into '-'."""
    label = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    if not label or not label[0].isalpha():
        label = f"dask-{label}".strip("-")
    return label[:MAX_NAME_LENGTH].rstrip("-")


def check_name(value: str) -> str:
    if len(value) > MAX_NAME_LENGTH or not _DNS_LABEL.match(value):
        raise ValueError(
            f"cluster name {value!r} is not a DNS label: use at most {MAX_NAME_LENGTH} "
            "lowercase letters, digits and '-', starting with a letter and ending with a "
            f"letter or digit, e.g. {suggest_label(value)!r}"
        )
    return value


def check_namespace(value: str) -> str:
    if len(value) > 63 or not _NAMESPACE.match(value):
        raise ValueError(
            f"namespace {value!r} is not a DNS label: use at most 63 lowercase letters, "
            f"digits and '-', e.g. {suggest_label(value)!r}"
        )
    return value


def not_bool(value: Any, info: Any) -> Any:
    """Before a count is parsed: ``True`` is not 1."""
    if isinstance(value, bool):
        raise ValueError(f"{info.field_name} {value!r} is not a number; give e.g. 2")
    return value


def check_count(value: int, info: Any) -> int:
    if value < 0:
        raise ValueError(
            f"{info.field_name} {value} is negative; give 0 or more, e.g. "
            f"--{info.field_name} {2 if info.field_name == 'workers' else 1}"
        )
    return value


def check_cpu(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"cpu {value!r} is not a number of cores; write e.g. '2' or '500m'")
    return format_cpu(parse_cpu(value))


def check_memory(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"memory {value!r} is not a Kubernetes quantity; write e.g. '4Gi'")
    if parse_memory(value) < _MIN_MEMORY:
        raise ValueError(
            f"memory {value!r} is below 256Mi, too little for a Dask worker; "
            f"did you mean '{value.strip()}{'Mi' if int(value) >= 256 else 'Gi'}'?"
            if value.strip().isdigit()
            else f"memory {value!r} is below 256Mi, too little for a Dask worker; "
            "give at least '256Mi'"
        )
    return value.strip()


def check_image(value: str) -> str:
    last = value.rsplit("/", 1)[-1]
    pinned = "@sha256:" in value or (":" in last and not last.endswith(":"))
    if not value or " " in value or not pinned or last.endswith(":latest"):
        raise ValueError(
            f"image {value!r} is not pinned; give a tag or digest that matches the "
            f"client's versions, e.g. {default_image()!r} (never 'latest')"
        )
    return value


def check_index_urls(value: Any) -> Any:
    """One URL (``index_url``) or several (``extra_index_urls``), each http(s)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip() and not value.startswith("--"):
        urls, one = [value], True
    else:
        urls, one = list(value or ()), False
    for url in urls:
        if not re.match(r"^https?://[^\s/]+", str(url)):
            raise ValueError(
                f"package index {url!r} is not an http(s) URL; write e.g. "
                "'https://pypi.example.com/simple'"
            )
    return value if one else tuple(str(u) for u in urls)


def check_pull_secret(value: str | None) -> str | None:
    if value is not None and not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", value):
        raise ValueError(f"image pull secret {value!r} is not a Secret name; write e.g. 'regcred'")
    return value


def check_packages(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return value
    for item in value:
        try:
            Requirement(str(item))
        except InvalidRequirement as exc:
            detail = str(exc).splitlines()[0].strip()
            raise ValueError(
                f"package {item!r} is not a pip requirement ({detail}); write e.g. "
                "'xgboost>=2' or 'lightgbm==4.5.0'"
            ) from None
    return tuple(str(item).strip() for item in value)


def check_duration(value: Any, info: Any) -> str:
    what = info.field_name.replace("_", " ")
    seconds = parse_duration(value, what)
    return str(value).strip() if isinstance(value, str) else f"{seconds}s"


def check_storage(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    try:
        size = parse_memory(text)
    except ValueError as exc:  # its message names the quantity meant: '10 GB' -> '10Gi'
        raise ValueError(str(exc).replace("memory", "notebook storage", 1)) from None
    if size <= 0:
        raise ValueError(f"notebook storage {value!r} is empty; give e.g. '10Gi'")
    return text


def check_cluster_id(value: str) -> str:
    if not value or len(value) > 63 or not _LABEL_VALUE.match(value):
        raise ValueError(
            f"cluster_id {value!r} is not a label value: use at most 63 letters, digits, "
            "'-', '_' or '.'"
        )
    return value


def check_lifetimes(spec: ClusterSpec) -> ClusterSpec:
    """Across fields, once each is valid: the lifetimes, and storage only with a notebook."""
    if spec.max_lifetime_seconds > MAX_LIFETIME_SECONDS:
        raise ValueError(
            f"max lifetime {spec.max_lifetime!r} is longer than 30d; a cluster that lives "
            "that long is a forgotten one, give e.g. '8h'"
        )
    if spec.idle_timeout_seconds > spec.max_lifetime_seconds:
        raise ValueError(
            f"idle timeout {spec.idle_timeout!r} is longer than the max lifetime "
            f"{spec.max_lifetime!r}; shorten the idle timeout or lengthen the lifetime"
        )
    if spec.notebook_storage is not None and not spec.jupyter:
        raise ValueError(
            f"notebook storage {spec.notebook_storage!r} is the notebook's home; "
            "add --jupyter, or drop --notebook-storage"
        )
    return spec

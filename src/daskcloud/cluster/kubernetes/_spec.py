"""ClusterSpec: the typed, validated description of one Dask cluster on Kubernetes.

Everything the manifest builders need is here, checked once: names are DNS labels, cpu and
memory are Kubernetes quantities, durations are ``20m``/``8h``-style strings, the image is
pinned. Invalid values raise :class:`~daskcloud.exceptions.ConfigError` with a one-line
message naming the value and the fix.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from daskcloud._version import __version__
from daskcloud.exceptions import ConfigError

__all__ = [
    "DASHBOARD_PORT",
    "DEFAULT_IMAGE_REPOSITORY",
    "SCHEDULER_PORT",
    "ClusterSpec",
    "Toleration",
    "default_image",
    "parse_duration",
    "parse_memory",
]

SCHEDULER_PORT = 8786
DASHBOARD_PORT = 8787
DEFAULT_IMAGE_REPOSITORY = "ghcr.io/daskcloud/daskcloud"
#: longest cluster name: leaves room for the ``-scheduler``/``-workers`` suffixes and pod hashes
MAX_NAME_LENGTH = 40
#: no cluster may be asked to live longer than this
MAX_LIFETIME_SECONDS = 30 * 24 * 3600

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_CPU = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_MEMORY_UNITS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_MIN_MEMORY = 256 * 2**20


def default_image() -> str:
    """``daskcloud.cluster.image``, else our image at the installed version (never latest)."""
    from daskcloud.config import get

    return get("cluster.image") or f"{DEFAULT_IMAGE_REPOSITORY}:{__version__}"


def parse_duration(value: str | int, what: str = "duration") -> int:
    """Seconds in ``value``: ``"90s"``, ``"20m"``, ``"8h"``, ``"1h30m"``, ``"2d"`` or an int."""
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} is not a duration; write e.g. '20m', '8h' or '1h30m'")
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION.match(str(value).strip())
        if not match or not any(match.groups()):
            raise ValueError(
                f"{what} {value!r} is not a duration; write a number with a unit s, m, h or d, "
                "e.g. '20m', '8h' or '1h30m'"
            )
        d, h, m, s = (int(g or 0) for g in match.groups())
        seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if seconds <= 0:
        raise ValueError(f"{what} {value!r} must be longer than zero, e.g. '20m'")
    return seconds


def parse_memory(value: str | int) -> int:
    """Bytes in a Kubernetes memory quantity such as ``"4Gi"`` or ``"512Mi"``."""
    text = str(value).strip()
    match = _MEMORY.match(text)
    if not match:
        raise ValueError(
            f"memory {value!r} is not a Kubernetes quantity; {_memory_hint(text)} "
            "(units Ki, Mi, Gi, Ti are powers of 1024; k, M, G, T powers of 1000; no space)"
        )
    number, unit = match.groups()
    return int(Decimal(number) * _MEMORY_UNITS[unit])


def _memory_hint(text: str) -> str:
    """Suggest the quantity the user probably meant: '12 GB' -> '12Gi'."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtTpP])?\s*(i?[bB]?)?\s*$", text)
    if match and match.group(2):
        number, prefix = match.group(1), match.group(2).upper()
        prefix = "k" if prefix == "K" else prefix
        binary = "Ki" if prefix == "k" else f"{prefix}i"
        return f"write '{number}{binary}' or '{number}{prefix}'"
    return "write e.g. '4Gi' or '512Mi'"


class Toleration(BaseModel):
    """One pod toleration, e.g. for a tainted spot or GPU node pool."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(default=None, ge=0)

    @classmethod
    def parse(cls, text: str) -> Toleration:
        """``KEY[=VALUE][:EFFECT]``, e.g. ``spot=true:NoSchedule``; no value means ``Exists``."""
        match = re.match(r"^([^=:\s]+)(?:=([^:\s]*))?(?::(\w+))?$", text.strip())
        effects = ("NoSchedule", "PreferNoSchedule", "NoExecute")
        if not match or (match.group(3) and match.group(3) not in effects):
            raise ValueError(
                f"toleration {text!r} is not KEY[=VALUE][:EFFECT] with EFFECT one of "
                f"{', '.join(effects)}, e.g. 'spot=true:NoSchedule'"
            )
        key, value, effect = match.groups()
        operator = "Exists" if value is None else "Equal"
        return cls(key=key, operator=operator, value=value, effect=effect)

    def to_k8s(self) -> dict[str, Any]:
        """The toleration as it appears in a pod spec."""
        out: dict[str, Any] = {"operator": self.operator}
        for field, key in [
            ("key", "key"),
            ("value", "value"),
            ("effect", "effect"),
            ("toleration_seconds", "tolerationSeconds"),
        ]:
            if getattr(self, field) is not None:
                out[key] = getattr(self, field)
        return out


class ClusterSpec(BaseModel):
    """A Dask cluster on Kubernetes: what to run, how big, and how long it may live.

    Construct it with keyword arguments; invalid values raise
    :class:`~daskcloud.exceptions.ConfigError` (not pydantic's ``ValidationError``)::

        >>> spec = ClusterSpec(name="hpo", namespace="dask", workers=4, cpu="2", memory="8Gi")
        >>> spec.threads_per_worker, spec.memory_bytes, spec.scheduler_address
        (2, 8589934592, 'tls://hpo-scheduler.dask.svc:8786')

    Attributes:
        name: DNS label naming the cluster; objects are ``<name>-scheduler``, ``<name>-workers``...
        namespace: namespace the cluster's objects live in.
        workers: number of worker pods.
        cpu: cpu per worker (Kubernetes quantity: ``"2"``, ``"500m"``); requests == limits.
        memory: memory per worker (``"4Gi"``); requests == limits == ``dask worker --memory-limit``.
        gpu: ``nvidia.com/gpu`` per worker (0 = none).
        image: container image for scheduler and workers; pinned, never ``latest``.
        idle_timeout: the scheduler exits after this long without work (``dask scheduler
            --idle-timeout``), which ends the cluster.
        max_lifetime: hard limit on the cluster's life (the Job's ``activeDeadlineSeconds``).
        node_selector: node labels the pods must match.
        tolerations: taints the pods tolerate (spot or GPU pools).
        price_per_hour: optional cost of the whole cluster per hour, for cost reports.
        cluster_id: unique id put on every object as a label; generated when not given.
        jupyter: add a JupyterLab next to the scheduler (``--jupyter``, docs/notebook.md).
        notebook_storage: size of a PersistentVolumeClaim for the notebook's home
            (``"10Gi"``); ``None``: an emptyDir that ends with the cluster.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    namespace: str = "default"
    workers: int = 2
    cpu: str = "1"
    memory: str = "4Gi"
    gpu: int = 0
    image: str = Field(default_factory=default_image)
    idle_timeout: str = "20m"
    max_lifetime: str = "8h"
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    price_per_hour: float | None = Field(default=None, ge=0)
    cluster_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    jupyter: bool = False
    notebook_storage: str | None = None

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from exc

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> ClusterSpec:  # type: ignore[override]
        """Validate a mapping (e.g. a parsed spec file); bad values raise ``ConfigError``."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from exc

    # --- validation -------------------------------------------------------------------------

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if len(value) > MAX_NAME_LENGTH or not _DNS_LABEL.match(value):
            raise ValueError(
                f"cluster name {value!r} is not a DNS label: use at most {MAX_NAME_LENGTH} "
                "lowercase letters, digits and '-', starting with a letter and ending with a "
                f"letter or digit, e.g. {_suggest_label(value)!r}"
            )
        return value

    @field_validator("workers", "gpu")
    @classmethod
    def _check_count(cls, value: int, info: Any) -> int:
        if value < 0:
            raise ValueError(
                f"{info.field_name} {value} is negative; give 0 or more, e.g. "
                f"--{info.field_name} {2 if info.field_name == 'workers' else 1}"
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        if len(value) > 63 or not _NAMESPACE.match(value):
            raise ValueError(
                f"namespace {value!r} is not a DNS label: use at most 63 lowercase letters, "
                f"digits and '-', e.g. {_suggest_label(value)!r}"
            )
        return value

    @field_validator("cpu", mode="before")
    @classmethod
    def _check_cpu(cls, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError(f"cpu {value!r} is not a number of cores; write e.g. '2' or '500m'")
        text = str(value).strip()
        match = _CPU.match(text)
        millicores = _millicores(match) if match else None
        if millicores is None or millicores <= 0:
            raise ValueError(
                f"cpu {value!r} is not a positive Kubernetes cpu quantity; write cores such as "
                "'2' or '1.5', or millicores such as '500m'"
            )
        return f"{millicores // 1000}" if millicores % 1000 == 0 else f"{millicores}m"

    @field_validator("memory", mode="before")
    @classmethod
    def _check_memory(cls, value: Any) -> str:
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

    @field_validator("image")
    @classmethod
    def _check_image(cls, value: str) -> str:
        last = value.rsplit("/", 1)[-1]
        pinned = "@sha256:" in value or (":" in last and not last.endswith(":"))
        if not value or " " in value or not pinned or last.endswith(":latest"):
            raise ValueError(
                f"image {value!r} is not pinned; give a tag or digest that matches the "
                f"client's versions, e.g. {default_image()!r} (never 'latest')"
            )
        return value

    @field_validator("idle_timeout", "max_lifetime", mode="before")
    @classmethod
    def _check_duration(cls, value: Any, info: Any) -> str:
        what = info.field_name.replace("_", " ")
        seconds = parse_duration(value, what)
        return str(value).strip() if isinstance(value, str) else f"{seconds}s"

    @field_validator("node_selector", mode="before")
    @classmethod
    def _parse_node_selector(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        pairs = {}
        for item in value:
            key, sep, val = str(item).partition("=")
            if not sep or not key.strip():
                raise ValueError(
                    f"node selector {item!r} is not KEY=VALUE, "
                    "e.g. 'cloud.google.com/gke-spot=true'"
                )
            pairs[key.strip()] = val.strip()
        return pairs

    @field_validator("tolerations", mode="before")
    @classmethod
    def _parse_tolerations(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            return tuple(Toleration.parse(v) if isinstance(v, str) else v for v in value)
        return value

    @field_validator("cluster_id")
    @classmethod
    def _check_cluster_id(cls, value: str) -> str:
        if not value or len(value) > 63 or not _LABEL_VALUE.match(value):
            raise ValueError(
                f"cluster_id {value!r} is not a label value: use at most 63 letters, digits, "
                "'-', '_' or '.'"
            )
        return value

    @field_validator("notebook_storage", mode="before")
    @classmethod
    def _check_storage(cls, value: Any) -> str | None:
        if value is None:
            return None
        text = str(value).strip()
        if not _MEMORY.match(text) or parse_memory(text) <= 0:
            raise ValueError(
                f"notebook storage {value!r} is not a Kubernetes quantity; "
                f"{_memory_hint(text)}, e.g. '10Gi'"
            )
        return text

    @model_validator(mode="after")
    def _check_lifetimes(self) -> ClusterSpec:
        if self.max_lifetime_seconds > MAX_LIFETIME_SECONDS:
            raise ValueError(
                f"max lifetime {self.max_lifetime!r} is longer than 30d; a cluster that lives "
                "that long is a forgotten one, give e.g. '8h'"
            )
        if self.idle_timeout_seconds > self.max_lifetime_seconds:
            raise ValueError(
                f"idle timeout {self.idle_timeout!r} is longer than the max lifetime "
                f"{self.max_lifetime!r}; shorten the idle timeout or lengthen the lifetime"
            )
        if self.notebook_storage is not None and not self.jupyter:
            raise ValueError(
                f"notebook storage {self.notebook_storage!r} is the notebook's home; "
                "add --jupyter, or drop --notebook-storage"
            )
        return self

    # --- derived values ---------------------------------------------------------------------

    @property
    def cpu_millicores(self) -> int:
        """CPU per worker in millicores."""
        match = _CPU.match(self.cpu)
        assert match is not None
        millicores = _millicores(match)
        assert millicores is not None
        return millicores

    @property
    def threads_per_worker(self) -> int:
        """``dask worker --nthreads``: whole cores per worker, at least one."""
        return max(1, self.cpu_millicores // 1000)

    @property
    def memory_bytes(self) -> int:
        """``dask worker --memory-limit`` in bytes, equal to the pod's memory limit."""
        return parse_memory(self.memory)

    @property
    def idle_timeout_seconds(self) -> int:
        return parse_duration(self.idle_timeout)

    @property
    def max_lifetime_seconds(self) -> int:
        return parse_duration(self.max_lifetime)

    @property
    def scheduler_name(self) -> str:
        """Name of the scheduler Job, its Service and its NetworkPolicy."""
        return f"{self.name}-scheduler"

    @property
    def workers_name(self) -> str:
        """Name of the worker Deployment and its NetworkPolicy."""
        return f"{self.name}-workers"

    @property
    def secret_name(self) -> str:
        """Name of the Secret holding the cluster's CA and the scheduler/worker certificates."""
        return f"{self.name}-tls"

    @property
    def jupyter_name(self) -> str:
        """Name of the notebook's Deployment, Service, NetworkPolicy and token Secret."""
        return f"{self.name}-jupyter"

    @property
    def scheduler_host(self) -> str:
        """In-cluster DNS name of the scheduler Service."""
        return f"{self.scheduler_name}.{self.namespace}.svc"

    @property
    def scheduler_address(self) -> str:
        """In-cluster address of the scheduler (always ``tls://``)."""
        return f"tls://{self.scheduler_host}:{SCHEDULER_PORT}"


def _millicores(match: re.Match[str]) -> int | None:
    number, milli = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        return None
    scaled = amount if milli else amount * 1000
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def _suggest_label(value: str) -> str:
    """A DNS label close to ``value``: lowercased, other characters turned into '-'."""
    label = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    if not label or not label[0].isalpha():
        label = f"dask-{label}".strip("-")
    return label[:MAX_NAME_LENGTH].rstrip("-")


def _one_line(exc: ValidationError) -> str:
    """pydantic's multi-line report as one line: each bad value and its fix, '; '-separated."""
    parts = []
    for error in exc.errors(include_url=False):
        if error["type"] == "value_error":
            parts.append(str(error["ctx"]["error"]))
        else:
            field = ".".join(str(p) for p in error["loc"]) or "cluster spec"
            shown = f" {error['input']!r}" if "input" in error and error["loc"] else ""
            parts.append(f"{field}{shown}: {error['msg']}")
    return "; ".join(parts)

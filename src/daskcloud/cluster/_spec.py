"""ClusterSpec: the typed, validated description of one Dask cluster, for every backend.

Each field is one option, declared once: its type, default, validation and help text live
here, and the command line (``--workers``), the ``--config`` file (``workers:``) and the
backends all read this one declaration (:func:`spec_options`). Adding an option is adding a
field with :func:`_option`; a backend that honours it lists its name in ``Backend.options``.

Everything is checked once: names are DNS labels, cpu and memory are Kubernetes quantities,
durations are ``20m``/``8h``-style strings, the image is pinned, tolerations and node selectors
are well-formed, packages are pip requirements. Invalid values raise
:class:`~daskcloud.exceptions.ConfigError` with a one-line message naming the value and the fix.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from daskcloud.cluster._placement import Toleration, parse_node_selector, parse_tolerations
from daskcloud.core.units import format_cpu, parse_cpu, parse_duration, parse_memory
from daskcloud.exceptions import ConfigError

__all__ = [
    "DASHBOARD_PORT",
    "DEFAULT_IMAGE_REPOSITORY",
    "SCHEDULER_PORT",
    "ClusterSpec",
    "SpecOption",
    "Toleration",
    "default_image",
    "one_line",
    "parse_duration",
    "parse_memory",
    "spec_options",
]

SCHEDULER_PORT = 8786
DASHBOARD_PORT = 8787
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


def _config(key: str) -> Any:
    from daskcloud.config import get

    return get(key)


@dataclass(frozen=True)
class SpecOption:
    """One option of :class:`ClusterSpec` as the command line and config files see it."""

    field: str  # the ClusterSpec field, also the config-file key
    flag: str  # --workers
    help: str
    kind: Literal["value", "list", "flag"]  # one value, repeatable, or --x/--no-x
    default: Any
    short: str | None = None
    metavar: str | None = None

    @property
    def config_keys(self) -> tuple[str, ...]:
        """Keys a config file may use: the field name and the flag's (``max-lifetime``)."""
        return tuple(dict.fromkeys([self.field, self.flag.lstrip("-").replace("-", "_")]))


def _option(
    default: Any = ...,
    help: str = "",
    *,
    flag: str,
    short: str | None = None,
    metavar: str | None = None,
    **field: Any,
) -> Any:
    """A ClusterSpec field that is also the ``flag`` command-line option and a config key."""
    cli = {"flag": flag, "short": short, "metavar": metavar}
    return Field(default, description=help, json_schema_extra={"cli": cli}, **field)


class ClusterSpec(BaseModel):
    """A Dask cluster: what to run, how big, where, and how long it may live.

    Construct it with keyword arguments; invalid values raise
    :class:`~daskcloud.exceptions.ConfigError` (not pydantic's ``ValidationError``)::

        >>> spec = ClusterSpec(name="hpo", namespace="dask", workers=4, cpu="2", memory="8Gi")
        >>> spec.threads_per_worker, spec.memory_bytes, spec.scheduler_address
        (2, 8589934592, 'tls://hpo-scheduler.dask.svc:8786')

    Every field but ``cluster_id`` is an option (``--name``, ``--workers`` ... and the same keys
    in a ``--config`` file); the help texts below are the command line's. A backend honours the
    fields in its ``options`` and refuses the others when they are set (``--gpu`` locally).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = _option("dask", "Cluster name (a DNS label).", flag="--name", metavar="NAME")
    namespace: str = _option(
        "default",
        "Kubernetes namespace (default: the kube context's).",
        flag="--namespace",
        short="-n",
        metavar="NS",
    )
    workers: int = _option(2, "Number of workers.", flag="--workers", metavar="N")
    cpu: str = _option(
        "1",
        "CPU per worker: cores or millicores, e.g. 2 or 500m (locally: threads per worker).",
        flag="--cpu",
        metavar="CPU",
    )
    memory: str = _option(
        "4Gi", "Memory per worker, e.g. 4Gi or 512Mi.", flag="--memory", metavar="QUANTITY"
    )
    gpu: int = _option(0, "GPUs per worker (nvidia.com/gpu).", flag="--gpu", metavar="N")
    image: str = _option(
        default_factory=default_image,
        help="Container image pinned by tag or digest (default: the official dask image at "
        "this machine's dask and Python versions; `daskcloud image build` makes one).",
        flag="--image",
        metavar="IMAGE",
    )
    packages: tuple[str, ...] = _option(
        (),
        "Package the workers need besides the search's, at this machine's version: an "
        "installed distribution (xgboost) or a local module (my_models) (repeatable).",
        flag="--packages",
        metavar="PKG",
    )
    index_url: str | None = _option(
        default_factory=lambda: _config("packages.index-url"),
        help="Package index the pods install from (a mirror; default: pip's).",
        flag="--index-url", metavar="URL",
    )  # fmt: skip
    extra_index_urls: tuple[str, ...] = _option(
        default_factory=lambda: tuple(_config("packages.extra-index-urls") or ()),
        help="Another package index, e.g. a private one (repeatable).",
        flag="--extra-index-url", metavar="URL",
    )  # fmt: skip
    image_pull_secret: str | None = _option(
        default_factory=lambda: _config("cluster.image-pull-secret"),
        help="Secret with the credentials of a private registry (imagePullSecrets).",
        flag="--image-pull-secret", metavar="NAME",
    )  # fmt: skip
    idle_timeout: str = _option(
        "20m", "End the cluster after this long without work.", flag="--idle-timeout",
        metavar="DURATION",
    )  # fmt: skip
    max_lifetime: str = _option(
        "8h", "End the cluster after this long, always.", flag="--max-lifetime",
        metavar="DURATION",
    )  # fmt: skip
    node_selector: dict[str, str] = _option(
        default_factory=dict,
        help="Node label the workers need, KEY=VALUE, e.g. pool=spot (repeatable).",
        flag="--node-selector",
        metavar="KEY=VALUE",
    )
    tolerations: tuple[Toleration, ...] = _option(
        (),
        "Taint the workers tolerate, KEY[=VALUE]:EFFECT, e.g. spot=true:NoSchedule (repeatable).",
        flag="--toleration",
        metavar="TAINT",
    )
    jupyter: bool = _option(
        False,
        "Also run JupyterLab next to the scheduler; `cluster jupyter NAME` opens it "
        "(docs/notebook.md).",
        flag="--jupyter",
    )
    notebook_storage: str | None = _option(
        None,
        "With --jupyter: a PersistentVolumeClaim of this size as the notebook's home, e.g. "
        "10Gi; it outlives the cluster (default: an emptyDir).",
        flag="--notebook-storage",
        metavar="QUANTITY",
    )
    price_per_hour: float | None = _option(
        None, "Price of the whole cluster per hour, for cost reports.", flag="--price-per-hour",
        metavar="PRICE", ge=0,
    )  # fmt: skip
    # --- Slurm (docs/slurm.md) ---
    partition: str | None = _option(
        None, "Slurm partition (sbatch -p).", flag="--partition", metavar="NAME"
    )
    account: str | None = _option(
        None, "Slurm account (sbatch -A).", flag="--account", metavar="NAME"
    )
    qos: str | None = _option(None, "Slurm quality of service.", flag="--qos", metavar="NAME")
    job_extra: tuple[str, ...] = _option(
        (), "Extra #SBATCH option of the Slurm jobs (repeatable).", flag="--job-extra",
        metavar="OPTION",
    )  # fmt: skip
    scheduler_in_job: bool = _option(
        False, "Slurm: run the scheduler as a batch job too.", flag="--scheduler-in-job"
    )
    price_per_cpu_hour: float | None = _option(
        None, "Slurm: price of a CPU-hour, for cost reports.", flag="--price-per-cpu-hour",
        metavar="PRICE", ge=0,
    )  # fmt: skip
    interface: str | None = _option(
        None, "Slurm: the workers' network interface, e.g. ib0.", flag="--interface",
        metavar="NAME",
    )  # fmt: skip
    #: unique id put on every object as a label; generated when not given (not an option)
    cluster_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(one_line(exc)) from exc

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> ClusterSpec:  # type: ignore[override]
        """Validate a mapping (e.g. a parsed config file); bad values raise ``ConfigError``."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise ConfigError(one_line(exc)) from exc

    def changed(self, **changes: Any) -> ClusterSpec:
        """A validated copy with ``changes`` (same cluster id)."""
        return type(self)(**{**self.model_dump(), **changes})

    def differences(self, other: ClusterSpec) -> list[str]:
        """Fields whose meaning differs between the two specs (``20m`` equals ``1200s``)."""
        return [f for f in _COMPARED if _compared(self, f) != _compared(other, f)]

    def set_options(self) -> list[str]:
        """Option fields given a value other than their default (what a backend must honour)."""
        defaults = ClusterSpec.model_construct()
        return [
            f
            for f in sorted(self.model_fields_set)
            if f in _OPTION_FIELDS and _compared(self, f) != _compared(defaults, f)
        ]

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

    @field_validator("workers", "gpu", mode="before")
    @classmethod
    def _no_bool(cls, value: Any, info: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"{info.field_name} {value!r} is not a number; give e.g. 2")
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
        return format_cpu(parse_cpu(value))

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

    @field_validator("index_url", "extra_index_urls", mode="before")
    @classmethod
    def _check_index_urls(cls, value: Any) -> Any:
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

    @field_validator("image_pull_secret")
    @classmethod
    def _check_pull_secret(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", value):
            raise ValueError(
                f"image pull secret {value!r} is not a Secret name; write e.g. 'regcred'"
            )
        return value

    @field_validator("packages", mode="before")
    @classmethod
    def _check_packages(cls, value: Any) -> Any:
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

    @field_validator("idle_timeout", "max_lifetime", mode="before")
    @classmethod
    def _check_duration(cls, value: Any, info: Any) -> str:
        what = info.field_name.replace("_", " ")
        seconds = parse_duration(value, what)
        return str(value).strip() if isinstance(value, str) else f"{seconds}s"

    @field_validator("node_selector", mode="before")
    @classmethod
    def _parse_node_selector(cls, value: Any) -> dict[str, str]:
        return parse_node_selector(value)

    @field_validator("tolerations", mode="before")
    @classmethod
    def _parse_tolerations(cls, value: Any) -> Any:
        return parse_tolerations(value)

    @field_validator("notebook_storage", mode="before")
    @classmethod
    def _check_storage(cls, value: Any) -> str | None:
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

    @field_validator("cluster_id")
    @classmethod
    def _check_cluster_id(cls, value: str) -> str:
        if not value or len(value) > 63 or not _LABEL_VALUE.match(value):
            raise ValueError(
                f"cluster_id {value!r} is not a label value: use at most 63 letters, digits, "
                "'-', '_' or '.'"
            )
        return value

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
        return parse_cpu(self.cpu)

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


def spec_options(only: list[str] | tuple[str, ...] | None = None) -> list[SpecOption]:
    """The options of :class:`ClusterSpec` in declaration order (``only``: these fields)."""
    out = []
    for name, info in ClusterSpec.model_fields.items():
        extra = info.json_schema_extra
        cli = extra.get("cli") if isinstance(extra, dict) else None
        if not isinstance(cli, Mapping) or (only is not None and name not in only):
            continue
        origin = getattr(info.annotation, "__origin__", None)
        kind = "flag" if info.annotation is bool else "list" if origin in (tuple, dict) else "value"
        default = None if info.default_factory is not None else info.default
        if name == "image":
            default = default_image()
        out.append(
            SpecOption(
                field=name,
                flag=str(cli["flag"]),
                help=info.description or "",
                kind=kind,
                default=default,
                short=cli.get("short"),
                metavar=cli.get("metavar"),
            )
        )
    return out


_OPTION_FIELDS = frozenset(o.field for o in spec_options())
_COMPARED = tuple(sorted(_OPTION_FIELDS))


def _compared(spec: ClusterSpec, field: str) -> Any:
    """The value of ``field`` in a form where equal meanings compare equal."""
    if field in ("idle_timeout", "max_lifetime"):
        return parse_duration(getattr(spec, field))
    if field == "memory":
        return parse_memory(spec.memory)
    return getattr(spec, field)


def _suggest_label(value: str) -> str:
    """A DNS label close to ``value``: lowercased, other characters turned into '-'."""
    label = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    if not label or not label[0].isalpha():
        label = f"dask-{label}".strip("-")
    return label[:MAX_NAME_LENGTH].rstrip("-")


def one_line(
    exc: ValidationError, *, file: str | None = None, keys: Mapping[str, str] | None = None
) -> str:
    """pydantic's multi-line report as one line: each bad value and its fix, '; '-separated.

    ``keys`` maps the fields whose values came from config ``file`` to the key written there;
    errors about them start with ``FILE: KEY:``, so the line names where to look.
    """
    keys = keys or {}
    parts = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        field = str(loc[0]) if loc else ""
        if error["type"] == "value_error":
            text = str(error["ctx"]["error"])
        elif error["type"] == "extra_forbidden" and field in keys:
            known = ", ".join(o.field for o in spec_options())
            text = f"unknown key; the keys are {known}"
        else:
            # the key is named once: by the file's prefix when it came from the file
            path = ".".join(str(p) for p in loc[1 if field in keys else 0 :])
            shown = f"{error['input']!r}" if "input" in error and loc else ""
            what = " ".join(p for p in (path, shown) if p) or "cluster spec"
            text = f"{what}: {error['msg']}"
        if field in keys:
            text = f"{file}: {keys[field]}: {text}"
        elif not loc and keys:
            text = f"{file}: {text}"
        parts.append(text)
    return "; ".join(parts)

"""ClusterSpec: the typed, validated description of one Dask cluster, for every backend.

Each field is one option, declared once: its type, default, validation and help text live
here, and the command line (``--workers``), the ``--config`` file (``workers:``) and the
backends all read this one declaration (:func:`spec_options`). Adding an option is adding a
field with :func:`_option`; a backend that honours it lists its name in ``Backend.options``.

Everything is checked once (the checks, one per kind of value, are in :mod:`._spec_checks`):
names are DNS labels, cpu and memory are Kubernetes quantities, durations are ``20m``/``8h``-style
strings, the image is pinned, tolerations and node selectors are well-formed (:mod:`._placement`),
packages are pip requirements. Invalid values raise :class:`~daskcloud.exceptions.ConfigError`
with a one-line message naming the value and the fix.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from daskcloud.cluster import _spec_checks as checks
from daskcloud.cluster._placement import Toleration, parse_node_selector, parse_tolerations
from daskcloud.cluster._spec_checks import DEFAULT_IMAGE_REPOSITORY, default_image
from daskcloud.core.units import parse_cpu, parse_duration, parse_memory
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
    # the next three default to dask config (daskcloud.cluster.*: src/daskcloud/daskcloud.yaml)
    idle_timeout: str = _option(
        default_factory=lambda: str(_config("cluster.idle-timeout")),
        help="End the cluster after this long without work.", flag="--idle-timeout",
        metavar="DURATION", validate_default=True,
    )  # fmt: skip
    max_lifetime: str = _option(
        default_factory=lambda: str(_config("cluster.max-lifetime")),
        help="End the cluster after this long, always.", flag="--max-lifetime",
        metavar="DURATION", validate_default=True,
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
        default_factory=lambda: _config("cluster.price-per-hour"),
        help="Price of the whole cluster per hour, for cost reports.", flag="--price-per-hour",
        metavar="PRICE", ge=0, validate_default=True,
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

    # --- validation: each field's check, with its message, is in _spec_checks ---------------

    _name = field_validator("name")(checks.check_name)
    _namespace = field_validator("namespace")(checks.check_namespace)
    _not_bool = field_validator("workers", "gpu", mode="before")(checks.not_bool)
    _count = field_validator("workers", "gpu")(checks.check_count)
    _cpu = field_validator("cpu", mode="before")(checks.check_cpu)
    _memory = field_validator("memory", mode="before")(checks.check_memory)
    _image = field_validator("image")(checks.check_image)
    _index_urls = field_validator("index_url", "extra_index_urls", mode="before")(
        checks.check_index_urls
    )
    _pull_secret = field_validator("image_pull_secret")(checks.check_pull_secret)
    _packages = field_validator("packages", mode="before")(checks.check_packages)
    _durations = field_validator("idle_timeout", "max_lifetime", mode="before")(
        checks.check_duration
    )
    _node_selector = field_validator("node_selector", mode="before")(parse_node_selector)
    _tolerations = field_validator("tolerations", mode="before")(parse_tolerations)
    _storage = field_validator("notebook_storage", mode="before")(checks.check_storage)
    _cluster_id = field_validator("cluster_id")(checks.check_cluster_id)
    _lifetimes = model_validator(mode="after")(checks.check_lifetimes)

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
        # a factory reads dask config: the help shows the effective default
        default = info.default_factory() if info.default_factory is not None else info.default
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

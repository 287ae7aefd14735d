"""The local record of clusters this machine created: what, where, since when, at what price.

Records live next to the cluster's TLS client files, under the state directory of
:func:`daskcloud.cluster.kubernetes._tls.state_home` (``$DASKCLOUD_HOME`` or ``~/.daskcloud``)::

    clusters/<namespace>/<name>/cluster.json   Kubernetes clusters (with ca.pem, client*.pem)
    local/<name>/cluster.json                  local clusters (plus their process logs)
    slurm/<name>/cluster.json                  Slurm clusters (with their TLS files and job logs)

The record is a convenience (status without arguments, cost reports, ``--backend`` defaults);
the Kubernetes API stays the truth for Kubernetes clusters. Writes are atomic (temp + rename).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from daskcloud.cluster.kubernetes._tls import state_home
from daskcloud.core.files import atomic_write
from daskcloud.exceptions import ClusterError

__all__ = [
    "ClusterRecord",
    "cluster_dir",
    "cluster_price",
    "list_records",
    "load_record",
    "remove_record",
    "save_record",
]

Backend = Literal["kubernetes", "local", "slurm"]


@dataclass(frozen=True)
class ClusterRecord:
    """What this machine knows about a cluster it created."""

    name: str
    backend: Backend
    namespace: str | None = None  # Kubernetes only
    created_at: float = field(default_factory=time.time)
    price_per_hour: float | None = None
    tls_dir: str | None = None
    address: str | None = None  # local: the scheduler's address
    pids: tuple[int, ...] = ()  # local: scheduler and worker processes
    idle_timeout_s: int | None = None
    max_lifetime_s: int | None = None
    context: str | None = None  # Kubernetes: kubeconfig context used
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ClusterRecord:
        data = json.loads(text)
        data["pids"] = tuple(data.get("pids", ()))
        return cls(**data)


def cluster_dir(backend: Backend, name: str, namespace: str | None = None) -> Path:
    """The directory of one cluster's local files (the TLS helper's directory for Kubernetes)."""
    if backend == "kubernetes":
        return state_home() / "clusters" / (namespace or "default") / name
    return state_home() / backend / name


def save_record(record: ClusterRecord) -> Path:
    """Write ``record`` atomically; returns its path."""
    directory = cluster_dir(record.backend, record.name, record.namespace)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / "cluster.json"
    with atomic_write(path, mode=0o600) as part:
        part.write_text(record.to_json())
    return path


def load_record(backend: Backend, name: str, namespace: str | None = None) -> ClusterRecord | None:
    """The record of one cluster, or None when this machine has none."""
    path = cluster_dir(backend, name, namespace) / "cluster.json"
    try:
        return ClusterRecord.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise ClusterError(
            f"the cluster record {path} is unreadable ({exc}); delete that file and retry"
        ) from exc


def list_records(backend: Backend | None = None) -> list[ClusterRecord]:
    """Every record on this machine, oldest first."""
    root = state_home()
    patterns = {
        "kubernetes": "clusters/*/*/cluster.json",
        "local": "local/*/cluster.json",
        "slurm": "slurm/*/cluster.json",
    }
    records = []
    for kind, pattern in patterns.items():
        if backend in (None, kind):
            for path in root.glob(pattern):
                try:
                    records.append(ClusterRecord.from_json(path.read_text()))
                except (OSError, ValueError, TypeError):
                    continue  # a half-deleted directory is not worth failing a listing for
    return sorted(records, key=lambda r: r.created_at)


def remove_record(backend: Backend, name: str, namespace: str | None = None) -> None:
    """Delete the cluster's local directory (record, client certificate and key, logs)."""
    shutil.rmtree(cluster_dir(backend, name, namespace), ignore_errors=True)


def cluster_price(client: Any) -> float | None:
    """The price per hour recorded for the cluster ``client`` (a Client or an address) uses.

    The local record of a cluster made by ``daskcloud cluster up`` gives its price; an
    unknown cluster returns None (its cost then counts as 0: give ``price_per_hour``).
    """
    address = client if isinstance(client, str) else getattr(client, "scheduler", None)
    address = getattr(address, "address", address)
    try:
        records = list_records()
    except Exception:  # a missing or unreadable state directory just means "unknown"
        return None
    for record in records:
        if record.address and address and str(address).endswith(record.address.split("://")[-1]):
            return record.price_per_hour
    return None

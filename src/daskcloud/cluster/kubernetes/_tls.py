"""Mutual TLS for one cluster: a private CA, three certificates, the Secret, the client's files.

Each cluster gets its own certificate authority. It signs one certificate for the scheduler, one
shared by the workers and one for the client; then its private key is thrown away, so nobody —
not even daskcloud — can issue another certificate the cluster would trust. The scheduler's and
workers' certificates travel in a Secret mounted read-only into their pods; the client's
certificate and key never leave the machine that made the cluster: they are written with mode
0600 under :func:`state_home` ``/clusters/<namespace>/<name>/``.

Distributed checks that every peer presents a certificate signed by the cluster's CA (its TLS
contexts use ``CERT_REQUIRED`` both ways) and does not check host names, so the certificates'
subject alternative names are informational.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daskcloud.cluster._certs import ClientCredentials, ClusterTLS, issue_tls, write_private
from daskcloud.cluster.kubernetes._meta import Owner, metadata
from daskcloud.cluster.kubernetes._spec import ClusterSpec
from daskcloud.exceptions import ClusterError

if TYPE_CHECKING:  # pragma: no cover
    from distributed.security import Security

__all__ = [
    "TLS_MOUNT_PATH",
    "ClientCredentials",
    "ClusterTLS",
    "build_tls_secret",
    "client_credentials",
    "client_security",
    "generate_tls",
    "state_home",
    "write_client_credentials",
]

#: where scheduler and worker pods mount the TLS Secret
TLS_MOUNT_PATH = "/etc/daskcloud/tls"


def generate_tls(spec: ClusterSpec, *, now: dt.datetime | None = None) -> ClusterTLS:
    """A fresh CA and scheduler, worker and client certificates for ``spec``'s cluster."""
    svc = spec.scheduler_name
    return issue_tls(
        f"{spec.namespace}/{spec.name}",
        spec.max_lifetime_seconds,
        scheduler_dns=[svc, f"{svc}.{spec.namespace}", spec.scheduler_host, "localhost"],
        worker_dns=[f"{spec.workers_name}.{spec.namespace}"],
        now=now,
    )


def build_tls_secret(
    spec: ClusterSpec, tls: ClusterTLS, *, owner: Owner | None = None
) -> dict[str, Any]:
    """The immutable Secret holding the CA and the scheduler's and workers' key pairs."""
    data = {k: base64.b64encode(v.encode()).decode() for k, v in tls.secret_files().items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(spec, spec.secret_name, "tls", owner),
        "type": "Opaque",
        "immutable": True,
        "data": data,
    }


def state_home() -> Path:
    """The state directory: ``daskcloud.home`` (``$DASKCLOUD_HOME``), else ``~/.daskcloud``."""
    from daskcloud.config import home_dir

    return home_dir()


def client_credentials(namespace: str, name: str, *, home: Path | None = None) -> ClientCredentials:
    """Where the client's files for cluster ``namespace/name`` live (whether or not they exist)."""
    directory = (home or state_home()) / "clusters" / namespace / name
    return ClientCredentials(
        directory=directory,
        ca_file=directory / "ca.pem",
        cert_file=directory / "client.pem",
        key_file=directory / "client-key.pem",
    )


def write_client_credentials(
    spec: ClusterSpec, tls: ClusterTLS, *, home: Path | None = None
) -> ClientCredentials:
    """Write the CA, client certificate and key with mode 0600 (directory 0700), atomically."""
    creds = client_credentials(spec.namespace, spec.name, home=home)
    creds.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(creds.directory, 0o700)
    for path, text in [
        (creds.ca_file, tls.ca_cert),
        (creds.cert_file, tls.client_cert),
        (creds.key_file, tls.client_key),
    ]:
        write_private(path, text)
    return creds


def client_security(namespace: str, name: str, *, home: Path | None = None) -> Security:
    """The ``Security`` for a client of cluster ``namespace/name``, from this machine's files."""
    creds = client_credentials(namespace, name, home=home)
    missing = [p for p in (creds.ca_file, creds.cert_file, creds.key_file) if not p.is_file()]
    if missing:
        raise ClusterError(
            f"no client certificate for cluster {namespace}/{name}: {missing[0]} is missing; "
            "it is written on the machine that created the cluster — connect from there, or "
            "recreate the cluster"
        )
    return creds.security()

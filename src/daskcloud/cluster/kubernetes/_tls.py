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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from daskcloud.cluster.kubernetes._meta import Owner, metadata
from daskcloud.cluster.kubernetes._spec import ClusterSpec
from daskcloud.core.files import atomic_write
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
#: certificates outlive the cluster's maximum lifetime by this much (clock skew, slow starts)
_VALIDITY_MARGIN = dt.timedelta(days=1)


@dataclass(frozen=True)
class ClusterTLS:
    """PEM-encoded certificates and keys of one cluster (the CA's private key is not kept)."""

    ca_cert: str
    scheduler_cert: str
    scheduler_key: str
    worker_cert: str
    worker_key: str
    client_cert: str
    client_key: str

    def secret_files(self) -> dict[str, str]:
        """File name -> PEM text for the Secret: everything except the client's key pair."""
        return {
            "ca.pem": self.ca_cert,
            "scheduler.pem": self.scheduler_cert,
            "scheduler-key.pem": self.scheduler_key,
            "worker.pem": self.worker_cert,
            "worker-key.pem": self.worker_key,
        }


@dataclass(frozen=True)
class ClientCredentials:
    """Paths of the client's CA bundle, certificate and key on this machine."""

    directory: Path
    ca_file: Path
    cert_file: Path
    key_file: Path

    def security(self) -> Security:
        """A ``distributed.security.Security`` that connects to the cluster over mutual TLS."""
        from distributed.security import Security

        return Security(
            tls_ca_file=str(self.ca_file),
            tls_client_cert=str(self.cert_file),
            tls_client_key=str(self.key_file),
            require_encryption=True,
        )


def generate_tls(spec: ClusterSpec, *, now: dt.datetime | None = None) -> ClusterTLS:
    """A fresh CA and scheduler, worker and client certificates for ``spec``'s cluster."""
    now = now or dt.datetime.now(dt.UTC)
    not_after = now + dt.timedelta(seconds=spec.max_lifetime_seconds) + _VALIDITY_MARGIN
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"daskcloud {spec.namespace}/{spec.name} CA")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(role: str, dns: list[str], usages: list[x509.ObjectIdentifier]) -> tuple[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        cert = (
            _builder(_name(f"daskcloud-{role}"), ca_name, key.public_key(), now, not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return _pem_cert(cert), _pem_key(key)

    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    svc = spec.scheduler_name
    scheduler_dns = [svc, f"{svc}.{spec.namespace}", spec.scheduler_host, "localhost"]
    scheduler_cert, scheduler_key = leaf("scheduler", scheduler_dns, both)
    worker_cert, worker_key = leaf("worker", [f"{spec.workers_name}.{spec.namespace}"], both)
    client_cert, client_key = leaf("client", ["daskcloud-client"], [both[1]])
    return ClusterTLS(
        ca_cert=_pem_cert(ca_cert),
        scheduler_cert=scheduler_cert,
        scheduler_key=scheduler_key,
        worker_cert=worker_cert,
        worker_key=worker_key,
        client_cert=client_cert,
        client_key=client_key,
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
    """daskcloud's state directory: ``$DASKCLOUD_HOME``, else ``~/.daskcloud``."""
    env = os.environ.get("DASKCLOUD_HOME")
    return Path(env).expanduser() if env else Path.home() / ".daskcloud"


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
        _write_private(path, text)
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


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only, via a temp file and rename."""
    with atomic_write(path, mode=0o600) as part:
        part.write_text(text)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "daskcloud"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _pem_cert(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()

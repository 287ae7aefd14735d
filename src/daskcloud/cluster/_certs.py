"""One cluster's own certificate authority and certificates, for every backend that uses TLS.

:func:`issue_tls` makes a fresh CA, signs one certificate for the scheduler, one shared by the
workers and one for the client, and then throws the CA's private key away, so nobody — not even
daskcloud — can issue another certificate the cluster would trust. Distributed checks that every
peer presents a certificate signed by the cluster's CA (``CERT_REQUIRED`` both ways) and does
not check host names, so the subject alternative names are informational.

The Kubernetes backend ships the scheduler's and workers' files in a Secret
(:mod:`daskcloud.cluster.kubernetes._tls`); the Slurm backend writes all of them with mode 0600
into the cluster's directory in the user's (shared) home. :func:`write_private` is the one way
either writes a key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from daskcloud.core.files import atomic_write

if TYPE_CHECKING:  # pragma: no cover
    from distributed.security import Security

__all__ = ["ClientCredentials", "ClusterTLS", "issue_tls", "write_private"]

#: certificates outlive the cluster's maximum lifetime by this much (clock skew, slow starts)
VALIDITY_MARGIN = dt.timedelta(days=1)


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
        """File name -> PEM text of what scheduler and workers need (not the client's pair)."""
        return {
            "ca.pem": self.ca_cert,
            "scheduler.pem": self.scheduler_cert,
            "scheduler-key.pem": self.scheduler_key,
            "worker.pem": self.worker_cert,
            "worker-key.pem": self.worker_key,
        }

    def all_files(self) -> dict[str, str]:
        """File name -> PEM text of every file, the client's pair included."""
        return {
            **self.secret_files(),
            "client.pem": self.client_cert,
            "client-key.pem": self.client_key,
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


def issue_tls(
    title: str,
    lifetime_s: float,
    *,
    scheduler_dns: Sequence[str],
    worker_dns: Sequence[str],
    now: dt.datetime | None = None,
) -> ClusterTLS:
    """A fresh CA (named after ``title``) and the scheduler's, workers' and client's pairs.

    The certificates are valid from 5 minutes ago until ``lifetime_s`` plus a day from now.
    """
    now = now or dt.datetime.now(dt.UTC)
    not_after = now + dt.timedelta(seconds=lifetime_s) + VALIDITY_MARGIN
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"daskcloud {title} CA")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(role: str, dns: Sequence[str], usages: list[x509.ObjectIdentifier]) -> tuple[str, str]:
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
    scheduler_cert, scheduler_key = leaf("scheduler", scheduler_dns, both)
    worker_cert, worker_key = leaf("worker", worker_dns, both)
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


def write_private(path: Path, text: str) -> None:
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

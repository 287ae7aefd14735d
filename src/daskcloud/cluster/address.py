"""Connect to an existing Dask scheduler by address (tcp:// or tls:// with a Security)."""

from __future__ import annotations

from typing import Any

from daskcloud.exceptions import ClusterError, ConfigError

__all__ = ["connect"]


def connect(address: str, *, security: Any = None, timeout: float = 30) -> Any:
    """Return a ``distributed.Client`` connected to the scheduler at ``address``.

    ``tls://`` addresses need ``security`` (a ``distributed.security.Security``
    with the cluster's CA and client certificate).
    """
    from distributed import Client

    if not isinstance(address, str) or ("://" not in address and ":" not in address):
        raise ConfigError(
            f"invalid scheduler address {address!r}; give one like tcp://10.0.0.5:8786"
        )
    if address.startswith("tls://") and security is None:
        security = _security_from_config()
    if address.startswith("tls://") and security is None:
        raise ConfigError(
            f"the scheduler {address} uses TLS; pass security= a distributed Security object "
            "with the cluster's CA and client certificate"
        )
    try:
        return Client(address, security=security, timeout=timeout)
    except (OSError, TimeoutError) as e:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s: {e}; check "
            "the address, that the scheduler runs, and any port-forward or firewall"
        ) from e


def _security_from_config() -> Any:
    """TLS settings from Dask's configuration (``DASK_DISTRIBUTED__COMM__TLS__*``), if any.

    This is how a pod of a daskcloud cluster (the ``--detach`` driver) finds its certificate.
    """
    from distributed.security import Security

    security = Security()
    return security if security.tls_ca_file and security.tls_client_cert else None

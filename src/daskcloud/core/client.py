"""A ``distributed.Client`` from what the user gave: nothing, an address, or a Client.

:func:`open_client` normalises ``client=`` once, at the entry point
(``DaskSearchCV.fit``, the jobs); the rest of the code sees a connected Client:

==================  ===========================================================
``None``            a new :class:`LocalDaskCluster` (worker processes, one thread
                    each, one per core), closed afterwards
``"tcp://..."``     :func:`connect` to that scheduler (``tls://`` with a
                    ``Security``), closed afterwards
a ``Client``        used as it is and left open
a callable          called only now, without arguments: a context manager that
                    yields a Client (its caller checked its inputs before any
                    cluster starts)
==================  ===========================================================

:class:`~daskcloud.core.local.LocalDaskCluster` is the embedded cluster
(:mod:`daskcloud.core.local`).

Cluster *backends* (``daskcloud.cluster``: detached local processes, Kubernetes) build
on this module; it knows nothing about them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from daskcloud.core.local import LocalDaskCluster, default_n_workers
from daskcloud.exceptions import ClusterError, ConfigError

__all__ = [
    "LocalDaskCluster",
    "close_client",
    "cluster_identity",
    "connect",
    "default_n_workers",
    "open_client",
]


def cluster_identity(client: Any) -> tuple[Any, ...] | None:
    """The scheduler and the exact worker processes ``client`` reaches now (one round trip).

    A worker that restarts or joins gets a new id, so equal identities mean that what was
    found on every process (packages, versions, shipped code) still holds: the search's
    checks are made once per cluster state, not once per search. None when unknown.
    """
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:  # an older distributed without n_workers
        info = client.scheduler_info()
    except Exception:
        return None
    workers = info.get("workers") or {}
    ids = [(address, w.get("id")) for address, w in workers.items()]
    if not info.get("id") or not ids or any(i is None for _, i in ids):
        return None
    return (info["id"], frozenset(ids))


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


def close_client(client: Any) -> None:
    """Close ``client``. One that lost its scheduler is still trying to reconnect; closing
    cancels that, which distributed logs as an error with a traceback: not worth showing
    after the one line that says the scheduler was lost."""
    if str(client.status) in ("running", "Status.running"):
        client.close()
        return
    quiet = logging.getLogger("distributed.client")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        client.close()
    finally:
        quiet.setLevel(level)


def _security_from_config() -> Any:
    """TLS settings from Dask's configuration (``DASK_DISTRIBUTED__COMM__TLS__*``), if any.

    This is how a pod of a daskcloud cluster (the ``--detach`` driver) finds its certificate.
    """
    from distributed.security import Security

    security = Security()
    return security if security.tls_ca_file and security.tls_client_cert else None


@contextlib.contextmanager
def open_client(
    client: Any = None, *, n_workers: int | None = None, security: Any = None
) -> Iterator[Any]:
    """Yield a Client: a new local cluster (closed afterwards), a connection to an address
    (closed afterwards; ``security`` for ``tls://``), the given Client (left open), or what
    a zero-argument callable's context manager yields (opened only now, so that the
    caller's inputs are checked before any cluster starts)."""
    if callable(client) and not hasattr(client, "submit"):
        with client() as opened:
            yield opened
    elif client is None:
        with LocalDaskCluster(n_workers=n_workers) as cluster:
            yield cluster.client
    elif isinstance(client, str):
        c = connect(client, security=security)
        try:
            yield c
        finally:
            close_client(c)
    else:
        yield client

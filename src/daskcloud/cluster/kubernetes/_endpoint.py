"""Reaching a live cluster from here: the scheduler's TLS address and the notebook's URL.

Inside a pod of the cluster's namespace (``KUBERNETES_SERVICE_HOST`` set, and
``daskcloud.cluster.port-forward`` not forced) the scheduler Service is dialled directly when
the NetworkPolicy lets this pod in; everywhere else each port is forwarded through the API
server (:mod:`._portforward`), and the returned closers end the forwards.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from typing import Any

import kr8s
from kr8s.objects import Service

from daskcloud.cluster._connect import Endpoint, NotebookEndpoint
from daskcloud.cluster._notebook import notebook_url
from daskcloud.cluster._spec import DASHBOARD_PORT, SCHEDULER_PORT
from daskcloud.cluster.kubernetes._notebook import JUPYTER_PORT
from daskcloud.cluster.kubernetes._portforward import KubePortForward, ManagedPortForward
from daskcloud.exceptions import ClusterError

__all__ = ["notebook_endpoint", "scheduler_endpoint"]


def _in_cluster() -> bool:
    """True inside a pod (and not told to port-forward anyway)."""
    from daskcloud.config import get

    forced = bool(get("cluster.port-forward"))
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not forced


def scheduler_endpoint(api: kr8s.Api, name: str, namespace: str, security: Any) -> Endpoint:
    """The scheduler of cluster ``name``: direct in the cluster, else port-forwarded (with the
    dashboard when its forward starts too)."""
    host = f"{name}-scheduler.{namespace}.svc"
    if _in_cluster():
        # the NetworkPolicy admits only this cluster's pods: probe, else port-forward
        with contextlib.suppress(OSError), socket.create_connection((host, SCHEDULER_PORT), 5):
            return Endpoint(address=f"tls://{host}:{SCHEDULER_PORT}", security=security)
    service = Service(f"{name}-scheduler", namespace=namespace, api=api)
    comm = ManagedPortForward(KubePortForward(service, SCHEDULER_PORT), name="scheduler-forward")
    comm.start()
    closers: list[Callable[[], None]] = [comm.close]
    dashboard = None
    try:
        dash = ManagedPortForward(KubePortForward(service, DASHBOARD_PORT), name="dash-forward")
        dash.start()
        closers.append(dash.close)
        dashboard = f"http://{dash.address}/status"
    except ClusterError:  # the dashboard is a convenience; the scheduler is what matters
        pass
    return Endpoint(f"tls://{comm.address}", security, closers, dashboard)


def notebook_endpoint(api: kr8s.Api, name: str, namespace: str, token: str) -> NotebookEndpoint:
    """The notebook of cluster ``name``, port-forwarded, its URL carrying ``token``."""
    service = Service(f"{name}-jupyter", namespace=namespace, api=api)
    forward = ManagedPortForward(KubePortForward(service, JUPYTER_PORT), name="jupyter-forward")
    forward.start()
    port = int(forward.address.rsplit(":", 1)[1])
    return NotebookEndpoint(notebook_url(port, token), [forward.close])

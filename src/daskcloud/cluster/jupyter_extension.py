"""daskcloud's Jupyter server extension: the examples, and a busy kernel keeps the cluster alive.

``cluster up --jupyter`` starts JupyterLab with ``--ServerApp.jpserver_extensions`` naming this
module. When the server starts it

1. copies the example files from ``$DASKCLOUD_NOTEBOOK_EXAMPLES`` (the examples ConfigMap,
   mounted read-only) into ``<root_dir>/examples/``, never overwriting a file that is there
   (a PersistentVolumeClaim home keeps the user's edits), so a notebook opens writable;
2. every ``$DASKCLOUD_KEEPALIVE_INTERVAL`` seconds looks at the server's kernels and, while one
   is *busy* (``execution_state == "busy"``: a cell is running), resets the scheduler's idle
   clock.

Why a busy kernel, seen from here: the scheduler's ``--idle-timeout`` only counts Dask tasks, so
a notebook that spends twenty minutes in pandas between two searches would lose its cluster.
The server knows its kernels' states without any polling over HTTP, and the notebook pod is
already a mutual-TLS client of the scheduler (``DASK_SCHEDULER_ADDRESS`` and the
``DASK_DISTRIBUTED__COMM__TLS__*`` settings), so the signal travels over that channel; the
scheduler needs no token, no route into the notebook pod (whose NetworkPolicy admits nothing)
and no code of ours. An open notebook whose kernel is idle does *not* keep the cluster: that
is the forgotten notebook the idle timeout exists for. The hard lifetime
(``activeDeadlineSeconds``) ends the cluster whatever the kernels do.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

__all__ = [
    "DEADLINE_ENV",
    "EXAMPLES_ENV",
    "INTERVAL_ENV",
    "busy_kernels",
    "copy_examples",
    "reset_idle_clock",
]

EXAMPLES_ENV = "DASKCLOUD_NOTEBOOK_EXAMPLES"
INTERVAL_ENV = "DASKCLOUD_KEEPALIVE_INTERVAL"
#: the cluster's end (epoch seconds; local backend): no keep-alive after it; the server stops
DEADLINE_ENV = "DASKCLOUD_NOTEBOOK_DEADLINE"
_DEFAULT_INTERVAL = 30.0


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


def copy_examples(source: Path, root: Path) -> list[Path]:
    """Copy the files of ``source`` into ``root/examples`` that are not there yet; return them."""
    target = root / "examples"
    copied = []
    for path in sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith(".")):
        dest = target / path.name
        if not dest.exists():
            target.mkdir(parents=True, exist_ok=True)
            # contents only: the ConfigMap's read-only mode stays behind
            shutil.copyfile(path, dest)
            copied.append(dest)
    return copied


def busy_kernels(kernel_manager: Any) -> list[str]:
    """Ids of the server's kernels that are running code now."""
    return [
        kid
        for kid in kernel_manager.list_kernel_ids()
        if getattr(kernel_manager.get_kernel(kid), "execution_state", None) == "busy"
    ]


def _reset_function() -> Any:
    # A function made here is pickled by value (cloudpickle): the scheduler runs it without
    # importing daskcloud, whatever its image holds.
    def daskcloud_notebook_busy(dask_scheduler: Any) -> None:
        # check_idle() restarts the idle clock at its next tick when idle_since is unset
        dask_scheduler.idle_since = None

    return daskcloud_notebook_busy


def reset_idle_clock(address: str, security: Any, *, timeout: float = 10.0) -> Any:
    """A coroutine that resets the scheduler's idle clock (``run_function`` over ``address``)."""
    from distributed.core import rpc
    from distributed.protocol.pickle import dumps

    async def call() -> None:
        args = security.get_connection_args("client")
        async with rpc(address, connection_args=args, timeout=timeout) as scheduler:
            await scheduler.run_function(function=dumps(_reset_function()))

    return call()


class _KeepAlive:
    """The periodic check: busy kernel -> reset the scheduler's idle clock."""

    def __init__(self, serverapp: Any, address: str, security: Any, deadline: float | None) -> None:
        self.serverapp = serverapp
        self.address = address
        self.security = security
        self.deadline = deadline
        self.failing = False

    async def __call__(self) -> None:
        busy = busy_kernels(self.serverapp.kernel_manager)
        if not busy or (self.deadline is not None and time.time() > self.deadline):
            return
        try:
            await reset_idle_clock(self.address, self.security)
        except Exception as exc:  # the scheduler may be gone (lifetime): keep serving notebooks
            if not self.failing:
                self.serverapp.log.warning(
                    "daskcloud: could not tell the scheduler at %s that a kernel is busy: %s",
                    self.address,
                    exc,
                )
            self.failing = True
            return
        self.failing = False
        self.serverapp.log.debug("daskcloud: %d busy kernel(s); idle clock reset", len(busy))


def _load_jupyter_server_extension(serverapp: Any) -> None:
    import dask.config
    from distributed.security import Security
    from tornado.ioloop import IOLoop, PeriodicCallback

    deadline = float(os.environ[DEADLINE_ENV]) if os.environ.get(DEADLINE_ENV) else None
    if deadline is not None:
        # the maximum lifetime holds for the notebook too
        IOLoop.current().call_later(max(0.0, deadline - time.time()), serverapp.stop)
    examples = os.environ.get(EXAMPLES_ENV)
    if examples and Path(examples).is_dir():
        copied = copy_examples(Path(examples), Path(serverapp.root_dir))
        serverapp.log.info("daskcloud: %d example file(s) copied into examples/", len(copied))
    address = dask.config.get("scheduler-address", None)
    if not address:
        serverapp.log.info("daskcloud: no DASK_SCHEDULER_ADDRESS; busy kernels are not reported")
        return
    interval = float(os.environ.get(INTERVAL_ENV) or _DEFAULT_INTERVAL)
    keepalive = _KeepAlive(serverapp, address, Security(), deadline)
    # kept on the app: a PeriodicCallback nobody references would be garbage collected
    serverapp.daskcloud_keepalive = PeriodicCallback(keepalive, interval * 1000)
    serverapp.daskcloud_keepalive.start()
    serverapp.log.info(
        "daskcloud: a busy kernel resets the idle clock of %s every %g s", address, interval
    )

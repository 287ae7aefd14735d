"""Code that runs on schedulers and workers which may hold nothing of daskcloud's.

This module imports only the standard library and ``distributed``, and :mod:`._ship` pickles
it *by value* (``cloudpickle.register_pickle_by_value``), so a plain ``dask worker`` can run
:func:`probe` and the plugins without daskcloud installed:

- :func:`probe` reports the interpreter's version, the installed versions of the named
  distributions and which modules import;
- :class:`ShipToWorkers` (a ``WorkerPlugin``) unpacks the shipped wheels into the worker's
  local directory and puts it first on ``sys.path``. The scheduler keeps registered worker
  plugins and hands them to every worker that joins later, so late joiners get the code too;
- :class:`ShipToScheduler` does the same on the scheduler, which unpickles task graphs and
  so imports the code that tasks name.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
import tempfile
import zipfile

from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin

__all__ = ["ShipToScheduler", "ShipToWorkers", "probe", "unpack_wheels"]

PLUGIN_NAME = "daskcloud-sync"


def probe(distributions: list[str], modules: list[str]) -> dict:
    """This process's Python version, versions of ``distributions``, importable ``modules``."""
    versions: dict[str, str | None] = {}
    for name in distributions:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    importable = {}
    for module in modules:
        try:
            importable[module] = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            importable[module] = False
    return {
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "versions": versions,
        "modules": importable,
    }


def unpack_wheels(wheels: dict[str, bytes], root: str) -> str:
    """Unpack pure-Python wheels into ``root/<content hash>``, first on ``sys.path``; its path.

    A pure wheel's archive is its install layout (modules and ``.dist-info``), so unpacking
    is installing; ``importlib.metadata`` then reports the shipped versions. Idempotent: a
    directory that is already complete is reused.
    """
    digest = hashlib.sha256()
    for filename in sorted(wheels):
        digest.update(filename.encode() + b"\0" + hashlib.sha256(wheels[filename]).digest())
    target = os.path.join(root, f"daskcloud-sync-{digest.hexdigest()[:16]}")
    done = os.path.join(target, ".complete")
    if not os.path.exists(done):
        os.makedirs(target, exist_ok=True)
        for filename in sorted(wheels):
            path = os.path.join(target, f".wheel-{os.getpid()}")
            with open(path, "wb") as f:
                f.write(wheels[filename])
            with zipfile.ZipFile(path) as archive:
                archive.extractall(target)
            os.remove(path)
        with open(done, "w") as f:
            f.write("\n".join(sorted(wheels)))
    if target not in sys.path:
        sys.path.insert(0, target)
    importlib.invalidate_caches()
    return target


class ShipToWorkers(WorkerPlugin):
    """Unpack the shipped wheels on every worker, present and future."""

    name = PLUGIN_NAME

    def __init__(self, wheels: dict[str, bytes]) -> None:
        self.wheels = wheels

    def setup(self, worker) -> None:  # type: ignore[no-untyped-def]
        unpack_wheels(self.wheels, worker.local_directory)


class ShipToScheduler(SchedulerPlugin):
    """Unpack the shipped wheels on the scheduler."""

    name = PLUGIN_NAME

    def __init__(self, wheels: dict[str, bytes]) -> None:
        self.wheels = wheels

    async def start(self, scheduler) -> None:  # type: ignore[no-untyped-def]
        unpack_wheels(self.wheels, os.path.join(tempfile.gettempdir(), "daskcloud-scheduler"))

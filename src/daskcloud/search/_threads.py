"""BLAS/OpenMP thread limits of a worker's tasks, without looking the libraries up per task.

A fit on a worker with ``n`` threads may use at most ``n`` BLAS/OpenMP threads, else
``n`` concurrent fits each start a pool the size of the machine. threadpoolctl's
``ThreadpoolController`` finds the loaded libraries by walking the process's shared
objects: about 1 ms on a quiet machine and 10-20 ms on a loaded one, more than a small
fit. :func:`limited` keeps one controller per process and makes a new one only when a
module was imported since (a new library may have come with it); setting and restoring
the limits with it costs microseconds. The limits are set and restored around each
task, as before: OpenMP's apply to the calling thread only, and nothing outlives the
task (a worker sharing the user's process leaves its threads as it found them).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

__all__ = ["limited"]

_lock = threading.Lock()
_controller: Any = None
_n_modules = -1  # len(sys.modules) when the controller was made


def limited(n: int) -> Any:
    """A context manager that limits BLAS/OpenMP pools to ``n`` threads while it lasts."""
    global _controller, _n_modules
    with _lock:
        if _controller is None or len(sys.modules) != _n_modules:
            from threadpoolctl import ThreadpoolController

            _controller, _n_modules = ThreadpoolController(), len(sys.modules)
        controller = _controller
    return controller.limit(limits=n)

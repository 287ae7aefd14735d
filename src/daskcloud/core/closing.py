"""One idempotent ``close()`` for whatever holds clients, clusters and port-forwards.

A class derives from :class:`Closing` and registers each resource's closer as it acquires it;
``close()`` runs them newest first, once — an error in one does not keep the others from
running — and a second call does nothing. ``with`` closes on exit, as distributed's clusters do::

    class Connection(Closing):
        def __init__(self, address):
            self.forward = open_forward()
            self.closing(self.forward.close)           # runs second
            self.client = Client(address)
            self.closing(self.client.close)            # runs first
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

__all__ = ["Closing"]


class Closing:
    """Closers registered with :meth:`closing`, run by :meth:`close` newest first, once."""

    def closing(self, closer: Callable[[], Any]) -> Callable[[], Any]:
        """Register ``closer`` to run at :meth:`close`; returns it."""
        self.__dict__.setdefault("_closers", []).append(closer)
        return closer

    def close(self) -> None:
        """Run every registered closer, newest first; safe to call twice."""
        closers = self.__dict__.pop("_closers", [])
        for closer in reversed(closers):
            with contextlib.suppress(Exception):  # one failing closer must not leak the rest
                closer()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

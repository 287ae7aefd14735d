"""A managed port-forward: one stable local port, an upstream that is restarted when it fails.

Laptops reach a ClusterIP scheduler through a port-forward, and port-forwards drop (the pod
restarts, the API server's websocket idles out, the network blinks). Dask's ``Client``
reconnects to the *same* address by itself, so the fix is to keep that address stable and
repair what is behind it::

    dask Client ──> 127.0.0.1:<stable port>  (ManagedPortForward, a relay thread)
                        └── each connection dials the Upstream; on failure: restart, retry
                            └── KubePortForward: kr8s' port-forward to the scheduler's pod

An :class:`Upstream` is anything with ``start() -> (host, port)`` and ``stop()``; the relay
calls ``start()`` again after a failed dial (or after a connection that the upstream closed
without sending a byte, which is how a broken kr8s websocket shows up) and retries a bounded
number of times before giving up on that one connection. The relay never gives up on the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from typing import Any, Protocol

from daskcloud.exceptions import ClusterError

__all__ = ["KubePortForward", "ManagedPortForward", "Upstream"]

logger = logging.getLogger(__name__)


class Upstream(Protocol):
    """Where the relay sends bytes: started lazily, restarted after failures."""

    def start(self) -> tuple[str, int]:
        """Open (or reopen) the upstream; return the address to connect to."""

    def stop(self) -> None:
        """Close the upstream; safe to call when it is not running."""


class KubePortForward:
    """kr8s' port-forward to ``remote_port`` of a pod (or a Service's ready pod).

    kr8s' sync ``PortForward.start()`` returns at once and opens its listener in a background
    thread; this waits (at most ``timeout`` s) until that listener serves.
    """

    def __init__(self, resource: Any, remote_port: int, *, timeout: float = 15.0) -> None:
        self._resource = resource
        self._remote_port = remote_port
        self._timeout = timeout
        self._forward: Any = None

    def start(self) -> tuple[str, int]:
        self.stop()
        port = _free_port()
        forward = self._resource.portforward(remote_port=self._remote_port, local_port=port)
        forward.start()
        self._forward = forward
        deadline = time.monotonic() + self._timeout
        while not (forward.servers and all(s.is_serving() for s in forward.servers)):
            thread = getattr(forward, "_bg_thread", None)
            if (thread is not None and not thread.is_alive()) or time.monotonic() > deadline:
                self.stop()
                raise ClusterError(
                    f"the port-forward to port {self._remote_port} did not open 127.0.0.1:{port}"
                    f" within {self._timeout:.0f} s; check `pods/portforward` permission and "
                    "that the scheduler pod is running"
                )
            time.sleep(0.05)
        return "127.0.0.1", port

    def stop(self) -> None:
        forward, self._forward = self._forward, None
        if forward is not None:
            with contextlib.suppress(Exception):  # the old forward may already be broken
                forward.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ManagedPortForward:
    """Relay ``127.0.0.1:<local_port>`` to an :class:`Upstream`, restarting it when it fails.

    Args:
        upstream: what to relay to.
        local_port: the stable local port (0 = pick a free one).
        retries: dial attempts per incoming connection before that connection is dropped.
        retry_delay: seconds between attempts (doubling, at most 5 s).
        connect_timeout: seconds one dial may take.

    Example:
        >>> with ManagedPortForward(upstream) as forward:          # doctest: +SKIP
        ...     client = Client(f"tls://{forward.address}", security=security)
    """

    def __init__(
        self,
        upstream: Upstream,
        *,
        local_port: int = 0,
        retries: int = 5,
        retry_delay: float = 0.2,
        connect_timeout: float = 10.0,
        name: str = "port-forward",
    ) -> None:
        self.upstream = upstream
        self.local_port = local_port
        self.retries = retries
        self.retry_delay = retry_delay
        self.connect_timeout = connect_timeout
        self.name = name
        #: how many times the upstream was (re)started
        self.starts = 0
        self._target: tuple[str, int] | None = None
        self._suspect = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()

    @property
    def restarts(self) -> int:
        """Restarts after the first start: how often the forward was repaired."""
        return max(0, self.starts - 1)

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>`` — stable for the life of this object."""
        return f"127.0.0.1:{self.local_port}"

    # --- lifecycle --------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> int:
        """Start the upstream and the relay; return the local port."""
        if self._thread is not None:
            return self.local_port
        self._restart_upstream()  # fail early and clearly when the forward cannot even start
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, "127.0.0.1", self.local_port)
                )
                self.local_port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to the caller below
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or errors:
            self.close()
            why = errors[0] if errors else f"it did not start within {timeout:.0f} s"
            raise ClusterError(
                f"cannot listen on 127.0.0.1:{self.local_port} for the port-forward ({why}); "
                "pick another local port or free this one"
            )
        return self.local_port

    def close(self) -> None:
        """Stop relaying and stop the upstream (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        loop, server = self._loop, self._server
        if loop is not None and loop.is_running():

            async def shutdown() -> None:
                if server is not None:
                    server.close()
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self.upstream.stop()

    def __enter__(self) -> ManagedPortForward:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- relay ------------------------------------------------------------------------------

    def _restart_upstream(self) -> tuple[str, int]:
        with self._lock:
            self.upstream.stop()
            try:
                self._target = self.upstream.start()
            except Exception as exc:
                self._target = None
                raise ClusterError(f"the port-forward could not be (re)started: {exc}") from exc
            self.starts += 1
            self._suspect = False
            return self._target

    async def _dial(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        delay = self.retry_delay
        last: BaseException | None = None
        for attempt in range(self.retries):
            target = self._target
            if target is None or self._suspect or attempt > 0:
                try:
                    target = await loop.run_in_executor(None, self._restart_upstream)
                except ClusterError as exc:
                    last = exc
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(*target), timeout=self.connect_timeout
                )
            except (TimeoutError, OSError) as exc:
                last = exc
                logger.info("port-forward to %s:%s failed (%s); restarting it", *target, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        raise ConnectionError(f"port-forward failed {self.retries} times; last error: {last}")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await self._dial()
        except ConnectionError as exc:
            logger.warning("%s", exc)
            writer.close()
            return
        received = [0]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            try:
                while data := await src.read(65536):
                    if count:
                        received[0] += len(data)
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))
        if received[0] == 0:
            # closed without a byte: a broken kr8s websocket looks like this; repair next time
            self._suspect = True

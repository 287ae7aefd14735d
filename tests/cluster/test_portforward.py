"""The managed port-forward against a local stand-in: a real `dask scheduler` process plays the
scheduler pod, a relay process plays kr8s' port-forward, and killing that process plays a
dropped forward."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from distributed import Client

from daskcloud.cluster.kubernetes._portforward import ManagedPortForward
from daskcloud.exceptions import ClusterError

RELAY = Path(__file__).with_name("tcp_relay.py")


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _address(file):
    """The scheduler's address once its file is completely written, else None."""
    try:
        return json.loads(file.read_text())["address"]
    except (FileNotFoundError, ValueError, KeyError):
        return None


@pytest.fixture(scope="module")
def scheduler_pod(tmp_path_factory):
    """A real scheduler and one worker as processes; yields the scheduler's host and port."""
    directory = tmp_path_factory.mktemp("pod")
    file = directory / "scheduler.json"
    dask = Path(sys.executable).with_name("dask")
    common = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": directory}
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", file],
        **common,
    )  # fmt: skip
    worker = None
    try:
        _wait_for(lambda: _address(file), 60, "the scheduler file")
        address = _address(file)
        worker = subprocess.Popen(
            [dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--no-nanny"], **common
        )
        host, port = address.removeprefix("tcp://").rsplit(":", 1)
        yield host, int(port)
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.terminate()
                proc.wait(30)


class RelayProcessUpstream:
    """Upstream whose forward is a separate relay process (restarted on demand)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.proc: subprocess.Popen | None = None
        self.broken = False  # when True, start() fails like a forward to a missing pod

    def start(self):
        if self.broken:
            raise RuntimeError("pod not found")
        self.proc = subprocess.Popen(
            [sys.executable, RELAY, self.target[0], str(self.target[1])],
            stdout=subprocess.PIPE,
            text=True,
        )
        return "127.0.0.1", int(self.proc.stdout.readline())

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.wait(10)
            proc.stdout.close()

    def kill(self):
        """Drop the forward without telling anyone, as a network failure would."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def test_client_works_through_the_forward_and_survives_a_dropped_forward(scheduler_pod):
    upstream = RelayProcessUpstream(*scheduler_pod)
    with ManagedPortForward(upstream, retry_delay=0.1) as forward:
        assert forward.starts == 1
        with Client(f"tcp://{forward.address}", timeout=30) as client:
            client.wait_for_workers(1, timeout=30)
            assert client.submit(sum, [1, 2], pure=False).result(timeout=30) == 3
            first = upstream.proc.pid
            upstream.kill()  # the forward drops under a connected client
            # the client reconnects to the same local port; the relay restarts the forward
            _wait_for(lambda: forward.restarts >= 1 and client.status == "running", 60,
                      "the client to reconnect through a restarted forward")  # fmt: skip
            assert upstream.proc.pid != first
            assert client.submit(sum, [3, 4], pure=False).result(timeout=30) == 7
    assert upstream.proc is None  # close() stopped the upstream


def test_close_is_idempotent_and_frees_the_port(scheduler_pod):
    forward = ManagedPortForward(RelayProcessUpstream(*scheduler_pod))
    port = forward.start()
    forward.close()
    forward.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # nothing listens there any more


def test_a_forward_that_cannot_start_is_a_clear_error(scheduler_pod):
    upstream = RelayProcessUpstream(*scheduler_pod)
    upstream.broken = True
    with pytest.raises(ClusterError, match=r"could not be \(re\)started: pod not found"):
        ManagedPortForward(upstream).start()


def test_retries_are_bounded_when_the_forward_stays_broken(scheduler_pod):
    upstream = RelayProcessUpstream(*scheduler_pod)
    with ManagedPortForward(upstream, retries=3, retry_delay=0.05) as forward:
        upstream.broken = True
        upstream.kill()
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", forward.local_port), timeout=10) as s:
            s.settimeout(10)
            assert s.recv(1) == b""  # the relay gave up on this connection and closed it
        assert time.monotonic() - started < 10
        upstream.broken = False
        with Client(f"tcp://{forward.address}", timeout=30) as client:  # and it recovers
            assert client.submit(sum, [5, 5], pure=False).result(timeout=30) == 10


class _KrPortForwardStandIn:
    """Mimics kr8s' sync PortForward: start() returns at once, the listener opens later."""

    def __init__(self, target, local_port, delay=0.3, fail=False):
        self.target, self.local_port, self.delay, self.fail = target, local_port, delay, fail
        self.servers = []
        self._bg_thread = None
        self.proc = None

    def start(self):
        def run():
            time.sleep(self.delay)
            if self.fail:
                return  # the thread dies without listening, as on a refused websocket
            self.proc = subprocess.Popen(
                [sys.executable, RELAY, *map(str, self.target), str(self.local_port)],
                stdout=subprocess.PIPE,
                text=True,
            )
            self.proc.stdout.readline()
            self.servers.append(self)

        import threading

        self._bg_thread = threading.Thread(target=run, daemon=True)
        self._bg_thread.start()

    def is_serving(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc.stdout.close()


class _FakeService:
    def __init__(self, target, fail=False):
        self.target, self.fail, self.forwards = target, fail, []

    def portforward(self, remote_port, local_port):
        forward = _KrPortForwardStandIn(self.target, local_port, fail=self.fail)
        self.forwards.append(forward)
        return forward


def test_kube_port_forward_waits_for_kr8s_listener_and_reports_a_dead_one(scheduler_pod):
    from daskcloud.cluster.kubernetes._portforward import KubePortForward

    service = _FakeService(scheduler_pod)
    with (
        ManagedPortForward(KubePortForward(service, 8786)) as forward,
        Client(f"tcp://{forward.address}", timeout=30) as client,
    ):
        assert client.submit(sum, [1, 1], pure=False).result(timeout=30) == 2
    assert service.forwards[0].proc.poll() is not None  # stopped with the managed forward
    broken = KubePortForward(_FakeService(scheduler_pod, fail=True), 8786, timeout=5)
    with pytest.raises(ClusterError, match=r"did not open 127\.0\.0\.1:"):
        broken.start()

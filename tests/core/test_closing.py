"""Closing: the one idempotent close of ClusterConnection and LocalDaskCluster."""

from __future__ import annotations

from daskcloud.cluster.backends import ClusterConnection
from daskcloud.core.client import LocalDaskCluster
from daskcloud.core.closing import Closing


def test_closers_run_newest_first_once_even_when_one_fails():
    ran = []

    def fail():
        ran.append("fail")
        raise RuntimeError("a broken forward")

    with Closing() as thing:
        thing.closing(lambda: ran.append("first"))
        thing.closing(fail)
        thing.closing(lambda: ran.append("last"))
    assert ran == ["last", "fail", "first"]
    thing.close()  # twice: nothing runs again
    assert ran == ["last", "fail", "first"]


def test_both_connections_share_it():
    assert issubclass(ClusterConnection, Closing) and issubclass(LocalDaskCluster, Closing)

"""The user's environment and code on every worker, with nothing to build.

Pure half (:mod:`._environment`, :mod:`._wheels`): what a search needs, read from the
client's live environment with ``importlib.metadata`` and pinned to the client's versions;
local and editable packages and loose modules repacked into wheels. I/O half
(:mod:`._ship`, :mod:`._remote`): before the first task, ask the scheduler and workers what
they lack and ship pure-Python code to them through Dask plugins (workers that join later
included). ``daskcloud.cluster.kubernetes`` builds its init container from the same pins.

This package imports nothing of ``daskcloud.search`` or ``daskcloud.cluster``; both use it.
"""

from __future__ import annotations

from daskcloud.sync._bundle import (
    CLUSTER_DISTRIBUTIONS,
    MAX_OBJECT_BYTES,
    NOTEBOOK_DISTRIBUTIONS,
    SyncBundle,
    cluster_bundle,
    installer,
)
from daskcloud.sync._environment import (
    WORKER_DISTRIBUTIONS,
    Needs,
    Pin,
    find_needs,
    modules_of,
    pinned_closure,
)
from daskcloud.sync._ship import ShippingPlan, plan_shipping, prepare_cluster, search_needs
from daskcloud.sync._wheels import USER_MODULES, Wheel, pack_modules, repack_distribution

__all__ = [
    "CLUSTER_DISTRIBUTIONS",
    "MAX_OBJECT_BYTES",
    "NOTEBOOK_DISTRIBUTIONS",
    "USER_MODULES",
    "WORKER_DISTRIBUTIONS",
    "Needs",
    "Pin",
    "ShippingPlan",
    "SyncBundle",
    "Wheel",
    "cluster_bundle",
    "find_needs",
    "installer",
    "modules_of",
    "pack_modules",
    "pinned_closure",
    "plan_shipping",
    "prepare_cluster",
    "repack_distribution",
    "search_needs",
]

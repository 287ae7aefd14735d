"""daskcloud: distributed, journaled hyperparameter search on Dask clusters.

The public entry points are re-exported here; heavy modules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from daskcloud._version import __version__
from daskcloud.exceptions import (
    ClusterError,
    ConfigError,
    DaskcloudError,
    DataError,
    JournalError,
    KubernetesError,
    SearchError,
)

if TYPE_CHECKING:  # pragma: no cover
    from daskcloud.search import DaskSearchCV

__all__ = [
    "ClusterError",
    "ConfigError",
    "DaskSearchCV",
    "DaskcloudError",
    "DataError",
    "JournalError",
    "KubernetesError",
    "SearchError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # DaskSearchCV pulls in dask.distributed; keep `import daskcloud` cheap for the CLI.
    if name == "DaskSearchCV":
        from daskcloud.search import DaskSearchCV

        return DaskSearchCV
    raise AttributeError(f"module 'daskcloud' has no attribute {name!r}")

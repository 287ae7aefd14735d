"""The Kubernetes view of :class:`~daskcloud.cluster._spec.ClusterSpec`: ports and re-exports.

The spec itself is backend-neutral and lives in :mod:`daskcloud.cluster._spec`; the builders
import it from here along with the ports the scheduler listens on.
"""

from __future__ import annotations

from daskcloud.cluster._placement import Toleration
from daskcloud.cluster._spec import (
    DASHBOARD_PORT,
    DEFAULT_IMAGE_REPOSITORY,
    SCHEDULER_PORT,
    ClusterSpec,
    default_image,
    parse_duration,
    parse_memory,
)

__all__ = [
    "DASHBOARD_PORT",
    "DEFAULT_IMAGE_REPOSITORY",
    "SCHEDULER_PORT",
    "ClusterSpec",
    "Toleration",
    "default_image",
    "parse_duration",
    "parse_memory",
]

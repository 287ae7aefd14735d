"""Exceptions raised by daskcloud.

Every error the library raises on purpose derives from :class:`DaskcloudError`,
and its message names the bad value and how to fix it::

    DaskcloudError
    ├── ConfigError       bad arguments, spec files, cluster options  (CLI exit 2)
    ├── DataError         missing or malformed input data             (CLI exit 2)
    ├── ClusterError      a Dask cluster could not be started/reached  (CLI exit 1)
    │   └── KubernetesError   the Kubernetes API refused or a pod failed
    ├── JournalError      the run journal cannot be read or written    (CLI exit 1)
    └── SearchError       the search itself failed (error_score="raise", version mismatch)
        └── FitsFailedError   every fit failed (a ValueError too, as in scikit-learn)

    └── Interrupted       a signal stopped a job (CLI exit 128 + the signal: 130, 143)

:class:`SearchInterrupted` stands apart: the ``KeyboardInterrupt`` a search raises when
SIGINT or SIGTERM stopped it (a ``BaseException``, so no ``except Exception`` on the way
swallows it); the jobs turn it into :class:`Interrupted` once the cleanup is done.

Third-party exceptions are converted once, at the boundary, with ``raise ... from e``.
"""

from __future__ import annotations

__all__ = [
    "ClusterError",
    "ConfigError",
    "DaskcloudError",
    "DataError",
    "FitsFailedError",
    "Interrupted",
    "JournalError",
    "KubernetesError",
    "SearchError",
    "SearchInterrupted",
]


class DaskcloudError(Exception):
    """Root of every error daskcloud raises on purpose."""

    #: exit code the command line uses for this error
    exit_code: int = 1


class ConfigError(DaskcloudError, ValueError):
    """An argument, option or spec file is invalid."""

    exit_code = 2


class DataError(DaskcloudError, ValueError):
    """Input data is missing or does not match its schema."""

    exit_code = 2


class ClusterError(DaskcloudError, RuntimeError):
    """A Dask cluster could not be started, reached or used."""


class KubernetesError(ClusterError):
    """The Kubernetes API refused a request, or a pod of the cluster failed."""


class JournalError(DaskcloudError, RuntimeError):
    """The run journal cannot be opened, read or written."""


class SearchError(DaskcloudError, RuntimeError):
    """The search failed (a fit raised with error_score='raise', versions differ, ...)."""


class FitsFailedError(SearchError, ValueError):
    """Every fit of the search failed; ``GridSearchCV`` raises a ValueError here too."""


class Interrupted(DaskcloudError):
    """A signal stopped a job; the message says how to resume."""

    def __init__(self, message: str, signum: int = 2) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


class SearchInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a search; ``str()`` says how to resume it."""

    def __init__(self, message: str = "interrupted", signum: int = 2) -> None:
        super().__init__(message)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process a signal ended."""
        return 128 + self.signum

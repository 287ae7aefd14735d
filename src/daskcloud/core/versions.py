"""Check that client, scheduler and workers run the same versions before any task.

:func:`compare_versions` is pure (tests fake a mismatch at its input);
:func:`check_versions` gathers the versions from a live client and raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from daskcloud.exceptions import SearchError

#: the versions found, by cluster identity (:func:`~daskcloud.core.client.cluster_identity`)
#: and packages asked, where they agreed
_AGREED: dict[tuple[Any, ...], dict[str, dict[str, str | None]]] = {}

__all__ = ["PACKAGES", "check_versions", "compare_versions", "local_versions"]

#: packages whose versions must agree wherever search tasks are pickled and run
PACKAGES = ("python", "dask", "distributed", "scikit-learn", "numpy", "pandas", "daskcloud")


def local_versions(packages: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    """Versions of ``packages`` in this process (python as major.minor)."""
    import sys
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": f"{sys.version_info[0]}.{sys.version_info[1]}"}
    for name in packages:
        if name == "python":
            continue
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def compare_versions(versions: Mapping[str, Mapping[str, str | None]]) -> list[str]:
    """Return one line per package whose versions differ between the named processes.

    ``versions`` maps a process name ("client", "scheduler", "tcp://...") to its
    package versions. A package missing from a *scheduler* is ignored (the
    scheduler never runs fits); missing anywhere else is a mismatch.
    """
    problems = []
    for package in PACKAGES:
        if not any(package in v for v in versions.values()):
            continue  # not checked this time
        seen: dict[str | None, list[str]] = {}
        for where, packages in versions.items():
            v = packages.get(package)
            if v is None and where == "scheduler" and package not in ("python", "dask",
                                                                       "distributed"):  # fmt: skip
                continue
            seen.setdefault(v, []).append(where)
        if len(seen) > 1:
            found = "; ".join(
                f"{v or 'not installed'} on {', '.join(sorted(places))}"
                for v, places in sorted(seen.items(), key=lambda kv: str(kv[0]))
            )
            problems.append(f"{package}: {found}")
    return problems


def check_versions(
    client: Any, packages: Sequence[str] = PACKAGES
) -> dict[str, dict[str, str | None]]:
    """Gather versions from client, scheduler and workers; raise SearchError on a mismatch.

    Checked once per cluster state: while the scheduler and its worker processes stay the
    same (no worker restarted or joined), a second check returns what the first found, at the
    cost of one round trip.

    ``packages`` narrows the check to what a search needs (a search on NumPy arrays does
    not need pandas on the workers).
    """
    from daskcloud.core.client import cluster_identity

    names = [p for p in PACKAGES if p in packages]
    identity = cluster_identity(client)
    key = None if identity is None else (identity, tuple(names))
    if key is not None and key in _AGREED:  # the same processes agreed before
        return {where: dict(found) for where, found in _AGREED[key].items()}
    versions: dict[str, dict[str, str | None]] = {"client": local_versions(names)}
    versions["scheduler"] = client.run_on_scheduler(local_versions, names)
    versions.update(client.run(local_versions, names))
    problems = compare_versions(versions)
    if problems:
        raise SearchError(
            "package versions differ between the client, the scheduler and the workers -- "
            + " | ".join(problems)
            + ". Install the same versions everywhere (build the worker image from the same "
            "lock file as the client)"
        )
    if key is not None:
        _AGREED[key] = {where: dict(found) for where, found in versions.items()}
    return versions

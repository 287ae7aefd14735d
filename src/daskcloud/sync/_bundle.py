"""The sync bundle of a cluster daskcloud creates: pinned requirements and wheels, checked.

:func:`cluster_bundle` reads the client's environment once; the Kubernetes builders turn the
:class:`SyncBundle` into a ConfigMap and an init container (pure), so ``daskcloud manifests``
shows exactly what every pod installs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from daskcloud.exceptions import ConfigError
from daskcloud.sync._environment import WORKER_DISTRIBUTIONS, Needs, find_needs
from daskcloud.sync._wheels import Wheel, pack_modules, repack_distribution

__all__ = ["CLUSTER_DISTRIBUTIONS", "MAX_OBJECT_BYTES", "SyncBundle", "cluster_bundle", "installer"]

#: what every scheduler and worker pod gets besides daskcloud: the worker-side needs, and
#: pandas (the version check compares it; Rossmann and CSV data are DataFrames)
CLUSTER_DISTRIBUTIONS = (*WORKER_DISTRIBUTIONS, "pandas")
#: the Kubernetes API's limit on one object (etcd's request size): the bundle must fit
MAX_OBJECT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SyncBundle:
    """What the init container installs into the overlay, all at the client's versions.

    Attributes:
        requirements: ``name==version`` lines for the scheduler and worker pods.
        driver_requirements: the same for a pod that runs daskcloud's own command line (a
            detached search driver, a notebook): all of daskcloud's requirements.
        wheels: daskcloud and local packages and modules, built on the client.
        index_url, extra_index_urls: pip's ``--index-url`` / ``--extra-index-url``.
    """

    requirements: tuple[str, ...]
    driver_requirements: tuple[str, ...]
    wheels: tuple[Wheel, ...]
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()

    @property
    def wheel_bytes(self) -> int:
        return sum(len(w.data) for w in self.wheels)


def cluster_bundle(
    packages: Iterable[str] = (),
    *,
    index_url: str | None = None,
    extra_index_urls: Iterable[str] = (),
) -> SyncBundle:
    """The bundle for a new cluster: daskcloud, ``packages`` and their requirements, pinned.

    ``packages`` are distribution names installed here (``xgboost``) or importable local
    modules (``my_models``); each gets the client's version.

    Raises:
        ConfigError: a package is not installed here, or local code holds compiled modules.
    """
    extra = [_name(p) for p in packages]
    workers = find_needs([*CLUSTER_DISTRIBUTIONS, "daskcloud", *extra], leaves=("daskcloud",))
    driver = find_needs(["daskcloud", *CLUSTER_DISTRIBUTIONS, *extra])
    wheels = {w.filename: w for w in _wheels(workers) + _wheels(driver)}
    return SyncBundle(
        requirements=tuple(p.requirement for p in workers.index_pins),
        driver_requirements=tuple(p.requirement for p in driver.index_pins),
        wheels=tuple(wheels[f] for f in sorted(wheels)),
        index_url=index_url,
        extra_index_urls=tuple(extra_index_urls),
    )


def installer() -> str:
    """The init container's installer script (standard library only)."""
    return Path(__file__).with_name("_installer.py").read_text(encoding="utf-8")


def _wheels(needs: Needs) -> list[Wheel]:
    wheels = [repack_distribution(pin.name) for pin in needs.local_pins]
    if needs.modules:
        wheels.append(pack_modules(needs.modules))
    return wheels


def _name(package: str) -> str:
    """A package's name: ``xgboost>=2`` -> ``xgboost`` (the client's version is what counts)."""
    from packaging.requirements import InvalidRequirement, Requirement

    text = package.strip()
    if text.endswith(".py") or "/" in text:
        return Path(text).stem  # a module file given by path: import it by name
    try:
        req = Requirement(text)
    except InvalidRequirement:
        raise ConfigError(
            f"package {package!r} is not a package name; write e.g. 'xgboost' or 'my_models'"
        ) from None
    return req.name + (f"[{','.join(sorted(req.extras))}]" if req.extras else "")

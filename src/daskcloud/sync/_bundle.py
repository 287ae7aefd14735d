"""The sync bundle of a cluster daskcloud creates: pinned requirements and wheels, checked.

:func:`cluster_bundle` reads the client's environment once; the Kubernetes builders turn the
:class:`SyncBundle` into a ConfigMap and an init container (pure), so ``daskcloud manifests``
shows exactly what every pod installs.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from daskcloud.exceptions import ConfigError
from daskcloud.sync._environment import WORKER_DISTRIBUTIONS, Needs, find_needs
from daskcloud.sync._wheels import Wheel, pack_modules, repack_distribution

__all__ = [
    "CLUSTER_DISTRIBUTIONS",
    "MAX_OBJECT_BYTES",
    "NOTEBOOK_DISTRIBUTIONS",
    "SyncBundle",
    "cluster_bundle",
    "installer",
]

#: what every scheduler and worker pod gets besides daskcloud: the worker-side needs, and
#: pandas (the version check compares it; Rossmann and CSV data are DataFrames)
CLUSTER_DISTRIBUTIONS = (*WORKER_DISTRIBUTIONS, "pandas")
#: what the notebook pod (``--jupyter``) gets on top of a driver's environment: the official
#: dask image holds no JupyterLab (``daskcloud[notebook]``)
NOTEBOOK_DISTRIBUTIONS = ("jupyterlab", "ipykernel")
#: the Kubernetes API's limit on one object (etcd's request size): the bundle must fit
MAX_OBJECT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SyncBundle:
    """What the init container installs into the overlay, all at the client's versions.

    Attributes:
        requirements: ``name==version`` lines for the scheduler and worker pods.
        driver_requirements: the same for a pod that runs daskcloud's own command line (a
            detached search driver): all of daskcloud's requirements.
        wheels: daskcloud and local packages and modules, built on the client.
        index_url, extra_index_urls: pip's ``--index-url`` / ``--extra-index-url``.
        notebook_requirements: the driver's lines plus JupyterLab, ipykernel and their
            requirements, for the notebook pod; empty unless the bundle was made for one.
    """

    requirements: tuple[str, ...]
    driver_requirements: tuple[str, ...]
    wheels: tuple[Wheel, ...]
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    notebook_requirements: tuple[str, ...] = ()

    @property
    def wheel_bytes(self) -> int:
        return sum(len(w.data) for w in self.wheels)


def cluster_bundle(
    packages: Iterable[str] = (),
    *,
    index_url: str | None = None,
    extra_index_urls: Iterable[str] = (),
    notebook: bool = False,
) -> SyncBundle:
    """The bundle for a new cluster: daskcloud, ``packages`` and their requirements, pinned.

    ``packages`` are distribution names installed here (``xgboost``) or importable local
    modules (``my_models``); each gets the client's version. ``notebook`` (``--jupyter``)
    adds the notebook pod's requirements: the client's JupyterLab and ipykernel.

    Raises:
        ConfigError: a package is not installed here, or local code holds compiled modules;
            with ``notebook``, JupyterLab or ipykernel is not installed here.
    """
    extra = [_name(p) for p in packages]
    workers = find_needs([*CLUSTER_DISTRIBUTIONS, "daskcloud", *extra], leaves=("daskcloud",))
    driver = find_needs(["daskcloud", *CLUSTER_DISTRIBUTIONS, *extra])
    needs = [workers, driver]
    notebook_requirements: tuple[str, ...] = ()
    if notebook:
        missing = [d for d in NOTEBOOK_DISTRIBUTIONS if not _is_installed(d)]
        if missing:
            raise ConfigError(
                f"--jupyter gives the notebook pod this machine's versions of "
                f"{' and '.join(missing)}, not installed here; pip install "
                "'daskcloud[notebook]' and run again"
            )
        needs.append(find_needs(["daskcloud", *CLUSTER_DISTRIBUTIONS, *extra,
                                 *NOTEBOOK_DISTRIBUTIONS]))  # fmt: skip
        notebook_requirements = tuple(p.requirement for p in needs[-1].index_pins)
    wheels = {w.filename: w for n in needs for w in _wheels(n)}
    return SyncBundle(
        requirements=tuple(p.requirement for p in workers.index_pins),
        driver_requirements=tuple(p.requirement for p in driver.index_pins),
        wheels=tuple(wheels[f] for f in sorted(wheels)),
        index_url=index_url,
        extra_index_urls=tuple(extra_index_urls),
        notebook_requirements=notebook_requirements,
    )


def installer() -> str:
    """The init container's installer script (standard library only)."""
    return Path(__file__).with_name("_installer.py").read_text(encoding="utf-8")


def _wheels(needs: Needs) -> list[Wheel]:
    wheels = [repack_distribution(pin.name) for pin in needs.local_pins]
    if needs.modules:
        wheels.append(pack_modules(needs.modules))
    return wheels


def _is_installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


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

"""Before the first task: every scheduler and worker can import what the search needs.

:func:`prepare_cluster` is the one call the search engine makes (next to its version check),
for clusters daskcloud created and clusters it did not (``--scheduler ADDR``, a dask-gateway
or operator cluster, ``client=``):

1. on the client, :func:`search_needs` pins what the search's objects need (daskcloud's
   worker-side code, the estimator's and scorer's modules, the data's types, their
   requirements) at the client's versions;
2. one round trip asks the scheduler and every worker which of them they lack and at which
   versions (:func:`~._remote.probe`);
3. :func:`plan_shipping` (pure) splits the answer: pure-Python code that is missing —
   daskcloud itself, local and editable packages, loose modules such as ``my_models.py`` — is
   shipped as wheels through a worker plugin (kept by the scheduler for workers that join
   later) and a scheduler plugin; a missing compiled package, a different version or a
   different Python is one line each, with both versions and the fix. With
   ``install_missing`` the client's pinned versions are pip-installed on the scheduler and the
   workers instead (distributed's ``PipInstall`` plugin, opt-in: it changes their
   environment).
"""

from __future__ import annotations

import functools
import importlib.metadata as md
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from daskcloud.core.client import cluster_identity
from daskcloud.exceptions import SearchError
from daskcloud.sync._environment import WORKER_DISTRIBUTIONS, Needs, Pin, find_needs, modules_of
from daskcloud.sync._wheels import Wheel, pack_modules, repack_distribution

__all__ = ["ShippingPlan", "plan_shipping", "prepare_cluster", "search_needs"]

_SCHEDULER = "scheduler"
#: seconds the workers restarted by ``install_missing`` may take to come back
RESTART_S = 300
#: plans that needed nothing, by cluster identity and what was asked: the next search on
#: the same processes with the same needs skips the probes
_CLEAN: dict[tuple[Any, ...], ShippingPlan] = {}


@dataclass(frozen=True)
class ShippingPlan:
    """What :func:`plan_shipping` decided.

    Attributes:
        ship: distributions to ship as wheels (pure-Python code that is missing somewhere).
        ship_modules: loose modules to ship (not importable somewhere).
        install: requirements to pip-install (missing compiled packages or other versions),
            used only with ``install_missing``: distributed's ``PipInstall`` installs them on
            the scheduler and on every worker.
        problems: one line per package that cannot be fixed by shipping code.
        checked: every distribution whose version was compared.
    """

    ship: tuple[Pin, ...] = ()
    ship_modules: tuple[str, ...] = ()
    install: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    checked: tuple[str, ...] = ()


def grid_values(space: Any) -> list[Any]:
    """The values of a search space that travel to the workers as parameters.

    Lists are candidate values (estimators, callables); distributions (scipy, Optuna) stay
    on the client, which samples them.
    """
    spaces = [space] if isinstance(space, Mapping) else list(space or ())
    return [v for sub in spaces if isinstance(sub, Mapping) for v in sub.values()
            if isinstance(v, list | tuple)]  # fmt: skip


def search_needs(*objects: Any, space: Any = None) -> Needs:
    """The pinned needs of a search over ``objects`` (estimator, data, scorers) and ``space``.

    daskcloud itself is taken without its requirements: its worker-side code needs only
    :data:`~._environment.WORKER_DISTRIBUTIONS` (the command line, reports and Kubernetes
    code never run on a worker).
    """
    roots = {*WORKER_DISTRIBUTIONS, "daskcloud", *modules_of(*objects, *grid_values(space))}
    return find_needs(sorted(roots), strict=False, leaves=("daskcloud",))


def plan_shipping(
    needs: Needs,
    reports: Mapping[str, Mapping[str, Any]],
    *,
    python: str | None = None,
    in_graph: Collection[str] = (),
) -> ShippingPlan:
    """Decide, from each process's :func:`~._remote.probe` report, what to ship or report.

    ``reports`` maps ``"scheduler"`` and worker addresses to reports. Code the scheduler lacks
    is shipped to it as to the workers. A compiled package it lacks matters only when its
    objects travel inside the task graph, which the scheduler unpickles: ``in_graph`` names
    those distributions (the parameter values' closure); the estimator and the data are
    scattered, which the scheduler never unpickles.
    """
    python = python or f"{sys.version_info[0]}.{sys.version_info[1]}"
    ship: dict[str, Pin] = {}
    install: dict[str, str] = {}
    problems: list[str] = []
    wrong_python = sorted(w for w, r in reports.items() if r["python"] != python)
    if wrong_python:
        seen = ", ".join(sorted({f"{reports[w]['python']} on {w}" for w in wrong_python}))
        problems.append(
            f"python: {python} here, {seen}; run the cluster on Python {python} (the default "
            "image ghcr.io/dask/dask:<version>-py<X.Y> follows the client)"
        )
    for pin in needs.pins:
        missing, different = [], {}
        for where, report in reports.items():
            found = report["versions"].get(pin.name)
            if found is None:
                missing.append(where)
            elif found != pin.version:
                different.setdefault(found, []).append(where)
        if different:
            install[pin.name] = pin.requirement
            seen = "; ".join(f"{v} on {', '.join(sorted(w))}" for v, w in sorted(different.items()))
            problems.append(f"{pin.name}: {pin.version} here, {seen}")
        if not missing:
            continue
        if pin.local or _is_pure(pin.name):
            ship[pin.name] = pin
        elif any(where != _SCHEDULER for where in missing):
            install[pin.name] = pin.requirement
            where = ", ".join(sorted(w for w in missing if w != _SCHEDULER))
            problems.append(f"{pin.name}: {pin.version} here, not installed on {where}")
        if _SCHEDULER in missing and pin.name in in_graph and pin.name not in ship:
            install[pin.name] = pin.requirement  # PipInstall installs on the scheduler too
            problems.append(
                f"{pin.name}: {pin.version} here, not installed on the scheduler, which "
                f"unpickles the parameter values that hold its objects; install it there"
            )
    ship_modules = tuple(
        sorted(m for m in needs.modules if any(not r["modules"].get(m) for r in reports.values()))
    )
    return ShippingPlan(
        ship=tuple(ship.values()),
        ship_modules=ship_modules,
        install=tuple(install.values()),
        problems=tuple(problems),
        checked=tuple(p.name for p in needs.pins),
    )


def prepare_cluster(
    client: Any, *objects: Any, space: Any = None, install_missing: bool | None = None
) -> ShippingPlan:
    """Make the search's code importable on the scheduler and every worker; raise if it cannot.

    Args:
        client: a connected ``distributed.Client``.
        objects: what the tasks carry: the estimator, X, y, the scorers.
        space: the search space; its candidate lists travel too (:func:`grid_values`).
        install_missing: pip-install missing compiled packages and other versions at the
            client's versions on the workers. ``None`` reads dask config
            ``daskcloud.packages.install-missing`` (default False).

    Raises:
        SearchError: a package is missing or differs and cannot be shipped (one line each).
    """
    import cloudpickle

    from daskcloud import config
    from daskcloud.sync import _remote

    if install_missing is None:
        install_missing = bool(config.get("packages.install-missing"))
    needs = search_needs(*objects, space=space)
    cloudpickle.register_pickle_by_value(_remote)  # plain workers have no daskcloud to import
    names, modules = [p.name for p in needs.pins], sorted(needs.modules)
    in_graph = {p.name for p in find_needs(modules_of(*grid_values(space)), strict=False).pins}
    identity = cluster_identity(client)
    key = None if identity is None else (identity, needs.pins, tuple(modules), frozenset(in_graph))
    if key is not None and key in _CLEAN:
        return _CLEAN[key]
    reports = dict(client.run(_remote.probe, names, modules))
    reports[_SCHEDULER] = client.run_on_scheduler(_remote.probe, names, modules)
    plan = plan_shipping(needs, reports, in_graph=in_graph)
    ship = None
    if plan.ship or plan.ship_modules:
        wheels = {w.filename: w.data for w in ship_wheels(plan, needs)}
        ship = _remote.ShipToWorkers(wheels)
        client.register_plugin(_remote.ShipToScheduler(wheels))
        client.register_plugin(ship)
    if plan.problems and install_missing:
        from distributed.diagnostics.plugin import PipInstall

        client.register_plugin(PipInstall(list(plan.install), restart_workers=True))
        _after_restart(client, len(reports) - 1, ship)
        reports = dict(client.run(_remote.probe, names, modules))
        reports[_SCHEDULER] = client.run_on_scheduler(_remote.probe, names, modules)
        plan = plan_shipping(needs, reports, in_graph=in_graph)
    if plan.problems:
        fix = (
            "pip-install the client's versions on the workers (e.g. pip install "
            + " ".join(plan.install[:4])
            + (" ...)" if plan.install[4:] else ")")
            if plan.install
            else "run the cluster on the client's Python version"
        )
        raise SearchError(
            "the workers' environment differs from this one -- "
            + " | ".join(plan.problems)
            + f". Fix: {fix}, let daskcloud do it (--install-missing, dask config "
            "daskcloud.packages.install-missing or DASK_DASKCLOUD__PACKAGES__INSTALL_MISSING=1), "
            "or start the cluster from an image built by `daskcloud image build`"
        )
    if key is not None and not (plan.ship or plan.ship_modules or plan.install):
        _CLEAN[key] = plan
    return plan


def _after_restart(client: Any, n_workers: int, ship: Any) -> None:
    """Wait for ``n_workers`` workers back from ``PipInstall``'s restart; set ``ship`` up on each.

    A nanny waits 30 s for its restarted worker, then ``PipInstall`` returns all the same: a
    probe then would miss the worker, and the search would start without it (and fail with
    distributed's "No valid workers found" when it is back after the data's scatter gave
    up). ``ship`` is registered again because ``client.run`` reaches a worker as soon as the
    scheduler has added it, before the worker ran the plugins it was handed; registering
    runs its setup on every worker and waits for it.
    """
    try:
        client.wait_for_workers(n_workers, timeout=RESTART_S)
    except TimeoutError as e:
        back = len(client.scheduler_info(n_workers=-1)["workers"])
        raise SearchError(
            f"--install-missing restarted the workers and {back} of {n_workers} came back "
            f"within {RESTART_S} s; see the workers' logs (the packages' install or the "
            "worker's start failed), or install the packages in the workers' image"
        ) from e
    if ship is not None:
        client.register_plugin(ship)


def ship_wheels(plan: ShippingPlan, needs: Needs) -> list[Wheel]:
    """The wheels that carry a plan's code: each distribution, plus one for loose modules."""
    wheels = [repack_distribution(pin.name) for pin in plan.ship]
    if plan.ship_modules:
        wheels.append(pack_modules({m: needs.modules[m] for m in plan.ship_modules}))
    return wheels


@functools.cache
def _is_pure(name: str) -> bool:
    """True if the installed distribution holds no compiled module (it can be shipped)."""
    try:
        files = md.distribution(name).files or []
    except md.PackageNotFoundError:
        return False
    return not any(str(f).endswith((".so", ".pyd", ".dylib")) for f in files)

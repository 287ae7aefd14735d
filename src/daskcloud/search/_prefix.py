"""Plan which pipeline-prefix fits are shared between candidates (pure; no Dask).

In a ``Pipeline`` of steps ``s0 .. s(m-1), final``, the first ``d`` steps
fitted on one fold's training data depend only on the fold, the resource
(a training subsample) and the parameters of those ``d`` steps (plus
pipeline-level parameters). Every fit whose *prefix key* at depth ``d`` is equal
can reuse one fitted prefix and its transformed train/test data, as dask-ml's
graph de-duplication does.

:func:`plan_prefixes` picks, among the fits to run now, the prefix nodes worth
materialising: a key used by at least two fits, at the deepest depth that still
serves the same fits (steps without parameters of their own are fused into the
node below them), plus any node still held from an earlier plan. Each fit is
attached to its deepest node; each node names the node it continues from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from daskcloud.search._keys import params_token, token

__all__ = ["Plan", "PrefixNode", "Unit", "plan_prefixes", "split_params_by_step"]


@dataclass(frozen=True)
class Unit:
    """One fit to plan: an id, its fold, its full parameter dict and its subsample size."""

    id: Hashable
    fold: int
    params: Mapping[str, Any]
    n_samples: int | None = None


@dataclass(frozen=True)
class PrefixNode:
    """Fit steps ``[start, stop)`` on one fold, continuing from node ``parent`` (None: raw data)."""

    key: str
    fold: int
    start: int
    stop: int
    parent: str | None
    params: Mapping[str, Any]
    n_samples: int | None


@dataclass(frozen=True)
class Plan:
    """New nodes to submit (parents first) and, per unit, the node it continues from."""

    nodes: list[PrefixNode]
    attach: dict[Hashable, str | None]
    depth: dict[str, int]


def split_params_by_step(
    params: Mapping[str, Any], step_names: Sequence[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Split a candidate's params into pipeline-level ones and one dict per step."""
    index = {name: i for i, name in enumerate(step_names)}
    glob: dict[str, Any] = {}
    per_step: list[dict[str, Any]] = [{} for _ in step_names]
    for name, value in params.items():
        step = name.split("__", 1)[0]
        if step in index:
            per_step[index[step]][name] = value
        else:  # "memory", "verbose", "steps", ...: changes every step
            glob[name] = value
    return glob, per_step


def prefix_chain(unit: Unit, step_names: Sequence[str]) -> list[str]:
    """Prefix keys of depth 1 .. len(step_names) - 1 for one unit."""
    glob, per_step = split_params_by_step(unit.params, step_names)
    key = token(("prefix", unit.fold, unit.n_samples, params_token(glob)))
    chain = []
    for d in range(1, len(step_names)):
        key = token((key, params_token(per_step[d - 1])))
        chain.append(key)
    return chain


def plan_prefixes(
    units: Sequence[Unit], step_names: Sequence[str], live: Mapping[str, int] = {}
) -> Plan:
    """Plan prefix nodes for ``units`` of a pipeline with ``step_names``.

    ``live`` maps the keys of nodes still held from earlier plans to their
    depth; they are reused and never planned again.
    """
    if len(step_names) < 2:
        return Plan(nodes=[], attach={u.id: None for u in units}, depth={})
    chains = [prefix_chain(u, step_names) for u in units]
    users = Counter(key for chain in chains for key in chain)
    m = len(step_names) - 1

    def materialised(chain: list[str], d: int) -> bool:  # d is 1-based depth
        key = chain[d - 1]
        if key in live:
            return True
        deeper_same = d < m and users[chain[d]] == users[key]
        return users[key] >= 2 and not deeper_same

    nodes: dict[str, PrefixNode] = {}
    attach: dict[Hashable, str | None] = {}
    depth: dict[str, int] = dict(live)
    for unit, chain in zip(units, chains, strict=True):
        parent: str | None = None
        parent_depth = 0
        for d in range(1, m + 1):
            if not materialised(chain, d):
                continue
            key = chain[d - 1]
            if key not in live and key not in nodes:
                glob, per_step = split_params_by_step(unit.params, step_names)
                for p in per_step[:d]:
                    glob.update(p)
                nodes[key] = PrefixNode(
                    key=key,
                    fold=unit.fold,
                    start=parent_depth,
                    stop=d,
                    parent=parent,
                    params=glob,
                    n_samples=unit.n_samples,
                )
                depth[key] = d
            parent, parent_depth = key, d
        attach[unit.id] = parent
    return Plan(nodes=list(nodes.values()), attach=attach, depth=depth)

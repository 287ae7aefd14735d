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

:class:`PrefixCache` keeps, for the runner, the nodes of the fits queued or
running: their futures (submitted when a task first needs them) and how many
fits still need each, so a worker's copy is freed as soon as none does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from daskcloud.search._keys import params_token, token
from daskcloud.search._protocol import PrefixFit, Unit

__all__ = ["Plan", "PrefixCache", "PrefixNode", "plan_prefixes", "split_params_by_step"]


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


class PrefixCache:
    """The shared prefixes of the fits queued or running: their plan, futures and users.

    :meth:`plan` attaches new units to prefix nodes (reusing nodes still alive) and
    counts one reference per unit on every node of its chain; :meth:`future` submits
    a node (and its parents) the first time a task needs it, through ``submit(node,
    parent_future)``; :meth:`release` drops a finished unit's references and forgets
    a node -- its future, hence the worker's copy -- when no queued or running unit
    needs it. The cache never looks inside the futures.
    """

    def __init__(self, step_names: Sequence[str] | None, submit: Callable[[PrefixNode, Any], Any]):
        self.step_names = list(step_names or [])
        self._submit = submit
        self._nodes: dict[str, PrefixNode] = {}
        self._futures: dict[str, Any] = {}
        self._refs: dict[str, int] = {}
        self._journaled: set[str] = set()
        #: prefix fits submitted so far
        self.n_submitted = 0

    def plan(self, units: Sequence[Unit]) -> dict[Hashable, list[str]]:
        """Each unit's chain of prefix keys, deepest first (empty: fit from raw data)."""
        plan = plan_prefixes(
            units, self.step_names, live={k: n.stop for k, n in self._nodes.items()}
        )
        self._nodes.update((node.key, node) for node in plan.nodes)
        chains = {}
        for unit in units:
            chain, key = [], plan.attach[unit.id]
            while key is not None:
                chain.append(key)
                self._refs[key] = self._refs.get(key, 0) + 1
                key = self._nodes[key].parent
            chains[unit.id] = chain
        return chains

    def future(self, key: str) -> Any:
        """The future of node ``key``'s fitted prefix, submitted (with its parents) if new."""
        if key not in self._futures:
            node = self._nodes[key]
            parent = None if node.parent is None else self.future(node.parent)
            self._futures[key] = self._submit(node, parent)
            self.n_submitted += 1
        return self._futures[key]

    def release(self, chain: Sequence[str]) -> None:
        """A unit attached to ``chain`` is done: forget nodes no other unit needs."""
        for key in chain:
            self._refs[key] -= 1
            if self._refs[key] <= 0:
                del self._refs[key], self._nodes[key]
                self._futures.pop(key, None)  # dropping the future frees the worker's copy

    def first_seen(self, links: Sequence[PrefixFit]) -> list[PrefixFit]:
        """The prefix fits among ``links`` not reported before (each is journaled once)."""
        new = [link for link in links if link.key not in self._journaled]
        self._journaled.update(link.key for link in new)
        return new

    def drop_futures(self) -> None:
        """Forget every submitted prefix (the data they came from is gone); refit on demand."""
        self._futures.clear()

    def futures(self) -> list[Any]:
        """Futures of the prefixes submitted and still needed."""
        return list(self._futures.values())

    def __len__(self) -> int:
        return len(self._nodes)

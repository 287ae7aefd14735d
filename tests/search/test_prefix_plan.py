"""Prefix planning (pure): which pipeline-prefix fits are shared."""

from __future__ import annotations

from daskcloud.search._prefix import plan_prefixes, split_params_by_step
from daskcloud.search._protocol import Unit

STEPS = ["scale", "pca", "ridge"]


def units(grid, folds=3, n_samples=None):
    return [Unit((i, f), f, p, n_samples) for i, p in enumerate(grid) for f in range(folds)]


def test_params_are_split_by_step():
    glob, per = split_params_by_step({"scale__a": 1, "ridge__b": 2, "memory": None}, STEPS)
    assert glob == {"memory": None} and per == [{"scale__a": 1}, {}, {"ridge__b": 2}]


def test_four_settings_of_first_step_give_twelve_nodes_for_three_folds():
    grid = [{"scale__k": k, "ridge__alpha": a} for k in range(4) for a in range(5)]
    plan = plan_prefixes(units(grid), STEPS)
    assert len(plan.nodes) == 12
    # pca has no parameters: it is fused into the scale node (depth 2, one task)
    assert {(n.start, n.stop) for n in plan.nodes} == {(0, 2)}
    assert len(set(plan.attach.values())) == 12


def test_two_levels_chain_to_their_parent():
    grid = [{"scale__k": k, "pca__n": n, "ridge__alpha": a}
            for k in range(2) for n in range(3) for a in range(2)]  # fmt: skip
    plan = plan_prefixes(units(grid, folds=1), STEPS)
    by_key = {n.key: n for n in plan.nodes}
    depth1 = [n for n in plan.nodes if n.stop == 1]
    depth2 = [n for n in plan.nodes if n.stop == 2]
    assert len(depth1) == 2 and len(depth2) == 6
    assert all(by_key[n.parent].stop == 1 and n.start == 1 for n in depth2)
    assert plan.nodes.index(by_key[depth2[0].parent]) < plan.nodes.index(depth2[0])


def test_no_sharing_means_no_nodes_and_pipeline_level_params_share_nothing():
    grid = [{"scale__k": k} for k in range(3)]
    assert plan_prefixes(units(grid), STEPS).nodes == []
    grid = [{"memory": None, "ridge__alpha": a} for a in range(3)]
    plan = plan_prefixes(units(grid), STEPS)
    assert len(plan.nodes) == 3  # one per fold: all candidates share the whole prefix


def test_subsample_size_and_fold_separate_nodes_and_live_nodes_are_reused():
    grid = [{"ridge__alpha": a} for a in range(3)]
    small = plan_prefixes(units(grid, folds=2, n_samples=10), STEPS)
    big = plan_prefixes(units(grid, folds=2, n_samples=20), STEPS)
    assert len(small.nodes) == 2 and not {n.key for n in small.nodes} & {n.key for n in big.nodes}
    live = {n.key: n.stop for n in small.nodes}
    again = plan_prefixes(units([{"ridge__alpha": 9}], folds=2, n_samples=10), STEPS, live)
    assert again.nodes == [] and set(again.attach.values()) == set(live)


def test_not_a_pipeline():
    plan = plan_prefixes(units([{"alpha": 1}, {"alpha": 2}]), ["only"])
    assert plan.nodes == [] and set(plan.attach.values()) == {None}

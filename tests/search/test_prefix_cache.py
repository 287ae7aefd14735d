"""PrefixCache: shared prefixes are submitted once, parents first, and freed when unused.

The cache never looks inside what ``submit`` returns, so these tests give it a
function that records the submissions and returns their names.
"""

from __future__ import annotations

from daskcloud.search._prefix import PrefixCache
from daskcloud.search._protocol import PrefixFit, Unit

STEPS = ["scale", "pca", "ridge"]


def _cache():
    submitted = []

    def submit(node, parent):
        submitted.append((node.key, parent))
        return f"future:{node.key}"

    return PrefixCache(STEPS, submit), submitted


def _units(grid, folds=2, first=0):
    return [Unit((first + i, f), f, p) for i, p in enumerate(grid) for f in range(folds)]


def test_a_shared_prefix_is_submitted_once_per_fold_parents_first():
    cache, submitted = _cache()
    grid = [{"scale__k": k, "pca__n": n, "ridge__alpha": a}
            for k in range(2) for n in range(2) for a in range(3)]  # fmt: skip
    chains = cache.plan(_units(grid))
    assert all(len(chain) == 2 for chain in chains.values())  # pca node, then its scale parent
    for chain in chains.values():
        assert cache.future(chain[0]) == f"future:{chain[0]}"
    # 2 scale x 2 folds + 2 scale x 2 pca x 2 folds, each submitted once, parent before child
    assert len(submitted) == 4 + 8 == cache.n_submitted
    order = [key for key, _ in submitted]
    for key, parent in submitted:
        if parent is not None:
            assert order.index(parent.removeprefix("future:")) < order.index(key)


def test_a_prefix_is_forgotten_when_its_last_unit_is_done():
    cache, _ = _cache()
    units = _units([{"scale__k": 1, "ridge__alpha": a} for a in range(3)], folds=1)
    chains = cache.plan(units)
    (key,) = {chain[0] for chain in chains.values()}
    cache.future(key)
    for unit in units[:-1]:
        cache.release(chains[unit.id])
    assert cache.futures() == [f"future:{key}"] and len(cache) == 1
    # a unit planned now reuses the live node instead of planning a new one
    later = _units([{"scale__k": 1, "ridge__alpha": 9}], folds=1, first=10)
    assert cache.plan(later)[later[0].id] == [key]
    cache.release(chains[units[-1].id])
    cache.release([key])
    assert cache.futures() == [] and len(cache) == 0
    assert cache.n_submitted == 1


def test_after_the_data_is_lost_prefixes_are_submitted_again():
    cache, submitted = _cache()
    chains = cache.plan(_units([{"scale__k": 1, "ridge__alpha": a} for a in range(2)]))
    key = next(iter(chains.values()))[0]
    cache.future(key)
    cache.drop_futures()
    cache.future(key)
    assert [k for k, _ in submitted] == [key, key]


def test_each_prefix_fit_is_reported_once():
    cache, _ = _cache()
    a, b = PrefixFit("a", 0.0, 1.0, "w", 0.5), PrefixFit("b", 1.0, 2.0, "w", 0.5)
    assert cache.first_seen([a]) == [a]
    assert cache.first_seen([a, b]) == [b]
    assert cache.first_seen([a, b]) == []


def test_a_pipeline_of_one_step_shares_nothing():
    single = PrefixCache(["only"], lambda node, parent: None)
    assert single.plan(_units([{"alpha": 1}, {"alpha": 2}])) == {
        (0, 0): [], (0, 1): [], (1, 0): [], (1, 1): []
    }  # fmt: skip
    assert PrefixCache(None, lambda node, parent: None).plan(_units([{"alpha": 1}])) == {
        (0, 0): [], (0, 1): []
    }  # fmt: skip

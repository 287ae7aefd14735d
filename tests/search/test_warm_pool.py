"""WarmStartPool: a candidate's fits are held while it may continue, taken by its next rung."""

from __future__ import annotations

from sklearn.linear_model import Ridge

from daskcloud.search._continue import Resume
from daskcloud.search._warm import WarmStartPool
from daskcloud.search.strategies import Trial


def _pool():
    return WarmStartPool("total", "mlp__max_iter")


def test_the_next_rung_takes_what_the_previous_one_left():
    pool = _pool()
    assert pool.take(Trial(0, {"a": 1}, resource=3)) == (None, {})
    pool.hold(Trial(0, {"a": 1}, resource=3), {0: "f0", 1: "f1"}, lambda t: True)
    resume, models = pool.take(Trial(5, {"a": 1}, resource=9))
    assert resume == Resume("total", "mlp__max_iter", 3, 9)
    assert models == {0: "f0", 1: "f1"}
    assert len(pool) == 0  # taken: the new rung's fits will be held instead


def test_nothing_is_taken_at_the_same_or_a_lower_resource_or_for_another_candidate():
    pool = _pool()
    pool.hold(Trial(0, {"a": 1}, resource=9), {0: "f"}, lambda t: True)
    assert pool.take(Trial(1, {"a": 1}, resource=9)) == (None, {})
    assert pool.take(Trial(2, {"a": 1}, resource=3)) == (None, {})
    assert pool.take(Trial(3, {"a": 2}, resource=27)) == (None, {})
    assert pool.take(Trial(4, {"a": 1}, resource=None)) == (None, {})
    assert len(pool) == 1


def test_candidates_that_may_no_longer_continue_are_dropped_at_every_tell():
    pool = _pool()
    alive = {1, 2}
    for i in (1, 2):
        pool.hold(Trial(i, {"a": i}, resource=3), {0: f"f{i}"}, lambda t: t.params["a"] in alive)
    pool.hold(Trial(3, {"a": 3}, resource=3), {0: "f3"}, lambda t: t.params["a"] in alive)
    assert len(pool) == 2  # 3 was never held
    alive.discard(1)
    pool.hold(Trial(4, {"a": 4}, resource=3), {}, lambda t: t.params["a"] in alive)
    assert len(pool) == 1 and pool.take(Trial(9, {"a": 2}, resource=9))[1] == {0: "f2"}


def test_estimators_as_parameter_values_find_their_held_fits():
    pool = _pool()
    pool.hold(Trial(0, {"model": Ridge(alpha=2.0)}, resource=3), {0: "f"}, lambda t: True)
    assert pool.take(Trial(1, {"model": Ridge(alpha=1.0)}, resource=9)) == (None, {})
    assert pool.take(Trial(2, {"model": Ridge(alpha=2.0)}, resource=9))[1] == {0: "f"}

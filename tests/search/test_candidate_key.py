"""One candidate key for the runner, the strategies and the journal, stable through a resume."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from daskcloud.search._keys import candidate_key, unit_key
from daskcloud.search.journal import FitRecord, Journal


def _through_the_journal(params):
    with Journal() as journal:
        journal.append([FitRecord(key="k", search="s", params=params, fold=0, status="ok")])
        return journal.read()[0].params


def test_the_key_is_the_same_before_and_after_the_journal():
    params = {
        "model": Ridge(alpha=0.5),
        "scale": StandardScaler(with_mean=False),
        "sizes": (64, 32),
        "alpha": np.float64(1e-3),
        "n": np.int64(3),
        "name": "x",
        "none": None,
    }
    back = _through_the_journal(params)
    assert back["sizes"] == [64, 32] and back["n"] == 3
    assert candidate_key(back) == candidate_key(params)


def test_estimators_count_by_their_parameters_not_their_identity():
    assert candidate_key({"m": Ridge(alpha=1.0)}) == candidate_key({"m": Ridge(alpha=1.0)})
    assert candidate_key({"m": Ridge(alpha=1.0)}) != candidate_key({"m": Ridge(alpha=2.0)})
    assert candidate_key({"a": 1, "b": 2}) == candidate_key({"b": 2, "a": 1})
    assert candidate_key({"a": (1, 2)}) == candidate_key({"a": [1, 2]})


def test_an_unpicklable_value_counts_by_its_repr():
    square = lambda x: x * x  # noqa: E731 - a lambda cannot be pickled, hence not hashed

    assert candidate_key({"f": square}) == candidate_key({"f": square})
    assert candidate_key({"f": square}) != candidate_key({"f": abs})


def test_fit_keys_follow_the_candidate_key():
    a = unit_key("s", {"m": Ridge(alpha=1.0)}, "fold0", None)
    assert a == unit_key("s", _through_the_journal({"m": Ridge(alpha=1.0)}), "fold0", None)
    assert a != unit_key("s", {"m": Ridge(alpha=1.0)}, "fold1", None)
    assert a != unit_key("s", {"m": Ridge(alpha=1.0)}, "fold0", 10)

"""The space definition: parsing, sampling, grid size, Optuna conversion."""

from __future__ import annotations

import numpy as np
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sklearn.model_selection import ParameterGrid, ParameterSampler

from daskcloud.exceptions import ConfigError
from daskcloud.search.space import (
    Distribution,
    from_optuna_params,
    grid_size,
    has_distributions,
    parse_distribution,
    resolve_space,
    to_optuna_distributions,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("loguniform(1e-5, 1e-1)", Distribution("loguniform", 1e-5, 0.1)),
        ("uniform(0, 1)", Distribution("uniform", 0, 1)),
        (" uniform ( -2.5 , 3 ) ", Distribution("uniform", -2.5, 3)),
        ("randint(1, 10)", Distribution("randint", 1, 10)),
        ("choice(['relu', 'tanh'])", ["relu", "tanh"]),
        ("choice([[64], [64, 32]])", [[64], [64, 32]]),
    ],
)
def test_parse_accepted_forms(text, expected):
    assert parse_distribution(text, key="k") == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("loguniform(1e-5)", "two numbers"),
        ("loguniform(0, 1)", "0 < low"),
        ("uniform(1, 0)", "low must be below high"),
        ("randint(1.5, 10)", "integer bounds"),
        ("normal(0, 1)", "unknown distribution 'normal'"),
        ("uniform(a, b)", "not plain numbers"),
        ("uniform(__import__('os').system('true'), 1)", "not plain numbers"),
        ("uniform(True, 2)", "two numbers"),
        ("uniform(0, inf)", "not plain numbers"),
        ("choice()", "one non-empty list"),
        ("choice([])", "one non-empty list"),
        ("relu", "not a distribution"),
    ],
)
def test_malformed_names_key_and_accepted_forms(text, why):
    with pytest.raises(ConfigError) as info:
        parse_distribution(text, key="mlp__alpha")
    message = str(info.value)
    assert message.startswith("space.mlp__alpha: ")
    assert why in message
    assert "loguniform(low, high)" in message
    assert "\n" not in message


def test_uniform_means_low_high_not_loc_scale():
    draws = Distribution("uniform", 2, 3).rvs(size=2000, random_state=0)
    assert draws.min() >= 2 and draws.max() <= 3
    assert draws.mean() == pytest.approx(2.5, abs=0.05)


def test_randint_includes_high():
    draws = Distribution("randint", 1, 3).rvs(size=500, random_state=0)
    assert set(np.unique(draws)) == {1, 2, 3}


def test_loguniform_is_log_spread():
    draws = Distribution("loguniform", 1e-4, 1.0).rvs(size=4000, random_state=0)
    assert draws.min() >= 1e-4 and draws.max() <= 1.0
    # a quarter of the mass per decade
    assert np.mean(draws < 1e-3) == pytest.approx(0.25, abs=0.03)


def test_resolve_space_flattens_dotted_keys_and_lists():
    space = resolve_space({"mlp": {"alpha": [1, 2]}, "scale": ("a", "b"), "lr": "uniform(0, 1)"})
    assert space == {
        "mlp__alpha": [1, 2],
        "scale": ["a", "b"],
        "lr": Distribution("uniform", 0, 1),
    }
    assert has_distributions(space) == ["lr"]


@pytest.mark.parametrize("value", [3, "relu", [], None])
def test_resolve_space_rejects_bare_values(value):
    with pytest.raises(ConfigError, match=r"^space\.p: "):
        resolve_space({"p": value})


def test_resolve_space_rejects_empty():
    with pytest.raises(ConfigError, match="empty"):
        resolve_space({})


def test_parameter_sampler_uses_distributions_reproducibly():
    space = resolve_space({"a": "loguniform(1e-3, 1)", "b": "randint(1, 5)", "c": ["x", "y"]})
    first = list(ParameterSampler(space, n_iter=20, random_state=7))
    again = list(ParameterSampler(space, n_iter=20, random_state=7))
    assert first == again
    assert all(1e-3 <= p["a"] <= 1 and 1 <= p["b"] <= 5 and p["c"] in "xy" for p in first)


def test_grid_size_and_grid_rejects_distributions():
    space = resolve_space([{"a": [1, 2, 3], "b": [0, 1]}, {"a": [9]}])
    assert grid_size(space) == len(ParameterGrid(space)) == 7
    with pytest.raises(ConfigError, match=r"space\.b is a distribution.*strategy 'random'"):
        grid_size(resolve_space({"a": [1], "b": "uniform(0, 1)"}))


def test_repr_is_stable_for_journal_keys():
    assert repr(resolve_space({"a": "loguniform(1e-5, 1e-1)"})) == "{'a': loguniform(1e-05, 0.1)}"


def test_to_optuna_distributions():
    space = {
        "alpha": "loguniform(1e-5, 1e-1)",
        "frac": "uniform(0, 1)",
        "n": "randint(1, 10)",
        "act": ["relu", "tanh"],
        "layers": [[64], [64, 32]],
    }
    dists = to_optuna_distributions(space)
    assert dists["alpha"] == FloatDistribution(1e-5, 0.1, log=True)
    assert dists["frac"] == FloatDistribution(0.0, 1.0)
    assert dists["n"] == IntDistribution(1, 10)
    assert dists["act"] == CategoricalDistribution(["relu", "tanh"])
    assert dists["layers"] == CategoricalDistribution(["[64]", "[64, 32]"])
    decoded = from_optuna_params(space, {"layers": "[64, 32]", "act": "tanh", "n": 3})
    assert decoded == {"layers": [64, 32], "act": "tanh", "n": 3}


def test_to_optuna_rejects_union_of_subspaces():
    with pytest.raises(ConfigError, match="single table"):
        to_optuna_distributions([{"a": [1]}, {"a": [2]}])

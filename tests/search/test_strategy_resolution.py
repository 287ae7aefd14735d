"""The strategy is built once per search (issue 14), and a wrong strategy option is one
ConfigError line naming it and the valid ones, raised before any fit or cluster."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest
from _engine_estimators import CountingScaler, count_lines
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

from daskcloud.exceptions import ConfigError
from daskcloud.search import DaskSearchCV
from daskcloud.search.strategies import Halving, resolve_strategy

EXAMPLES = Path(__file__).parents[2] / "examples"
GRID = {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]}


def no_cluster():
    raise AssertionError("a cluster was opened")


@pytest.fixture
def built(monkeypatch):
    """The keyword arguments of every Halving built (OptunaStrategy is one too)."""
    calls = []
    original = Halving.__init__

    @functools.wraps(original)  # the signature stays: resolve_strategy reads it
    def counting(self, *args, **kwargs):
        calls.append(kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Halving, "__init__", counting)
    return calls


def test_a_fit_builds_its_strategy_once(dask_client, built):
    X, y = make_regression(n_samples=90, n_features=3, noise=1.0, random_state=0)
    search = DaskSearchCV(Ridge(), GRID, strategy="halving", strategy_options={"min_resource": 10},
                          cv=3, refit=False, client=dask_client, progress=False,
                          random_state=0)  # fmt: skip
    search.fit(X, y)
    assert len(built) == 1 and built[0]["min_resource"] == 10
    assert search.search_stats_["n_candidates"] > len(GRID["alpha"])  # promotions ran


def test_tune_builds_its_strategy_once(dask_client, built, tmp_path):
    """The spec's check builds the strategy; the search uses that instance."""
    from daskcloud.jobs._tune import run_tune

    shutil.copy(EXAMPLES / "diabetes.csv", tmp_path / "diabetes.csv")
    spec = tmp_path / "halving.toml"
    spec.write_text(
        'estimator = "sklearn.linear_model:Ridge"\nseed = 0\n'
        '[data]\npath = "diabetes.csv"\ntarget = "target"\n'
        "[space]\nalpha = [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]\n"
        '[cv]\nname = "kfold"\nn_splits = 3\n'
        '[strategy]\nname = "halving"\nmin_resource = 30\n'
    )
    result = run_tune(spec, scheduler=dask_client.scheduler.address, out=tmp_path / "run",
                      progress=False)  # fmt: skip
    assert len(built) == 1 and built[0]["min_resource"] == 30
    assert result.search.search_stats_["n_candidates"] > 6


def test_a_wrong_option_is_one_config_error_before_any_fit(tmp_path):
    fits = str(tmp_path / "fits.txt")
    pipe = Pipeline([("scale", CountingScaler(path=fits)), ("ridge", Ridge())])
    search = DaskSearchCV(pipe, {"ridge__alpha": [0.1, 1.0]}, strategy="halving",
                          strategy_options={"min_resources": 10}, cv=3, client=no_cluster,
                          progress=False)  # fmt: skip
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    with pytest.raises(ConfigError) as caught:
        search.fit(X, y)
    assert str(caught.value) == (
        "unknown option 'min_resources' for strategy 'halving' (did you mean min_resource?); "
        "its options are resource, min_resource, max_resource, eta"
    )
    assert count_lines(fits) == 0  # not even the dry fit ran


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("grid", {"eta": 3}, "unknown option 'eta' for strategy 'grid'; it takes no options"),
        ("random", {"n_candidates": 3}, "(n_candidates is a parameter of the search itself, "),
        ("tpe", {"sampler_option": {}}, "(did you mean sampler_options?); its options are "
         "sampler, sampler_options, resource, min_resource, max_resource, eta, storage, "
         "study_name"),
        ("halving", {"rungs": 3}, "for strategy 'halving'; its options are resource, "),
    ],
)  # fmt: skip
def test_option_errors_name_the_option_and_the_valid_ones(name, options, message):
    with pytest.raises(ConfigError) as caught:
        resolve_strategy(name, {"alpha": [0.1, 1.0]}, options=options)
    text = str(caught.value)
    assert message in text and "\n" not in text
    assert f"unknown option {next(iter(options))!r}" in text


def test_a_named_sampler_strategy_takes_a_sampler_object():
    """As docs/adaptive.md says: any Optuna sampler through strategy_options={"sampler": ...}."""
    import optuna

    sampler = optuna.samplers.RandomSampler(seed=0)
    strategy = resolve_strategy("tpe", {"x": "uniform(0, 1)"}, options={"sampler": sampler})
    assert strategy.study.sampler is sampler


def test_options_as_keywords_and_as_a_mapping_agree():
    by_keyword = resolve_strategy("halving", GRID, eta=2, min_resource=5)
    by_mapping = resolve_strategy("halving", GRID, options={"eta": 2, "min_resource": 5})
    assert (by_keyword.eta, by_keyword.min_resource) == (by_mapping.eta, by_mapping.min_resource)

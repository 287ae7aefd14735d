"""The Rossmann main job's search plan and holdout table: pure, no cluster."""

from __future__ import annotations

import pytest
from sklearn.model_selection import ParameterGrid

from daskcloud.exceptions import ConfigError
from daskcloud.jobs._rossmann_plan import QUICK_SPACE, plan_search
from daskcloud.rossmann.holdout import MODEL_LABELS, holdout_scores, holdout_table


def test_default_plan_is_halving_over_at_least_72_candidates_in_five_rungs():
    plan = plan_search()
    assert plan.options.strategy == "halving"
    assert len(ParameterGrid(dict(plan.space))) >= 72
    options = plan.strategy_options(n_train=37_227)
    assert options == {"resource": "n_samples", "eta": 3, "min_resource": 459}
    assert 37_227 / options["min_resource"] >= 3**4  # five rungs: 1/81 of a fold up to all


def test_grid_is_one_flag_away_and_quick_is_two_candidates():
    grid = plan_search(strategy="grid")
    assert grid.space == plan_search().space and grid.strategy_options(1000) is None
    quick = plan_search(quick=True)
    assert quick.space == QUICK_SPACE and quick.n_splits == 2
    assert "min_resource" not in quick.strategy_options(1000)  # 2 candidates: one rung
    assert plan_search(strategy="tpe").options.n_candidates == 24


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "anneal"}, "unknown strategy 'anneal'; use one of halving, grid"),
        ({"model": "xgboost"}, "unknown model 'xgboost'; use one of mlp, embedding"),
        ({"budget": {"max_time": "soon"}}, "max_time 'soon' is not a duration"),
    ],
)
def test_bad_options_fail_before_anything_runs(options, message):
    with pytest.raises(ConfigError, match=message):
        plan_search(**options)


def test_holdout_scores_and_table():
    y = [100.0, 200.0, 0.0]
    scores = holdout_scores(y, {"baseline": [110.0, 180.0, 5.0], "tuned": [100.0, 210.0, 0.0]},
                            oracle=[100.0, 200.0, 0.0])  # fmt: skip
    assert list(scores) == ["baseline", "tuned", "oracle"]
    assert scores["baseline"] == pytest.approx(0.1) and scores["oracle"] == 0.0
    table = holdout_table({"baseline": 0.14, "default": 0.0937, "oracle": 0.0861}, "Holdout")
    labels = list(table.columns[0].cells)
    assert labels == [MODEL_LABELS["baseline"], MODEL_LABELS["default"], MODEL_LABELS["oracle"]]
    assert list(table.columns[2].cells) == ["1.63", "1.09", "1.00"]

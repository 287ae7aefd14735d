"""The Rossmann main job's search plan and holdout table: pure, no cluster."""

from __future__ import annotations

import pytest
from sklearn.model_selection import ParameterGrid

from daskcloud.exceptions import ConfigError
from daskcloud.jobs._rossmann_plan import QUICK_SPACE, plan_search
from daskcloud.rossmann.holdout import MODEL_LABELS, holdout_scores, holdout_table
from daskcloud.rossmann.model import make_pipeline


def test_default_plan_is_halving_over_epochs_of_at_least_72_candidates():
    plan = plan_search()
    assert plan.options.strategy == "halving"
    candidates = list(ParameterGrid(dict(plan.space)))
    assert len(candidates) >= 72
    # the default model's parameters are a candidate: halving can pick them at full resource
    default = make_pipeline().get_params()
    assert {k: default[k] for k in plan.space} in candidates
    options = plan.strategy_options(n_train=37_227)
    assert options == {"resource": "mlp__max_iter", "min_resource": 1, "max_resource": 9,
                       "eta": 3}  # fmt: skip
    assert "mlp__max_iter" not in plan.space  # the resource, which halving sets per rung


def test_grid_is_one_flag_away_and_quick_is_two_candidates():
    grid = plan_search(strategy="grid")
    assert grid.space == plan_search().space and grid.strategy_options(1000) is None
    quick = plan_search(quick=True)
    assert quick.space == QUICK_SPACE and quick.n_splits == 2
    assert "min_resource" not in quick.strategy_options(1000)  # 2 candidates: one rung
    assert plan_search(strategy="tpe").options.n_candidates == 24


def test_embedding_halving_keeps_training_rows_as_the_resource():
    pytest.importorskip("skorch", reason="the torch extra is not installed")
    options = plan_search(model="embedding").strategy_options(n_train=37_227)
    assert options == {"resource": "n_samples", "eta": 3, "min_resource": 459}


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

"""The tune spec: every bad spec is one line and exit code 2, before any cluster starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from daskcloud.cli import main
from daskcloud.exceptions import ConfigError, DataError
from daskcloud.rossmann.splits import TimeSeriesFolds
from daskcloud.search._budget import Budget
from daskcloud.search.space import Distribution
from daskcloud.search.spec import check_spec, load_spec
from daskcloud.search.strategies import Halving, RandomStrategy

EXAMPLES = Path(__file__).parents[2] / "examples"

GOOD = """\
estimator = "sklearn.linear_model:Ridge"
strategy = "random"
n_candidates = 3
[data]
path = "data.csv"
target = "y"
[space]
alpha = "loguniform(1e-3, 1e2)"
"""


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    (tmp_path / "data.csv").write_text("a,b,y\n1,2,3\n4,5,6\n7,8,9\n")
    return tmp_path


def write(spec_dir: Path, text: str) -> Path:
    path = spec_dir / "spec.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_good_spec_builds_a_job(spec_dir):
    job = check_spec(load_spec(write(spec_dir, GOOD)), where="spec.toml")
    assert job.name == "spec"
    assert job.space == {"alpha": Distribution("loguniform", 1e-3, 100.0)}
    assert job.spec.data.path == spec_dir / "data.csv"  # relative to the spec file
    assert job.cv.get_n_splits() == 5
    assert isinstance(job.strategy, RandomStrategy) and job.spec.n_candidates == 3
    assert job.spec.fit_timeout is None


@pytest.mark.parametrize(("value", "seconds"), [('"10m"', 600.0), ("90", 90.0), ("0.5", 0.5)])
def test_fit_timeout_is_seconds_or_a_duration(spec_dir, value, seconds):
    job = check_spec(load_spec(write(spec_dir, f"fit_timeout = {value}\n" + GOOD)))
    assert job.spec.fit_timeout == seconds


def test_examples_are_valid():
    for name in ("ridge.toml", "rossmann.toml"):
        path = EXAMPLES / name
        job = check_spec(load_spec(path), where=path)
        assert job.name in ("ridge", "rossmann-tune")


def test_table_forms_and_passthrough_options(spec_dir):
    text = """\
    n_candidates = 3
    [estimator]
    factory = "sklearn.linear_model:Ridge"
    kwargs = {fit_intercept = false}
    [strategy]
    name = "random"
    [data]
    path = "data.csv"
    target = "y"
    [space]
    alpha = "loguniform(1e-3, 1e2)"
    [cv]
    name = "rossmann"
    n_splits = 2
    weeks = 4
    """
    job = check_spec(load_spec(write(spec_dir, text)))
    assert job.estimator.get_params()["fit_intercept"] is False
    assert isinstance(job.cv, TimeSeriesFolds) and job.cv.weeks == 4
    assert isinstance(job.strategy, RandomStrategy) and job.strategy_options == {}


def test_strategy_table_passes_options_through(spec_dir):
    text = GOOD.replace('strategy = "random"\n', "") + '[strategy]\nname = "random"\nbogus = 1\n'
    with pytest.raises(ConfigError) as caught:
        check_spec(load_spec(write(spec_dir, text)), where="spec.toml")
    assert str(caught.value) == (
        "spec.toml: strategy: unknown option 'bogus' for strategy 'random'; it takes no options"
    )
    text = GOOD.replace('strategy = "random"\n', "") + '[strategy]\nname = "halving"\neta = 2\n'
    job = check_spec(load_spec(write(spec_dir, text)))
    assert isinstance(job.strategy, Halving) and job.strategy.eta == 2  # built once, here


def test_multimetric_scoring_and_refit(spec_dir):
    extra = 'n_candidates = 3\nscoring = ["r2", "rmspe"]\nrefit = "r2"'
    text = GOOD.replace("n_candidates = 3", extra)
    job = check_spec(load_spec(write(spec_dir, text)))
    assert list(job.scoring) == ["r2", "rmspe"] and job.refit == "r2"


# (spec text transform, error class, expected fragment of the one-line message)
BAD = {
    "unknown parameter": (
        lambda t: t.replace("alpha =", "alpah ="),
        ConfigError,
        "space.alpah: unknown parameter for Ridge; did you mean alpha?",
    ),
    "malformed distribution": (
        lambda t: t.replace('"loguniform(1e-3, 1e2)"', '"loguniform(1e-3)"'),
        ConfigError,
        "space.alpha: loguniform takes two numbers (low, high)",
    ),
    "unknown distribution": (
        lambda t: t.replace("loguniform(", "lognormal("),
        ConfigError,
        "unknown distribution 'lognormal'",
    ),
    "bare value in space": (
        lambda t: t.replace('"loguniform(1e-3, 1e2)"', "0.5"),
        ConfigError,
        "space.alpha: got 0.5",
    ),
    "missing data file": (
        lambda t: t.replace("data.csv", "nope.csv"),
        DataError,
        "data.path: file",
    ),
    "missing target column": (
        lambda t: t.replace('target = "y"', 'target = "sales"'),
        DataError,
        "data.target: column 'sales' is not in data.csv",
    ),
    "wrong type": (
        lambda t: t.replace("n_candidates = 3", 'n_candidates = "three"'),
        ConfigError,
        "n_candidates: Input should be a valid integer",
    ),
    "negative count": (
        lambda t: t.replace("n_candidates = 3", "n_candidates = 0"),
        ConfigError,
        "n_candidates: Input should be greater than or equal to 1",
    ),
    "unknown key": (
        lambda t: t.replace("n_candidates = 3", "n_candidate = 3"),
        ConfigError,
        "n_candidate: Extra inputs are not permitted",
    ),
    "cv too small": (
        lambda t: t.replace("n_candidates = 3", "n_candidates = 3\ncv = 1"),
        ConfigError,
        "cv = 1: need at least 2 folds",
    ),
    "unknown splitter": (
        lambda t: t + '[cv]\nname = "kfolds"\n',
        ConfigError,
        "cv.name: unknown splitter 'kfolds'",
    ),
    "bad splitter option": (
        lambda t: t + '[cv]\nname = "kfold"\nn_split = 3\n',
        ConfigError,
        "cv: kfold rejected the options {'n_split': 3}",
    ),
    "unknown scorer": (
        lambda t: t.replace(
            "n_candidates = 3", 'n_candidates = 3\nscoring = "neg_mean_squared_eror"'
        ),
        ConfigError,
        "scoring: unknown scorer 'neg_mean_squared_eror'; did you mean neg_mean_squared_error",
    ),
    "grid over a distribution": (
        lambda t: t.replace('strategy = "random"', 'strategy = "grid"'),
        ConfigError,
        "space.alpha is a distribution, which a grid cannot enumerate",
    ),
    "unknown strategy": (
        lambda t: t.replace('strategy = "random"', 'strategy = "anneal"'),
        ConfigError,
        "unknown strategy 'anneal'",
    ),
    "missing module": (
        lambda t: t.replace("sklearn.linear_model:Ridge", "sklearn.linear_modle:Ridge"),
        ConfigError,
        "estimator.factory: cannot import module 'sklearn.linear_modle'",
    ),
    "malformed factory": (
        lambda t: t.replace("sklearn.linear_model:Ridge", "Ridge"),
        ConfigError,
        "estimator.factory: String should match pattern",
    ),
    "no data source": (
        lambda t: t.replace('path = "data.csv"\n', ""),
        ConfigError,
        "data: give either path (with target) or rossmann",
    ),
    "invalid TOML": (
        lambda t: t.replace("n_candidates = 3", "n_candidates = "),
        ConfigError,
        "not valid TOML",
    ),
    "unknown budget key": (
        lambda t: t + "[budget]\nmax_trails = 3\n",
        ConfigError,
        "budget: unknown budget key 'max_trails'",
    ),
    "bad budget value": (
        lambda t: t + "[budget]\nmax_trials = 0\n",
        ConfigError,
        "budget: max_trials must be a positive integer, got 0",
    ),
    "bad fit_timeout": (
        lambda t: 'fit_timeout = "soon"\n' + t,
        ConfigError,
        "fit_timeout: fit_timeout 'soon' is not a duration",
    ),
    "zero fit_timeout": (
        lambda t: "fit_timeout = 0\n" + t,
        ConfigError,
        "fit_timeout=0 must be a positive number of seconds",
    ),
    "bad budget duration": (
        lambda t: t + '[budget]\nmax_time = "ten minutes"\n',
        ConfigError,
        "max_time 'ten minutes' is not a duration",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_spec_library_error(spec_dir, case):
    change, error, fragment = BAD[case]
    path = write(spec_dir, change(GOOD))
    with pytest.raises(error) as info:
        check_spec(load_spec(path), where=path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("case", list(BAD))
def test_bad_spec_cli_one_line_exit_2(spec_dir, case, capsys):
    change, _, fragment = BAD[case]
    path = write(spec_dir, change(GOOD))
    code = main(["tune", str(path), "--out", str(spec_dir / "run"), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    err = " ".join(captured.err.split())  # rich may wrap; compare the words
    assert err.startswith("error: ") and " ".join(fragment.split()) in err
    assert "Traceback" not in captured.err
    assert not (spec_dir / "run").exists()  # nothing started, nothing written


def test_missing_spec_file(tmp_path, capsys):
    assert main(["tune", str(tmp_path / "absent.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bad_spec_subprocess(spec_dir):
    path = write(spec_dir, BAD["unknown parameter"][0](GOOD))
    proc = subprocess.run(
        [sys.executable, "-m", "daskcloud.cli", "tune", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=spec_dir,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "unknown parameter for Ridge; did you mean alpha?" in lines[0]
    assert not (spec_dir / "runs").exists()


def test_budget_table_is_resolved_on_the_job(spec_dir):
    budget = 'max_trials = 3\nmax_time = "10m"\nmax_cost = 2.5\nprice_per_hour = 1.0\n'
    text = GOOD + "[budget]\n" + budget
    job = check_spec(load_spec(write(spec_dir, text)), where="spec.toml")
    assert job.budget == Budget(max_trials=3, max_time=600.0, max_cost=2.5, price_per_hour=1.0)
    unlimited = check_spec(load_spec(write(spec_dir, GOOD)), where="spec.toml")
    assert not unlimited.budget.limited


def test_public_names_stay_where_they_were():
    """spec.py was split (model, builders, I/O edge); its public names are still spec's."""
    import daskcloud.search.spec as spec

    assert set(spec.__all__) == {
        "CV_SPLITTERS", "CVSpec", "DataSpec", "EstimatorSpec", "RossmannDataSpec",
        "StrategySpec", "TuneJob", "TuneSpec", "check_spec", "load_spec",
    }  # fmt: skip
    assert all(hasattr(spec, name) for name in spec.__all__)

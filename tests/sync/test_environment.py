"""The pure half of daskcloud.sync: pins from the live environment, wheels, the shipping plan."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from daskcloud.cluster.kubernetes import ClusterSpec
from daskcloud.cluster.kubernetes._sync import build_sync_config_map
from daskcloud.exceptions import ConfigError
from daskcloud.sync import (
    SyncBundle,
    Wheel,
    find_needs,
    modules_of,
    pack_modules,
    pinned_closure,
    plan_shipping,
    repack_distribution,
    search_needs,
)


def test_the_closure_pins_every_requirement_at_its_installed_version() -> None:
    pins = {p.name: p.version for p in pinned_closure(["scikit-learn"])}
    for name in ("scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl"):
        assert pins[name] == md.version(name)
    assert "pandas" not in pins  # not a requirement of scikit-learn


def test_daskcloud_ships_without_its_client_side_requirements() -> None:
    needs = search_needs(make_pipeline(StandardScaler(), Ridge()), np.zeros((2, 2)))
    names = {p.name for p in needs.pins}
    assert {"daskcloud", "scikit-learn", "numpy", "dask", "distributed"} <= names
    assert not names & {"optuna", "plotly", "kr8s", "typer", "pydantic", "pandas"}


def test_modules_of_walks_estimators_data_and_functions() -> None:
    found = modules_of(make_pipeline(StandardScaler(), Ridge()), pd.DataFrame(), np.log)
    assert {"sklearn", "pandas", "numpy"} <= found


def test_a_loose_module_is_shipped_and_an_unknown_root_is_one_line(tmp_path, monkeypatch) -> None:
    (tmp_path / "loose_models.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    needs = find_needs(["loose_models"])
    assert needs.modules == {"loose_models": tmp_path / "loose_models.py"}
    assert needs.pins == ()
    with pytest.raises(ConfigError, match="neither an installed distribution nor an importable"):
        find_needs(["surely_not_a_module_here"])
    assert find_needs(["surely_not_a_module_here"], strict=False).modules == {}


def test_wheels_are_reproducible_pure_and_recorded(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("Y = 2\n")
    one, two = pack_modules({"m": tmp_path / "m.py"}), pack_modules({"m": tmp_path / "m.py"})
    assert one == two and "+" not in one.filename  # a ConfigMap key may not hold "+"
    with zipfile.ZipFile(BytesIO(one.data)) as archive:
        names = archive.namelist()
        record = archive.read(next(n for n in names if n.endswith("RECORD"))).decode()
        assert "m.py" in names
        digest = hashlib.sha256(archive.read("m.py")).digest()
    assert "m.py,sha256=" in record and len(digest) == 32
    wheel = repack_distribution("daskcloud")
    assert wheel.filename == f"daskcloud-{md.version('daskcloud')}-py3-none-any.whl"
    with zipfile.ZipFile(BytesIO(wheel.data)) as archive:
        assert "daskcloud/search/_fit.py" in archive.namelist()


def test_compiled_local_code_points_to_the_image(tmp_path: Path) -> None:
    package = tmp_path / "fastpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_core.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\0")
    with pytest.raises(ConfigError, match="daskcloud image build"):
        pack_modules({"fastpkg": package})


def _report(python="3.11", modules=None, **versions):
    return {"python": python, "versions": versions, "modules": modules or {}}


def test_the_plan_ships_pure_code_and_names_what_it_cannot() -> None:
    needs = find_needs(["scikit-learn", "daskcloud"], leaves=("daskcloud",))
    pins = {p.name: p.version for p in needs.pins}
    here = {name.replace("-", "_"): v for name, v in pins.items()}
    worker = {**here, "daskcloud": None, "numpy": "1.0.0", "scipy": None}
    reports = {
        "scheduler": _report(**{**here, "daskcloud": None, "scikit_learn": None}),
        "tcp://w:1": _report(**{**worker}),
    }
    reports = {w: {**r, "versions": {k.replace("_", "-"): v for k, v in r["versions"].items()}}
               for w, r in reports.items()}  # fmt: skip
    plan = plan_shipping(needs, reports, python="3.11")
    assert [p.name for p in plan.ship] == ["daskcloud"]  # local and pure: shipped everywhere
    assert f"numpy: {pins['numpy']} here, 1.0.0 on tcp://w:1" in plan.problems
    assert f"scipy: {pins['scipy']} here, not installed on tcp://w:1" in plan.problems
    assert not any(p.startswith("scikit-learn") for p in plan.problems)  # scheduler only
    # ... unless the parameter values hold its objects: the scheduler unpickles the graph
    graph = plan_shipping(needs, reports, python="3.11", in_graph={"scikit-learn", "daskcloud"})
    assert [p for p in graph.problems if p.startswith("scikit-learn")] == [
        f"scikit-learn: {pins['scikit-learn']} here, not installed on the scheduler, which "
        "unpickles the parameter values that hold its objects; install it there"
    ]
    assert not any(p.startswith("daskcloud") for p in graph.problems)  # shipped to it
    assert f"scikit-learn=={pins['scikit-learn']}" in graph.install  # PipInstall reaches it
    assert f"numpy=={pins['numpy']}" in plan.install
    other = plan_shipping(needs, {"tcp://w:1": _report(python="3.12", **pins)}, python="3.11")
    assert other.problems[0].startswith("python: 3.11 here, 3.12 on tcp://w:1")


def test_a_bundle_over_the_object_limit_points_to_the_image() -> None:
    big = Wheel("big-1.0-py3-none-any.whl", b"\0" * (900 * 1024))
    bundle = SyncBundle(requirements=(), driver_requirements=(), wheels=(big,))
    with pytest.raises(ConfigError, match=r"over the 1 MiB limit.*daskcloud image build"):
        build_sync_config_map(ClusterSpec(name="big"), bundle)


def test_a_notebook_bundle_adds_the_clients_jupyterlab_to_the_drivers_pins(monkeypatch) -> None:
    from daskcloud.sync import _bundle, cluster_bundle

    plain = cluster_bundle()
    assert plain.notebook_requirements == ()
    bundle = cluster_bundle(notebook=True)
    pins = dict(r.split("==") for r in bundle.notebook_requirements)
    for name in ("jupyterlab", "ipykernel", "jupyter-server", "tornado", "pyzmq"):
        assert pins[name] == md.version(name), name
    assert set(bundle.driver_requirements) <= set(bundle.notebook_requirements)
    assert bundle.requirements == plain.requirements  # the workers' pods get no JupyterLab
    config_map = build_sync_config_map(ClusterSpec(name="nb", jupyter=True), bundle)
    assert config_map["data"]["requirements-notebook.txt"].split() == list(
        bundle.notebook_requirements
    )
    # a client without JupyterLab: one line with the install command, before anything else
    monkeypatch.setattr(_bundle, "NOTEBOOK_DISTRIBUTIONS", ("jupyterlab", "no-such-dist-here"))
    with pytest.raises(ConfigError, match=r"no-such-dist-here.*install 'daskcloud\[notebook\]'"):
        cluster_bundle(notebook=True)

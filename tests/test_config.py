"""daskcloud's settings through dask config: packaged defaults, YAML files, env vars, aliases."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dask
import pytest

from daskcloud import config as cfg
from daskcloud.cli import main


@pytest.fixture
def clean_env(monkeypatch):
    """No daskcloud variable from the outer environment leaks into a test."""
    for name in list(os.environ):
        if name.startswith(("DASKCLOUD_", "DASK_DASKCLOUD")):
            monkeypatch.delenv(name)
    yield monkeypatch
    dask.config.refresh()


def test_packaged_defaults_are_registered(clean_env):
    assert dask.config.get("daskcloud.cluster.idle-timeout") == "20m"
    assert cfg.get("cluster.max-lifetime") == "8h"
    assert cfg.get("packages.extra-index-urls") == []
    assert {s.source for s in cfg.settings(paths=[])} == {"default"}


def test_yaml_file_then_env_var_then_set(clean_env, tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "daskcloud:\n  cluster:\n    idle-timeout: 45m\n    max-lifetime: 2h\n"
    )
    clean_env.setenv("DASK_DASKCLOUD__CLUSTER__MAX_LIFETIME", "3h")
    dask.config.refresh(paths=[str(tmp_path)])
    by_key = {s.key: s for s in cfg.settings(paths=[str(tmp_path)])}
    assert by_key["cluster.idle-timeout"].value == "45m"
    assert by_key["cluster.idle-timeout"].source == str(tmp_path / "mine.yaml")
    assert by_key["cluster.max-lifetime"].value == "3h"  # the variable wins over the file
    assert by_key["cluster.max-lifetime"].source == "$DASK_DASKCLOUD__CLUSTER__MAX_LIFETIME"
    with dask.config.set({"daskcloud.cluster.idle-timeout": "5m"}):
        setting = {s.key: s for s in cfg.settings(paths=[str(tmp_path)])}["cluster.idle-timeout"]
        assert (setting.value, setting.source) == ("5m", "dask.config.set")


def test_legacy_variables_are_aliases_that_win(clean_env, tmp_path):
    clean_env.setenv("DASK_DASKCLOUD__HOME", str(tmp_path / "dask-home"))
    clean_env.setenv("DASKCLOUD_HOME", str(tmp_path / "legacy-home"))
    clean_env.setenv("DASKCLOUD_PORT_FORWARD", "yes")
    dask.config.refresh()
    assert cfg.home_dir() == tmp_path / "legacy-home"
    assert cfg.get("cluster.port-forward") is True
    sources = {s.key: s.source for s in cfg.settings(paths=[])}
    assert sources["home"] == "$DASKCLOUD_HOME"
    clean_env.delenv("DASKCLOUD_HOME")
    assert cfg.home_dir() == tmp_path / "dask-home"


def test_settings_feed_the_code_that_uses_them(clean_env, tmp_path):
    from daskcloud.cluster.kubernetes._spec import ClusterSpec
    from daskcloud.cluster.kubernetes._tls import state_home
    from daskcloud.rossmann.job import default_cache_dir

    with dask.config.set(
        {
            "daskcloud.home": str(tmp_path / "state"),
            "daskcloud.cache": str(tmp_path / "cache"),
            "daskcloud.cluster.image": "registry.example/daskcloud:1.2.3",
        }
    ):
        assert state_home() == tmp_path / "state"
        assert default_cache_dir() == tmp_path / "cache"
        assert ClusterSpec(name="hpo", namespace="dask").image == "registry.example/daskcloud:1.2.3"


def test_unknown_key_names_the_known_ones():
    with pytest.raises(
        cfg.ConfigError, match=r"unknown daskcloud setting 'cluster.idle'.*idle-timeout"
    ):
        cfg.get("cluster.idle")


def test_cli_config_reads_a_yaml_file_and_a_variable(tmp_path):
    """End to end in a fresh process: dask reads $DASK_CONFIG and DASK_* at import."""
    (tmp_path / "daskcloud.yaml").write_text("daskcloud:\n  cluster:\n    namespace: team-a\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASKCLOUD_", "DASK_"))}
    env |= {"DASK_CONFIG": str(tmp_path), "DASK_DASKCLOUD__CLUSTER__PRICE_PER_HOUR": "0.67"}
    out = subprocess.run(
        [sys.executable, "-m", "daskcloud.cli", "config", "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    got = json.loads(out.stdout)
    assert got["cluster.namespace"] == {
        "value": "team-a",
        "source": str(tmp_path / "daskcloud.yaml"),
    }
    assert got["cluster.price-per-hour"] == {
        "value": 0.67,
        "source": "$DASK_DASKCLOUD__CLUSTER__PRICE_PER_HOUR",
    }
    assert got["cluster.idle-timeout"] == {"value": "20m", "source": "default"}


def test_cli_config_write_copies_the_template_commented(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dask.config, "PATH", str(tmp_path))
    assert main(["config", "--write"]) == 0
    text = (tmp_path / "daskcloud.yaml").read_text()
    assert "# daskcloud:" in text and "idle-timeout" in text
    assert "daskcloud.yaml" in capsys.readouterr().out

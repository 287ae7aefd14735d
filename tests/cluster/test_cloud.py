"""Cloud plans: the exact commands per provider, the cost arithmetic, bad input, and --execute."""

from __future__ import annotations

import os
import stat
import tomllib
from importlib import resources

import pytest

from daskcloud.cli import main
from daskcloud.cluster.cloud import (
    PROVIDERS,
    estimate_cost,
    execute_commands,
    load_prices,
    plan_cluster,
)
from daskcloud.exceptions import ClusterError, ConfigError


def test_aws_plan_is_the_exact_eksctl_commands():
    plan = plan_cluster("aws", nodes=3, instance="m5.xlarge", region="eu-west-1", name="hpo")
    assert plan.create == (
        (
            "eksctl", "create", "cluster", "--name", "hpo", "--region", "eu-west-1",
            "--nodegroup-name", "dask", "--nodes", "3", "--nodes-min", "3", "--nodes-max", "3",
            "--node-type", "m5.xlarge", "--tags", "daskcloud=true", "--with-oidc",
        ),
    )  # fmt: skip
    assert plan.delete == (
        ("eksctl", "delete", "cluster", "--name", "hpo", "--region", "eu-west-1", "--wait"),
    )


def test_aws_spot_uses_a_managed_spot_nodegroup():
    plan = plan_cluster("aws", nodes=2, instance="c5.xlarge", region="us-east-1", spot=True)
    cmd = plan.create[0]
    assert ("--managed" in cmd) and ("--spot" in cmd)
    assert cmd[cmd.index("--instance-types") + 1] == "c5.xlarge"
    assert "--node-type" not in cmd


def test_gcp_plan_is_zonal_so_the_node_count_is_exact():
    plan = plan_cluster("gcp", nodes=4, instance="e2-standard-4", region="europe-west1", spot=True)
    create, credentials = plan.create
    assert create[:5] == ("gcloud", "container", "clusters", "create", "daskcloud")
    assert create[create.index("--zone") + 1] == "europe-west1-b"
    assert create[create.index("--num-nodes") + 1] == "4"
    assert create[create.index("--machine-type") + 1] == "e2-standard-4"
    assert "--spot" in create and "--enable-dataplane-v2" in create
    assert "--region" not in create
    assert credentials[:4] == ("gcloud", "container", "clusters", "get-credentials")
    assert plan.delete == (
        ("gcloud", "container", "clusters", "delete", "daskcloud", "--zone", "europe-west1-b",
         "--quiet"),
    )  # fmt: skip


def test_azure_plan_creates_and_deletes_a_resource_group():
    plan = plan_cluster("azure", nodes=2, instance="Standard_D4s_v3", region="westeurope")
    names = [cmd[:3] for cmd in plan.create]
    assert names == [
        ("az", "group", "create"),
        ("az", "aks", "create"),
        ("az", "aks", "get-credentials"),
    ]
    aks = plan.create[1]
    assert aks[aks.index("--node-count") + 1] == "2"
    assert aks[aks.index("--node-vm-size") + 1] == "Standard_D4s_v3"
    assert aks[aks.index("--network-policy") + 1] == "azure"
    assert plan.delete == (("az", "group", "delete", "--name", "daskcloud-rg", "--yes"),)


def test_azure_spot_adds_a_tainted_spot_pool_beside_a_small_system_pool():
    plan = plan_cluster("azure", nodes=3, instance="Standard_D8s_v3", region="eastus", spot=True)
    aks, pool = plan.create[1], plan.create[2]
    assert aks[aks.index("--node-count") + 1] == "1"
    assert pool[:4] == ("az", "aks", "nodepool", "add")
    assert pool[pool.index("--priority") + 1] == "Spot"
    assert pool[pool.index("--node-count") + 1] == "3"
    assert any("toleration" in note for note in plan.notes)


def test_minikube_plan_sizes_the_nodes_from_the_instance():
    plan = plan_cluster("minikube", nodes=2, instance="medium", region="local", name="dev")
    assert plan.create == (
        ("minikube", "start", "--profile", "dev", "--nodes", "2", "--cpus", "4", "--memory",
         "8192m", "--cni", "calico"),
    )  # fmt: skip
    assert plan.delete == (("minikube", "delete", "--profile", "dev"),)
    assert plan.cost.per_hour == 0.0


def test_cost_arithmetic_on_demand_spot_region_and_fixed_parts():
    aws = load_prices("aws")
    base = estimate_cost(aws, "m5.xlarge", "us-east-1", 3)
    assert base.per_hour == pytest.approx(3 * 0.192 + 0.10)
    assert base.for_hours(8) == pytest.approx(8 * (3 * 0.192 + 0.10))
    eu = estimate_cost(aws, "m5.xlarge", "eu-central-1", 3)
    assert eu.node_per_hour == pytest.approx(0.192 * 1.2)
    spot = estimate_cost(aws, "m5.xlarge", "us-east-1", 3, spot=True)
    assert spot.node_per_hour == pytest.approx(0.192 * aws.spot_factor)
    azure = plan_cluster("azure", nodes=3, instance="Standard_D8s_v3", region="eastus", spot=True)
    assert azure.cost.per_hour == pytest.approx(3 * 0.384 * 0.30 + 0.096 + 0.10)


def test_price_table_states_its_date_and_source_and_is_complete():
    raw = tomllib.loads(
        resources.files("daskcloud.cluster.cloud").joinpath("prices.toml").read_text("utf-8")
    )
    assert raw["meta"]["date"] and raw["meta"]["source"]
    for provider in PROVIDERS:
        table = load_prices(provider)
        assert table.instances and table.regions
        assert all(
            t.cpu > 0 and t.memory_gib > 0 and t.price >= 0 for t in table.instances.values()
        )
    assert set(load_prices("gcp").extra["zones"]) == set(load_prices("gcp").regions)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"instance": "m5.huge"}, "unknown aws instance type 'm5.huge'; use one of: m5.large"),
        ({"region": "mars-1"}, "unknown aws region 'mars-1'; use one of: us-east-1"),
        ({"nodes": 0}, "--nodes must be at least 1, got 0"),
        ({"name": "Bad_Name"}, "is not a DNS label"),
    ],
)
def test_bad_input_is_a_config_error_that_lists_the_valid_values(kwargs, message):
    args = {"nodes": 2, "instance": "m5.large", "region": "us-east-1"} | kwargs
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("'", "'")):
        plan_cluster("aws", **args)
    with pytest.raises(ConfigError, match="unknown cloud provider 'ibm'; use one of: aws, gcp"):
        plan_cluster("ibm", **args)


def test_cli_prints_the_plan_and_exits_2_on_unknown_instance(capsys):
    code = main(["cloud", "plan", "gcp", "--nodes", "2", "--instance", "e2-standard-4",
                 "--region", "us-central1"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "gcloud container clusters create daskcloud --zone us-central1-a" in out
    assert "estimated cost: 0.368 USD/hour" in out
    assert "dated 2026-11-28" in out
    code = main(["cloud", "plan", "gcp", "--instance", "e2-mega", "--region", "us-central1"])
    assert code == 2
    assert "unknown gcp instance type 'e2-mega'" in capsys.readouterr().err


def _fake_tool(directory, name, body):
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_execute_streams_output_of_a_real_process_and_stops_at_failure(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "minikube", 'echo "minikube called with: $*"; [ "$1" != delete ]')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    plan = plan_cluster("minikube", nodes=1, instance="small", region="local")
    log = tmp_path / "out.txt"
    with log.open("w") as out:
        execute_commands(plan.create, out=out)
    text = log.read_text()
    assert "$ minikube start --profile daskcloud" in text
    assert "minikube called with: start --profile daskcloud --nodes 1" in text
    with log.open("w") as out, pytest.raises(ClusterError, match="failed with exit code 1"):
        execute_commands(plan.delete, out=out)


def test_execute_names_the_missing_tool_before_running_anything(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    plan = plan_cluster("aws", nodes=1, instance="m5.large", region="us-east-1")
    with pytest.raises(ClusterError, match="'eksctl' is not installed or not on PATH"):
        execute_commands(plan.create)
    assert main(["cloud", "plan", "aws", "--instance", "m5.large", "--region", "us-east-1",
                 "--execute"]) == 1  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "instance", "region"),
    [
        ("aws", "m5.xlarge", "us-east-1"),
        ("gcp", "e2-standard-4", "us-central1"),
        ("azure", "Standard_D4s_v3", "eastus"),
        ("minikube", "medium", "local"),
    ],
)
def test_plan_without_flags_uses_named_defaults(provider, instance, region, capsys):
    assert main(["cloud", "plan", provider]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        f"# defaults: --instance {instance}, --region {region} (override with these flags)"
    )
    assert f"2 x {instance} in {region}" in out
    size = load_prices(provider).instance(instance)
    assert (size.cpu, size.memory_gib) == (4, 16 if provider != "minikube" else 8)


def test_a_given_flag_is_not_listed_as_a_default():
    plan = plan_cluster("gcp", region="europe-west1")
    assert plan.defaults == ("--instance e2-standard-4",)
    assert plan_cluster("aws", instance="m5.large", region="us-east-2").defaults == ()
    assert (
        not plan_cluster("aws", instance="m5.large", region="us-east-2")
        .render()
        .startswith("# defaults")
    )

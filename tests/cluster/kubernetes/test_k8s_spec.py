"""ClusterSpec: validation messages (one line, the bad value, the fix) and derived values."""

from __future__ import annotations

import pytest

from daskcloud.cluster.kubernetes import ClusterSpec, Toleration, default_image
from daskcloud.exceptions import ConfigError


def test_derived_values() -> None:
    spec = ClusterSpec(name="hpo", namespace="dask", workers=4, cpu="2500m", memory="8Gi")
    assert spec.cpu == "2500m"
    assert spec.cpu_millicores == 2500
    assert spec.threads_per_worker == 2
    assert spec.memory_bytes == 8 * 2**30
    assert spec.scheduler_name == "hpo-scheduler"
    assert spec.workers_name == "hpo-workers"
    assert spec.secret_name == "hpo-tls"
    assert spec.scheduler_address == "tls://hpo-scheduler.dask.svc:8786"
    assert spec.idle_timeout_seconds == 20 * 60
    assert spec.max_lifetime_seconds == 8 * 3600


@pytest.mark.parametrize(
    ("cpu", "canonical", "threads"),
    [("1", "1", 1), (2, "2", 2), (0.5, "500m", 1), ("1.5", "1500m", 1), ("4000m", "4", 4)],
)
def test_cpu_quantities(cpu: object, canonical: str, threads: int) -> None:
    spec = ClusterSpec(name="a", cpu=cpu)
    assert (spec.cpu, spec.threads_per_worker) == (canonical, threads)


@pytest.mark.parametrize(
    ("memory", "nbytes"),
    [("4Gi", 4 * 2**30), ("512Mi", 512 * 2**20), ("2G", 2 * 10**9), ("1.5Gi", 3 * 2**29)],
)
def test_memory_quantities(memory: str, nbytes: int) -> None:
    assert ClusterSpec(name="a", memory=memory).memory_bytes == nbytes


@pytest.mark.parametrize(
    ("value", "seconds"), [("90s", 90), ("20m", 1200), ("8h", 28800), ("1h30m", 5400), (45, 45)]
)
def test_durations(value: object, seconds: int) -> None:
    assert ClusterSpec(name="a", idle_timeout=value).idle_timeout_seconds == seconds


def test_default_image_is_the_official_dask_image_at_the_client_versions() -> None:
    import sys
    from importlib.metadata import version

    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert (
        ClusterSpec(name="a").image
        == default_image()
        == f"ghcr.io/dask/dask:{version('distributed')}-py{python}"
    )
    assert not default_image().endswith(":latest")


def test_a_team_image_from_dask_config() -> None:
    import dask

    with dask.config.set({"daskcloud.cluster.image": "registry.example/team/hpo:7"}):
        assert ClusterSpec(name="a").image == default_image() == "registry.example/team/hpo:7"


def test_time_limits_and_price_default_to_dask_config(monkeypatch) -> None:
    import dask

    from daskcloud.cluster._spec import spec_options

    assert (ClusterSpec(name="a").idle_timeout, ClusterSpec(name="a").max_lifetime) == ("20m", "8h")
    assert ClusterSpec(name="a").price_per_hour is None
    settings = {
        "daskcloud.cluster.idle-timeout": "1h",
        "daskcloud.cluster.max-lifetime": "2d",
        "daskcloud.cluster.price-per-hour": 1.5,
    }
    with dask.config.set(settings):
        spec = ClusterSpec(name="a")
        assert (spec.idle_timeout, spec.max_lifetime, spec.price_per_hour) == ("1h", "2d", 1.5)
        assert ClusterSpec(name="a", idle_timeout="5m").idle_timeout == "5m"  # a flag wins
        shown = {o.field: o.default for o in spec_options(["idle_timeout", "max_lifetime"])}
        assert shown == {"idle_timeout": "1h", "max_lifetime": "2d"}  # --help's defaults
    # DASK_DASKCLOUD__* variables are dask config too; a bad value is a ConfigError
    monkeypatch.setenv("DASK_DASKCLOUD__CLUSTER__IDLE_TIMEOUT", "soon")
    dask.config.refresh()
    try:
        with pytest.raises(ConfigError, match="idle timeout 'soon' is not a duration"):
            ClusterSpec(name="a")
    finally:
        monkeypatch.delenv("DASK_DASKCLOUD__CLUSTER__IDLE_TIMEOUT")
        dask.config.refresh()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"memory": "12 GB"}, "memory '12 GB' is not a Kubernetes quantity; write '12Gi' or '12G'"),
        ({"memory": "12GB"}, "write '12Gi' or '12G'"),
        ({"memory": "100Mi"}, "below 256Mi"),
        ({"workers": -1}, "workers -1 is negative; give 0 or more"),
        ({"gpu": -1}, "gpu -1 is negative"),
        ({"name": "My_Cluster"}, "cluster name 'My_Cluster' is not a DNS label"),
        ({"name": "1abc"}, "e.g. 'dask-1abc'"),
        ({"name": "a" * 41}, "at most 40"),
        ({"namespace": "Dask NS"}, "namespace 'Dask NS' is not a DNS label"),
        ({"cpu": "0"}, "cpu '0' is not a positive Kubernetes cpu quantity"),
        ({"cpu": "two"}, "write cores such as '2'"),
        ({"idle_timeout": "5 minutes"}, "idle timeout '5 minutes' is not a duration"),
        ({"max_lifetime": "0s"}, "must be longer than zero"),
        ({"max_lifetime": "31d"}, "longer than 30d"),
        ({"idle_timeout": "9h", "max_lifetime": "8h"}, "longer than the max lifetime"),
        ({"image": "ghcr.io/dask/dask:latest"}, "is not pinned"),
        ({"image": "ghcr.io/dask/dask"}, "is not pinned"),
        ({"node_selector": ["pool"]}, "node selector 'pool' is not KEY=VALUE"),
        ({"tolerations": ["spot:Sometimes"]}, "toleration 'spot:Sometimes' is not KEY"),
        ({"workers": "many"}, "workers 'many': Input should be a valid integer"),
        ({"colour": "blue"}, "colour 'blue': Extra inputs are not permitted"),
    ],
)
def test_bad_values_are_one_line_config_errors(options: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ClusterSpec(**{"name": "hpo", **options})
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert "validation error" not in text  # pydantic's own report is converted


def test_several_bad_values_each_get_their_message() -> None:
    with pytest.raises(ConfigError, match=r"workers -3 is negative.*; memory 'abc'"):
        ClusterSpec(name="hpo", workers=-3, memory="abc")


def test_spec_is_frozen() -> None:
    spec = ClusterSpec(name="a")
    with pytest.raises(ValueError):
        spec.workers = 3  # type: ignore[misc]


def test_tolerations_and_node_selector_from_strings() -> None:
    spec = ClusterSpec(
        name="a",
        node_selector=["cloud.google.com/gke-spot=true"],
        tolerations=["spot=true:NoSchedule", "nvidia.com/gpu:NoSchedule"],
    )
    assert spec.node_selector == {"cloud.google.com/gke-spot": "true"}
    assert spec.tolerations == (
        Toleration(key="spot", value="true", effect="NoSchedule"),
        Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"),
    )


def test_cluster_ids_are_unique_label_values() -> None:
    ids = {ClusterSpec(name="a").cluster_id for _ in range(20)}
    assert len(ids) == 20
    with pytest.raises(ConfigError, match="cluster_id"):
        ClusterSpec(name="a", cluster_id="not a label!")


def test_model_validate_raises_config_error_too() -> None:
    assert ClusterSpec.model_validate({"name": "a", "workers": 1}).workers == 1
    with pytest.raises(ConfigError, match="memory '12 GB'"):
        ClusterSpec.model_validate({"name": "a", "memory": "12 GB"})

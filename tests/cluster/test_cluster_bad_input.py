"""The bad-input corpus of `daskcloud manifests` and `daskcloud cluster`: one line, exit code,
no traceback, nothing created.

Options and config files are checked by the one ClusterSpec model; verbs without --backend
look in every backend and say where they looked, Kubernetes being unreachable included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from daskcloud.cli import main
from daskcloud.cluster._config import build_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "cluster.yaml"


@pytest.fixture(autouse=True)
def laptop(tmp_path, monkeypatch):
    """A machine with no kubeconfig at all, and a fresh daskcloud home."""
    monkeypatch.setenv("DASKCLOUD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "user" / ".kube" / "config"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return tmp_path / "home"


def one_line(capsys, argv: list[str], code: int) -> str:
    got = main(argv)
    captured = capsys.readouterr()
    assert got == code, captured.err
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def config(tmp_path: Path, text: str, name: str = "cluster.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


FLAGS = {
    "a toleration that is not KEY[=VALUE]:EFFECT": (
        ["--toleration", "nonsense"],
        "toleration 'nonsense' is not KEY[=VALUE]:EFFECT",
    ),
    "a toleration with an unknown effect": (
        ["--toleration", "spot=true:Sometimes"],
        "toleration 'spot=true:Sometimes' is not KEY[=VALUE]:EFFECT",
    ),
    "a toleration key that is no label key": (
        ["--toleration", "bad key!:NoSchedule"],
        "is not KEY[=VALUE]:EFFECT",
    ),
    "a node selector without a value": (
        ["--node-selector", "pool"],
        "node selector 'pool' is not KEY=VALUE",
    ),
    "a node selector key that is no label key": (
        ["--node-selector", "-pool-=spot"],
        "node selector key '-pool-' is not a Kubernetes label key",
    ),
    "a quantity with a space": (["--memory", "12 GB"], "write '12Gi' or '12G'"),
    "a cpu that is no quantity": (["--cpu", "two"], "cpu 'two' is not a positive"),
    "a worker count that is no number": (["--workers", "many"], "workers 'many':"),
    "a name that is no DNS label": (["--name", "My_Cluster"], "is not a DNS label"),
    "a duration without unit": (["--idle-timeout", "5 minutes"], "is not a duration"),
    "an unpinned image": (["--image", "dask/dask:latest"], "is not pinned"),
    "a package that is no requirement": (
        ["--packages", "xgboost>>2"],
        "package 'xgboost>>2' is not a pip requirement",
    ),
    "a Slurm option on Kubernetes": (
        ["--partition", "gpu"],
        "--partition is not supported by the kubernetes backend",
    ),
}


@pytest.mark.parametrize("case", sorted(FLAGS))
def test_manifests_refuses_bad_options(case, capsys, laptop):
    flags, message = FLAGS[case]
    line = one_line(capsys, ["manifests", "--name", "hpo", *flags], 2)
    assert line.startswith("error: ") and message in line
    assert not laptop.exists()  # no certificate written


FILES = {
    "an unknown key": ("colour: blue\n", "cluster.yaml: colour: unknown key; the keys are name"),
    "a wrong type": ("workers: many\n", "cluster.yaml: workers: 'many': Input should be"),
    "a bad quantity": ("memory: 12 GB\n", "cluster.yaml: memory: memory '12 GB' is not"),
    "a bad toleration": ("tolerations: [nonsense]\n", "cluster.yaml: tolerations: toleration"),
    "a mapping toleration with a bad effect": (
        "tolerations: [{key: spot, effect: Sometimes}]\n",
        "cluster.yaml: tolerations: 0.effect 'Sometimes': Input should be",
    ),
    "not YAML": ("workers: [1\n", "cluster.yaml: not valid YAML"),
    "not a mapping": ("- workers\n", "cluster.yaml: expected a mapping of options"),
    "a key given twice": ("max_lifetime: 1h\nmax-lifetime: 2h\n", "given twice"),
    "a field that is not an option": ("cluster_id: x\n", "cluster.yaml: cluster_id: unknown key"),
}


@pytest.mark.parametrize("verb", [["manifests"], ["cluster", "up", "--backend", "local"]])
@pytest.mark.parametrize("case", sorted(FILES))
def test_bad_config_files_name_the_file_and_key(case, verb, capsys, tmp_path, laptop):
    text, message = FILES[case]
    line = one_line(capsys, [*verb, "--config", config(tmp_path, text)], 2)
    assert message in line
    assert not laptop.exists()  # nothing created


def test_config_and_flags_that_conflict_and_a_missing_file(capsys, tmp_path, laptop):
    path = config(tmp_path, "idle_timeout: 9h\n")
    line = one_line(capsys, ["manifests", "--config", path, "--max-lifetime", "8h"], 2)
    assert "idle timeout '9h' is longer than the max lifetime '8h'" in line
    line = one_line(capsys, ["cluster", "up", "--config", str(tmp_path / "nope.yaml")], 2)
    assert "nope.yaml: no such file" in line
    line = one_line(capsys, ["cluster", "up", "--backend", "local", "--gpu", "1"], 2)
    assert "--gpu is not supported by the local backend" in line
    line = one_line(capsys, ["cluster", "up", "--backend", "local", "--config", str(EXAMPLE)], 2)
    assert "--namespace is not supported by the local backend" in line
    line = one_line(capsys, ["cluster", "up", "--backend", "yarn"], 2)
    assert "unknown backend 'yarn'; use one of: local, kubernetes, slurm" in line
    assert not laptop.exists()


def test_the_example_file_and_toml_give_the_spec_flags_override(tmp_path):
    spec = build_spec({"workers": "6"}, EXAMPLE)
    assert (spec.name, spec.namespace, spec.workers, spec.cpu, spec.memory) == (
        "hpo", "dask", 6, "2", "8Gi",
    )  # fmt: skip
    assert spec.node_selector == {"cloud.google.com/gke-spot": "true"}
    assert spec.tolerations[0].to_k8s()["effect"] == "NoSchedule"
    assert spec.price_per_hour == 0.67
    toml = tmp_path / "cluster.toml"
    toml.write_text('workers = 3\nmax-lifetime = "4h"\nnode_selector = {pool = "spot"}\n')
    spec = build_spec({}, toml)
    assert (spec.workers, spec.max_lifetime_seconds, spec.node_selector) == (
        3,
        14400,
        {"pool": "spot"},
    )
    toml.write_text('workers = "many"\n')
    with pytest.raises(Exception, match=r"cluster\.toml: workers: 'many'"):
        build_spec({}, toml)


def test_manifests_from_the_example_file(capsys):
    assert main(["manifests", "--config", str(EXAMPLE), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "Dask cluster dask/hpo" in out and "replicas: 1" in out
    assert "cloud.google.com/gke-spot" in out


# --- verbs without --backend on a laptop without a kubeconfig --------------------------------


def test_status_of_an_unknown_name_says_where_it_looked(capsys):
    line = one_line(capsys, ["cluster", "status", "ghost"], 1)
    assert "no cluster 'ghost' (local: not found on this machine; kubernetes: not reachable" in line
    assert "slurm: not found" in line


def test_list_shows_local_clusters_and_notes_kubernetes_is_not_reachable(capsys):
    assert main(["cluster", "list"]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == ["NAME", "BACKEND", "STATE", "WORKERS", "AGE", "LEFT", "COST"]
    assert captured.err.strip().startswith("note: kubernetes: not reachable (")
    assert "Traceback" not in captured.err


def test_down_of_a_cluster_that_is_gone_everywhere_exits_0(capsys):
    assert main(["cluster", "down", "ghost"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cluster ghost: already gone (local: not found on this machine; ")
    assert "kubernetes: not reachable" in out


def test_update_of_an_unknown_name_is_one_line(capsys):
    line = one_line(capsys, ["cluster", "update", "ghost", "--workers", "2"], 1)
    assert "no cluster 'ghost'" in line


def test_slurm_refuses_jupyter_in_one_line_naming_the_alternative(capsys):
    code = main(["cluster", "up", "--backend", "slurm", "--name", "nb", "--jupyter"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--jupyter is not supported by the slurm backend" in err
    assert 'connect_cluster("NAME", backend="slurm")' in err

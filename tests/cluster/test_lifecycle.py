# ruff: noqa: F811  (pytest fixtures are imported by name and used as parameters)
"""The Kubernetes lifecycle against a fake API server (kmock): create, wait, explain, clean up.

The fake (tests/cluster/fake_kube_api.py) speaks HTTP like an API server and plays kubelet and
garbage collector in the simplest way; the code under test reaches it through kr8s and a
kubeconfig, as it would reach a real cluster.
"""

from __future__ import annotations

import datetime as dt
import stat

import pytest
from fake_kube_api import PodBehaviour, fake_kube_api  # noqa: F401  (the fixture)

from daskcloud.cli import main
from daskcloud.cluster._spec import ClusterSpec
from daskcloud.cluster._state import load_record
from daskcloud.cluster.kubernetes._api import kube_api
from daskcloud.cluster.kubernetes._lifecycle import PRICE_ANNOTATION, KubernetesBackend
from daskcloud.exceptions import ClusterError, ConfigError, KubernetesError

NS = "dask"
OWNED = ("secrets", "services", "networkpolicies", "deployments")


@pytest.fixture(autouse=True)
def _state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DASKCLOUD_HOME", str(tmp_path / "home"))


def _spec(name="hpo", **kw):
    args = {"name": name, "namespace": NS, "workers": 2, "cpu": "1", "memory": "4Gi"} | kw
    return ClusterSpec(**args)


def _up(spec, timeout=10):
    return KubernetesBackend(poll=0.05).up(spec, timeout=timeout)


K = KubernetesBackend


def test_up_creates_the_job_then_objects_it_owns_and_waits_until_ready(fake_kube_api):
    spec = _spec(price_per_hour=1.5)
    status = _up(spec)
    assert (status.state, status.scheduler_ready, status.workers_ready) == ("running", True, 2)
    (job,) = fake_kube_api.live("jobs", NS)
    assert job["metadata"]["name"] == "hpo-scheduler"
    assert job["metadata"]["annotations"][PRICE_ANNOTATION] == "1.5"
    uid = job["metadata"]["uid"]
    for plural in OWNED:
        objs = fake_kube_api.live(plural, NS)
        assert objs, plural
        for obj in objs:
            assert obj["metadata"]["ownerReferences"][0]["uid"] == uid
    # the Job was created before anything it owns (the owner's uid must exist first)
    posts = [path for method, path in fake_kube_api.api.seen if method.endswith("POST")]
    assert posts[0].endswith("/jobs")
    record = load_record("kubernetes", "hpo", NS)
    assert record is not None and record.price_per_hour == 1.5
    key = record.tls_dir and (record.tls_dir + "/client-key.pem")
    assert stat.S_IMODE(__import__("os").stat(key).st_mode) == 0o600


def test_status_reports_workers_age_time_left_and_cost(fake_kube_api):
    _up(_spec(price_per_hour=3.0, max_lifetime="8h", idle_timeout="20m"))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    status = K().find("hpo", NS, now=later)
    assert status.workers_wanted == 2 and status.workers_ready == 2
    assert status.age_s == pytest.approx(7200, abs=120)
    assert status.time_left_s == pytest.approx(6 * 3600, abs=120)
    assert status.idle_timeout_s == 1200
    assert status.cost_so_far == pytest.approx(6.0, abs=0.1)
    assert {p.component for p in status.members} == {"scheduler", "worker"}


def test_scale_changes_the_worker_deployment(fake_kube_api):
    _up(_spec())
    assert K().scale("hpo", 4, NS) == 4
    status = K().status("hpo", NS)
    assert (status.workers_wanted, status.workers_ready) == (4, 4)
    K().scale("hpo", 1, NS)
    assert K().status("hpo", NS).workers_ready == 1
    with pytest.raises(ConfigError, match="negative"):
        K().scale("hpo", -1, NS)
    with pytest.raises(KubernetesError, match="no daskcloud cluster 'nope'"):
        K().scale("nope", 2, NS)


def test_logs_of_scheduler_and_a_worker(fake_kube_api):
    fake_kube_api.scenario.behaviours["scheduler"] = PodBehaviour(log="Scheduler at tls://x\nok")
    fake_kube_api.scenario.behaviours["worker"] = PodBehaviour(log="Start worker\nRegistered")
    _up(_spec())
    assert "Scheduler at tls://x" in K().logs("hpo", NS)
    assert "Registered" in K().logs("hpo", NS, worker=1)
    with pytest.raises(KubernetesError, match="has 2 worker pods; give --worker between 0 and 1"):
        K().logs("hpo", NS, worker=5)
    with pytest.raises(KubernetesError, match="has 0 driver pods"):
        K().logs("hpo", NS, driver=True)


def test_down_deletes_the_job_and_garbage_collection_takes_the_rest_idempotently(fake_kube_api):
    _up(_spec())
    assert K().down("hpo", NS) is True
    for plural in ("jobs", "pods", *OWNED):
        assert fake_kube_api.live(plural, NS) == [], plural
    assert load_record("kubernetes", "hpo", NS) is None
    assert K().down("hpo", NS) is False  # already gone: not an error
    delete_requests = [p for m, p in fake_kube_api.api.seen if m.endswith("DELETE")]
    assert delete_requests == ["/apis/batch/v1/namespaces/dask/jobs/hpo-scheduler"]


def test_list_finds_every_daskcloud_cluster_with_age_and_cost(fake_kube_api):
    _up(_spec("first", price_per_hour=2.0))
    _up(_spec("second", workers=1))
    clusters = K().list(NS)
    assert [c.name for c in clusters] == ["first", "second"]
    assert [c.state for c in clusters] == ["running", "running"]
    assert clusters[0].cost_so_far is not None and clusters[1].cost_so_far is None
    assert K().list("elsewhere") == []


def test_up_refuses_a_name_that_exists(fake_kube_api):
    _up(_spec())
    with pytest.raises(ClusterError, match="cluster 'hpo' already exists in namespace 'dask'"):
        _up(_spec())
    assert len(fake_kube_api.live("jobs", NS)) == 1  # the existing cluster is untouched


def _assert_cleaned_up(fake):
    for plural in ("jobs", "pods", *OWNED):
        assert fake.live(plural, NS) == [], plural
    assert load_record("kubernetes", "hpo", NS) is None


def test_image_pull_backoff_names_the_image_and_cleans_up(fake_kube_api):
    fake_kube_api.scenario.default = PodBehaviour(
        phase="Pending", ready=False, waiting_reason="ImagePullBackOff",
        waiting_message='Back-off pulling image "registry.example/dask:9.9"',
    )  # fmt: skip
    spec = _spec(image="registry.example/dask:9.9")
    with pytest.raises(KubernetesError) as info:
        _up(spec, timeout=30)
    message = str(info.value)
    assert "cannot pull image 'registry.example/dask:9.9' (ImagePullBackOff" in message
    assert "\n" not in message
    _assert_cleaned_up(fake_kube_api)


def test_failed_scheduling_is_explained_with_the_schedulers_reason_at_the_timeout(fake_kube_api):
    reason = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available"
    fake_kube_api.scenario.behaviours["worker"] = PodBehaviour(
        phase="Pending", ready=False, events=[("Warning", "FailedScheduling", reason)]
    )
    with pytest.raises(KubernetesError) as info:
        _up(_spec(cpu="64"), timeout=0.5)
    message = str(info.value)
    assert "was not ready after 0 s (waited for the scheduler and 2 workers" in message
    assert f"cannot be scheduled: {reason}" in message
    assert "0/2 workers ready" in message
    _assert_cleaned_up(fake_kube_api)


def test_oomkilled_worker_is_named_with_its_memory_limit(fake_kube_api):
    fake_kube_api.scenario.behaviours["worker"] = PodBehaviour(
        ready=False, waiting_reason="CrashLoopBackOff", terminated_reason="OOMKilled",
        exit_code=137, restart_count=3,
    )  # fmt: skip
    with pytest.raises(KubernetesError, match=r"was OOMKilled \(out of memory at its limit 4Gi\)"):
        _up(_spec())
    _assert_cleaned_up(fake_kube_api)


def test_crash_loop_shows_the_last_log_lines(fake_kube_api):
    fake_kube_api.scenario.behaviours["scheduler"] = PodBehaviour(
        ready=False, waiting_reason="CrashLoopBackOff", terminated_reason="Error", exit_code=1,
        restart_count=2, log="Traceback (most recent call last):\nValueError: bad --tls-ca-file",
    )  # fmt: skip
    with pytest.raises(KubernetesError) as info:
        _up(_spec())
    message = str(info.value)
    assert "scheduler pod hpo-scheduler-" in message
    assert "keeps crashing (exit code 1); last log lines: Traceback" in message
    assert "ValueError: bad --tls-ca-file" in message
    _assert_cleaned_up(fake_kube_api)


def test_status_of_a_missing_cluster_says_how_to_find_them(fake_kube_api):
    with pytest.raises(ClusterError, match="no kubernetes cluster 'ghost' in namespace 'dask'"):
        K().status("ghost", NS)


def test_unreachable_api_server_is_one_clear_error(tmp_path, monkeypatch):
    from fake_kube_api import write_kubeconfig

    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kc", "http://127.0.0.1:9")))
    with pytest.raises(KubernetesError, match=r"cannot (use|reach) the Kubernetes API"):
        K().list(NS)


def test_cli_drives_the_lifecycle_against_the_fake(fake_kube_api, capsys):
    up = ["cluster", "up", "--backend", "kubernetes", "--name", "cli", "--namespace", NS,
          "--workers", "2", "--memory", "2Gi", "--price-per-hour", "1.2", "--no-connect",
          "--toleration", "kubernetes.azure.com/scalesetpriority=spot:NoSchedule",
          "--node-selector", "pool=spot"]  # fmt: skip
    assert main(up) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"cluster {NS}/cli (kubernetes): running" in out
    assert f"daskcloud cluster down cli --namespace {NS}" in out
    (deployment,) = fake_kube_api.live("deployments", NS)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "spot"}
    assert pod["tolerations"][0]["key"] == "kubernetes.azure.com/scalesetpriority"
    assert main(["cluster", "scale", "cli", "3", "-n", NS, "--backend", "kubernetes"]) == 0
    assert main(["cluster", "status", "cli", "-n", NS, "--backend", "kubernetes"]) == 0
    assert "3/3 ready" in capsys.readouterr().out
    assert main(["cluster", "list", "-n", NS]) == 0
    listing = capsys.readouterr().out
    assert listing.splitlines()[0].split() == ["NAME", "BACKEND", "STATE", "WORKERS", "AGE",
                                               "LEFT", "COST"]  # fmt: skip
    assert f"{NS}/cli" in listing and "running" in listing
    assert main(["cluster", "logs", "cli", "-n", NS, "--backend", "kubernetes"]) == 0
    assert main(["cluster", "down", "cli", "-n", NS]) == 0
    assert main(["cluster", "down", "cli", "-n", NS]) == 0
    assert "already gone" in capsys.readouterr().out


def test_cli_failed_up_is_one_line_and_exit_1(fake_kube_api, capsys):
    fake_kube_api.scenario.default = PodBehaviour(
        phase="Pending", ready=False, waiting_reason="ErrImagePull", waiting_message="not found"
    )
    code = main(["cluster", "up", "--backend", "kubernetes", "--name", "bad", "-n", NS,
                 "--image", "example.org/nope:1", "--no-connect"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot pull image 'example.org/nope:1'" in err
    assert "Traceback" not in err
    assert fake_kube_api.live("jobs", NS) == []
    assert main(["cluster", "up", "--backend", "kubernetes", "--name", "Bad_Name", "-n", NS]) == 2
    assert "is not a DNS label" in capsys.readouterr().err


def test_connect_without_the_client_certificate_says_where_it_lives(fake_kube_api):
    from daskcloud.cluster._state import cluster_dir
    from daskcloud.cluster.backends import connect_cluster
    from daskcloud.exceptions import ClusterError

    _up(_spec())
    for path in cluster_dir("kubernetes", "hpo", NS).glob("*.pem"):
        path.unlink()
    with pytest.raises(ClusterError, match="no client certificate for cluster dask/hpo"):
        connect_cluster("hpo", NS, backend="kubernetes")


def _pod(name, component, status, containers=({"name": "worker", "image": "img:1"},)):
    return {
        "metadata": {"name": name, "labels": {"app.kubernetes.io/component": component}},
        "spec": {"containers": list(containers)},
        "status": status,
    }


def test_diagnosis_of_evictions_config_errors_gpus_and_silence():
    from daskcloud.cluster.kubernetes._diagnose import explain_pending, fatal_problems

    memory = "The node was low on resource: memory."
    evicted = _pod("w1", "worker", {"phase": "Failed", "reason": "Evicted", "message": memory})
    waiting = {"reason": "CreateContainerConfigError", "message": 'secret "hpo-tls" not found'}
    config = _pod(
        "w2",
        "worker",
        {
            "phase": "Pending",
            "containerStatuses": [{"name": "worker", "state": {"waiting": waiting}}],
        },
    )
    problems = fatal_problems([evicted, config])
    assert problems[0] == ("worker pod w1 failed (Evicted: The node was low on resource: memory.)")
    assert 'CreateContainerConfigError: secret "hpo-tls" not found' in problems[1]
    pending = _pod("w3", "worker", {"phase": "Pending"})
    quiet = _pod("w4", "worker", {"phase": "Pending"})
    gpu = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    events = [{"involvedObject": {"kind": "Pod", "name": "w3"}, "type": "Warning",
               "reason": "FailedScheduling", "message": gpu}]  # fmt: skip
    lines = explain_pending([pending, quiet], events)
    assert lines[0].startswith(f"worker pod w3 cannot be scheduled: {gpu}; ask for less")
    assert lines[1] == "worker pod w4 is Pending (no events explain it yet)"


def test_an_api_server_that_never_answers_is_an_error_not_a_hang(tmp_path, monkeypatch):
    import socket
    import time

    from fake_kube_api import write_kubeconfig

    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kc", url)))
        started = time.monotonic()
        with pytest.raises(KubernetesError, match="did not answer within 2 s"):
            kube_api(timeout=2)
        assert time.monotonic() - started < 10

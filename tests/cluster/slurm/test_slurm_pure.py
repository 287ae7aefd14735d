"""The pure half of the Slurm backend: spec, scripts, squeue parsing, reasons, the keeper's plan."""

from __future__ import annotations

import pytest

from daskcloud.cluster.slurm._keeper import KeeperState, plan_workers
from daskcloud.cluster.slurm._queue import parse_slurm_time, parse_squeue
from daskcloud.cluster.slurm._reasons import explain_ended, explain_pending
from daskcloud.cluster.slurm._scripts import scheduler_job_script, worker_job_script
from daskcloud.cluster.slurm._spec import (
    SlurmOptions,
    SlurmSpec,
    format_walltime,
    job_name,
    parse_job_name,
)
from daskcloud.exceptions import ConfigError


def spec(tmp_path, **kw) -> SlurmSpec:
    values = {"workers": 2, "cpu": "2", "memory": "3Gi", "idle_timeout": "20m",
              "max_lifetime": "4h", "created_at": 1000.0}  # fmt: skip
    return SlurmSpec.build("hpo", tmp_path / "hpo", **{**values, **kw})


def test_spec_from_friendly_values_and_back(tmp_path):
    options = SlurmOptions(partition="short", account="proj", qos="normal", job_extra=("--x=1",))
    s = spec(tmp_path, options=options)
    assert (s.cpu, s.memory, s.max_lifetime_s, s.idle_timeout_s) == (2, 3 * 2**30, 14400, 1200)
    assert s.deadline == 1000.0 + 14400
    assert SlurmSpec.from_dict(s.to_dict()) == s
    assert spec(tmp_path, options=SlurmOptions(price_per_cpu_hour=0.5)).price_per_hour == 2.0


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"cpu": "500m"}, "whole number of CPUs"),
        ({"cpu": "1.5"}, "whole number of CPUs"),
        ({"memory": "12 GB"}, "memory"),
        ({"max_lifetime": "30s"}, "1-minute"),
        ({"max_lifetime": "soon"}, "duration"),
        ({"workers": -1}, "--workers"),
    ],
)
def test_spec_refuses_bad_values_with_the_fix(tmp_path, kw, message):
    with pytest.raises(ConfigError, match=message):
        spec(tmp_path, **kw)


def test_spec_refuses_a_bad_name(tmp_path):
    with pytest.raises(ConfigError, match="lowercase"):
        SlurmSpec.build("Bad_Name", tmp_path, workers=1, cpu="1", memory="1Gi",
                        idle_timeout="1m", max_lifetime="1h", created_at=0)  # fmt: skip


def test_job_names_round_trip():
    assert job_name("hpo", "worker", 3) == "daskcloud-hpo-worker-3"
    assert parse_job_name("daskcloud-my-hpo-worker-12") == ("my-hpo", "worker", 12)
    assert parse_job_name("daskcloud-hpo-scheduler") == ("hpo", "scheduler", None)
    assert parse_job_name("bash") is None and parse_job_name("daskcloud-hpo") is None


@pytest.mark.parametrize(
    ("seconds", "text"), [(59, "00:01:00"), (3600, "01:00:00"), (90061, "1-01:01:00")]
)
def test_walltime_format(seconds, text):
    assert format_walltime(seconds) == text


def test_worker_script_is_jobqueues_with_tls_and_the_clusters_limits(tmp_path):
    options = SlurmOptions(partition="short", account="proj", qos="normal",
                           job_extra=("--constraint=skylake",))  # fmt: skip
    s = spec(tmp_path, options=options)
    script = worker_job_script(s, "tls://10.0.0.5:8786", 4, walltime_s=7200)
    lines = script.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    for directive in ["-J daskcloud-hpo-worker-4", "-p short", "-A proj", "--cpus-per-task=2",
                      "--mem=3G", "-t 02:00:00", "--qos=normal", "--constraint=skylake",
                      f"-e {s.log_directory}/daskcloud-hpo-worker-4-%J.err"]:  # fmt: skip
        assert f"#SBATCH {directive}" in lines
    command = lines[-1]
    assert "distributed.cli.dask_worker tls://10.0.0.5:8786 --name hpo-worker-4" in command
    assert "--nthreads 2 --memory-limit 3.00GiB" in command
    tls = f"--tls-cert {tmp_path}/hpo/worker.pem --tls-key {tmp_path}/hpo/worker-key.pem"
    assert tls in command
    assert "--lifetime 7080s" in command  # it retires a minute before Slurm ends it


def test_short_walltime_leaves_the_end_to_slurm(tmp_path):
    script = worker_job_script(spec(tmp_path), "tls://h:1", 0, walltime_s=300)
    assert "#SBATCH -t 00:05:00" in script and "--lifetime" not in script


def test_scheduler_script_runs_the_scheduler_with_its_keeper(tmp_path):
    s = spec(tmp_path, options=SlurmOptions(scheduler_in_job=True, partition="short"))
    script = scheduler_job_script(s)
    assert "#SBATCH -J daskcloud-hpo-scheduler" in script and "#SBATCH -t 04:00:00" in script
    assert f"export DASKCLOUD_SLURM_DIR={tmp_path}/hpo" in script
    assert "--preload daskcloud.cluster.slurm._keeper" in script
    assert "--idle-timeout 1200s" in script and "--tls-key" in script


SQUEUE = """\
17|daskcloud-hpo-worker-0|RUNNING|None|1:02:03|4:00:00|2:57:57|2|1|node1|2026-12-02T10:00:00
18|daskcloud-hpo-worker-1|PENDING|QOSMaxCpuPerUserLimit|0:00|4:00:00|4:00:00|2|1||2026-12-02T10:00:01
19|daskcloud-other-worker-0|PREEMPTED|None|5:00|1-00:00:00|INVALID|1|1|node2|2026-12-02T09:00:00
20|my|analysis|RUNNING|None|0:01|1:00|0:59|1|1|node3|2026-12-02T09:00:00
21|bash|RUNNING|None|0:01|1:00|0:59|1|1|node3|2026-12-02T09:00:00
"""


def test_squeue_rows_become_typed_jobs_of_daskcloud_only():
    jobs = parse_squeue(SQUEUE)
    assert [j.job_id for j in jobs] == ["17", "18", "19"]
    first = jobs[0]
    assert (first.cluster, first.role, first.index, first.state) == ("hpo", "worker", 0, "RUNNING")
    assert (first.elapsed_s, first.limit_s, first.left_s, first.cpus) == (3723, 14400, 10677, 2)
    assert first.cpu_seconds == 2 * 3723 and first.active and first.running
    assert jobs[1].reason == "QOSMaxCpuPerUserLimit" and jobs[1].active
    assert jobs[2].left_s is None and not jobs[2].active
    assert [j.job_id for j in parse_squeue(SQUEUE, "hpo")] == ["17", "18"]
    assert parse_slurm_time("UNLIMITED") is None and parse_slurm_time("1-00:00:10") == 86410


def test_reasons_in_words_keep_slurms_code():
    assert "fewer --workers" in explain_pending("QOSMaxCpuPerUserLimit")
    assert explain_pending("PartitionTimeLimit").endswith("(PartitionTimeLimit)")
    assert "--max-lifetime" in explain_pending("PartitionTimeLimit")
    assert explain_pending("SomethingNew") == "Slurm's reason: SomethingNew"
    assert explain_pending("None") == "just submitted; Slurm has not looked at it yet (None)"
    assert "resubmits" in explain_ended("PREEMPTED")
    assert explain_ended("TIMEOUT").endswith("(TIMEOUT)")


def _queue(*rows: str) -> list:
    return parse_squeue("\n".join(rows))


def _row(job_id, index, state, elapsed="1:00", reason="None"):
    return (f"{job_id}|daskcloud-hpo-worker-{index}|{state}|{reason}|{elapsed}|4:00:00|3:00:00|2|"
            f"1|n1|2026-12-02T10:00:00")  # fmt: skip


def test_keeper_fills_up_to_wanted_and_replaces_ended_jobs(tmp_path):
    s = spec(tmp_path)
    plan = plan_workers(s, 2, KeeperState(), [], now=1000.0)
    assert plan.submit == (0, 1) and plan.cancel == () and plan.state.next_index == 2
    state = plan.state
    jobs = _queue(_row(1, 0, "RUNNING"), _row(2, 1, "PREEMPTED", elapsed="10:00"))
    plan = plan_workers(s, 2, state, jobs, now=2000.0)
    assert plan.submit == (2,)  # the preempted worker comes back as worker 2
    assert plan.state.jobs["2"]["state"] == "PREEMPTED" and plan.state.jobs["1"]["cpu_s"] == 120


def test_keeper_cancels_pending_before_running_when_scaled_down(tmp_path):
    s = spec(tmp_path)
    jobs = _queue(_row(1, 0, "RUNNING"), _row(2, 1, "RUNNING"), _row(3, 2, "PENDING"))
    plan = plan_workers(s, 1, KeeperState(next_index=3), jobs, now=2000.0)
    assert [j.job_id for j in plan.cancel] == ["3", "2"] and plan.submit == ()


def test_keeper_stops_at_a_crash_loop_and_near_the_deadline(tmp_path):
    s = spec(tmp_path)
    failed = _queue(*(_row(i, i, "FAILED", elapsed="0:03") for i in range(3)))
    plan = plan_workers(s, 2, KeeperState(next_index=3), failed, now=2000.0)
    assert plan.submit == () and "3 worker jobs failed within 60 s" in plan.state.error
    late = plan_workers(s, 2, KeeperState(), [], now=s.deadline - 20)
    assert late.submit == () and not late.close_scheduler
    assert plan_workers(s, 2, KeeperState(), [], now=s.deadline).close_scheduler


def test_driver_script_runs_daskcloud_in_the_working_directory(tmp_path):
    from daskcloud.cluster.slurm._scripts import driver_job_script

    s = spec(tmp_path)
    script = driver_job_script(s, ["tune", "/home/me/a b.toml"], cwd="/home/me", walltime_s=3600)
    assert "#SBATCH -J daskcloud-hpo-driver" in script and "#SBATCH -t 01:00:00" in script
    assert "#SBATCH --cpus-per-task=1" in script and "#SBATCH --mem=3G" in script
    assert "cd /home/me\n" in script
    assert script.rstrip().endswith("-m daskcloud.cli tune '/home/me/a b.toml'")


def test_dask_config_gives_the_slurm_defaults_a_flag_overrides():
    import dask

    from daskcloud.cluster.slurm._backend import with_config_defaults

    settings = {"daskcloud.slurm.partition": "short", "daskcloud.slurm.account": "proj",
                "daskcloud.slurm.job-extra": ["--constraint=x"]}  # fmt: skip
    with dask.config.set(settings):
        got = with_config_defaults(SlurmOptions(account="mine"))
    assert (got.partition, got.account, got.job_extra) == ("short", "mine", ("--constraint=x",))
    assert got.qos is None and got.price_per_cpu_hour is None

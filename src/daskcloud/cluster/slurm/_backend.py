"""``--backend slurm``: the :class:`~daskcloud.cluster.backends.Backend` interface on Slurm."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar

from daskcloud.cluster._spec import ClusterSpec
from daskcloud.cluster._state import cluster_dir, load_record
from daskcloud.cluster.backends import Backend, Endpoint
from daskcloud.cluster.slurm._spec import SlurmOptions, SlurmSpec
from daskcloud.exceptions import ClusterError

__all__ = ["SlurmBackend"]


def with_config_defaults(options: SlurmOptions) -> SlurmOptions:
    """``options`` with what was not given taken from dask config ``daskcloud.slurm.*``."""
    from daskcloud import config

    given = {
        "partition": options.partition,
        "account": options.account,
        "qos": options.qos,
        "price_per_cpu_hour": options.price_per_cpu_hour,
    }
    found = {k: config.get(f"slurm.{k.replace('_', '-')}") for k, v in given.items() if v is None}
    extra = options.job_extra or tuple(config.get("slurm.job-extra") or ())
    return replace(options, **{k: v for k, v in found.items() if v is not None}, job_extra=extra)


def slurm_spec(spec: ClusterSpec) -> SlurmSpec:
    """The Slurm view of a ClusterSpec (whole CPUs, bytes, seconds; the Slurm options), with
    dask config's ``daskcloud.slurm.*`` for the Slurm options not given."""
    options = SlurmOptions(
        partition=spec.partition,
        account=spec.account,
        qos=spec.qos,
        job_extra=spec.job_extra,
        scheduler_in_job=spec.scheduler_in_job,
        price_per_cpu_hour=spec.price_per_cpu_hour,
        interface=spec.interface,
    )
    return SlurmSpec.build(
        spec.name, cluster_dir("slurm", spec.name), workers=spec.workers, cpu=spec.cpu,
        memory=spec.memory, idle_timeout=spec.idle_timeout, max_lifetime=spec.max_lifetime,
        created_at=time.time(), options=with_config_defaults(options),
    )  # fmt: skip


class SlurmBackend(Backend):
    """Workers as Slurm batch jobs, the scheduler on the login node or in a job (docs/slurm.md)."""

    kind = "slurm"
    options = frozenset(
        {"name", "workers", "cpu", "memory", "idle_timeout", "max_lifetime", "partition",
         "account", "qos", "job_extra", "scheduler_in_job", "price_per_cpu_hour", "interface"}
    )  # fmt: skip
    hints: ClassVar[Mapping[str, str]] = {
        "gpu": "pass --job-extra=--gres=gpu:N instead",
        "price_per_hour": "give --price-per-cpu-hour (cost is CPU-hours x price)",
        # a JupyterLab on a shared login node is what sites run Open OnDemand or JupyterHub for
        "jupyter": "run JupyterLab where your site provides it (Open OnDemand, JupyterHub, or "
        'jupyter lab over SSH) and in a notebook connect with connect_cluster("NAME", '
        'backend="slurm"); --backend local --jupyter runs one next to a local cluster',
    }

    def where(self, namespace=None):
        return "in this machine's Slurm records"

    def create(self, spec, *, timeout, progress):
        from daskcloud.cluster.slurm._lifecycle import slurm_up

        slurm_up(slurm_spec(spec), timeout=timeout, progress=progress)

    def wait(self, spec, *, timeout, progress):
        return self.status(spec.name)  # slurm_up waited for the workers

    def find(self, name, namespace=None):
        from daskcloud.cluster.slurm._observe import slurm_status

        return slurm_status(name) if load_record("slurm", name) is not None else None

    def list(self, namespace=None):
        from daskcloud.cluster.slurm._observe import slurm_list

        return slurm_list()

    def scale(self, name, workers, namespace=None):
        from daskcloud.cluster.slurm._lifecycle import slurm_scale

        return slurm_scale(name, workers)

    def logs(self, name, namespace=None, *, worker=None, driver=False, tail=200):
        from daskcloud.cluster.slurm._lifecycle import slurm_logs

        return slurm_logs(name, worker=worker, driver=driver, tail_lines=tail)

    def delete(self, name, namespace=None):
        from daskcloud.cluster.slurm._lifecycle import slurm_down

        return slurm_down(name)

    def endpoint(self, name, namespace=None):
        from daskcloud.cluster.slurm._observe import client_credentials, record_of, spec_of

        record = record_of(name)
        if not record.address:
            raise ClusterError(f"Slurm cluster {name!r} has no scheduler address yet; is it up?")
        spec = spec_of(record)
        dashboard = record.extra.get("dashboard")
        url = None
        if dashboard and not spec.options.scheduler_in_job:
            url = f"http://{record.extra.get('host', 'localhost')}:{dashboard}/status"
        security = client_credentials(spec).security()
        return Endpoint(address=record.address, security=security, dashboard_url=url)

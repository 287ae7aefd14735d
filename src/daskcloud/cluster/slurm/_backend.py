"""``--backend slurm``: the verbs of :class:`~daskcloud.cluster.backends.Backend` on Slurm."""

from __future__ import annotations

import time

from daskcloud.cluster._state import cluster_dir
from daskcloud.cluster.backends import Backend, ClusterOptions, Endpoint
from daskcloud.cluster.slurm._spec import SlurmOptions, SlurmSpec
from daskcloud.exceptions import ClusterError, ConfigError

__all__ = ["SlurmBackend"]


class SlurmBackend(Backend):
    """Workers as Slurm batch jobs, the scheduler on the login node or in a job (docs/slurm.md)."""

    kind = "slurm"

    def up(self, options: ClusterOptions, *, timeout=300.0, progress=None):
        from daskcloud.cluster.slurm._lifecycle import slurm_up

        if options.gpu:
            raise ConfigError("--gpu on Slurm: pass --job-extra=--gres=gpu:N instead")
        if options.price_per_hour is not None:
            raise ConfigError("on Slurm, give --price-per-cpu-hour (cost is CPU-hours x price)")
        spec = SlurmSpec.build(
            options.name, cluster_dir("slurm", options.name), workers=options.workers,
            cpu=options.cpu, memory=options.memory, idle_timeout=options.idle_timeout,
            max_lifetime=options.max_lifetime, created_at=time.time(),
            options=options.slurm or SlurmOptions(),
        )  # fmt: skip
        return slurm_up(spec, timeout=timeout, progress=progress)

    def status(self, name, namespace=None):
        from daskcloud.cluster.slurm._lifecycle import slurm_status

        return slurm_status(name)

    def list(self, namespace=None):
        from daskcloud.cluster.slurm._lifecycle import slurm_list

        return slurm_list()

    def scale(self, name, workers, namespace=None):
        from daskcloud.cluster.slurm._lifecycle import slurm_scale

        return slurm_scale(name, workers)

    def logs(self, name, namespace=None, *, worker=None, driver=False, tail=200):
        from daskcloud.cluster.slurm._lifecycle import slurm_logs

        if driver:
            raise ConfigError("--driver needs --backend kubernetes (a detached search)")
        return slurm_logs(name, worker=worker, tail_lines=tail)

    def down(self, name, namespace=None):
        from daskcloud.cluster.slurm._lifecycle import slurm_down

        return slurm_down(name)

    def endpoint(self, name, namespace=None):
        from daskcloud.cluster.slurm._lifecycle import _record, _spec, client_credentials

        record = _record(name)
        if not record.address:
            raise ClusterError(f"Slurm cluster {name!r} has no scheduler address yet; is it up?")
        security = client_credentials(_spec(record)).security()
        return Endpoint(address=record.address, security=security)

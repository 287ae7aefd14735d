"""Sending a detached search driver into a live cluster (``tune --cluster NAME --detach``).

The objects come from the pure builders of :mod:`._detach`; this module reads the cluster's
scheduler Job (for its spec, its uid and its sync settings) and creates them.
"""

from __future__ import annotations

import kr8s

from daskcloud.cluster.kubernetes._api import (
    create_missing,
    create_objects,
    kube_api,
    scheduler_job,
)
from daskcloud.cluster.kubernetes._detach import build_detached_driver, build_journal_pvc
from daskcloud.cluster.kubernetes._meta import Owner
from daskcloud.cluster.kubernetes._observe import spec_from_job, sync_from_object
from daskcloud.exceptions import KubernetesError

__all__ = ["submit_driver"]


def submit_driver(
    name: str,
    namespace: str,
    *,
    args: list[str],
    spec_file: tuple[str, str] | None = None,
    pvc_size: str = "1Gi",
    storage_class: str | None = None,
    api: kr8s.Api | None = None,
) -> str:
    """Run ``daskcloud <args>`` as a Job in cluster ``name`` (``--detach``); returns its name.

    Creates the journal PVC when missing (it is kept by ``cluster down``), then the driver Job
    and its spec ConfigMap, owned by the scheduler Job. Unverified against a real cluster.
    """
    api = api or kube_api(namespace=namespace)
    job = scheduler_job(api, name, namespace)
    if job is None:
        raise KubernetesError(
            f"no daskcloud cluster {name!r} in namespace {namespace!r} to run the search on; "
            f"create it first (daskcloud cluster up --backend kubernetes --name {name})"
        )
    spec = spec_from_job(job)
    owner = Owner(name=job["metadata"]["name"], uid=job["metadata"]["uid"])
    create_missing(api, build_journal_pvc(spec, size=pvc_size, storage_class=storage_class))
    objects = build_detached_driver(
        spec, owner=owner, args=args, spec_file=spec_file, bundle=sync_from_object(job)
    )
    create_objects(api, objects)
    return objects[-1]["metadata"]["name"]

"""Multi-document YAML for ``kubectl apply -f -``, with a header saying what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from daskcloud._version import __version__
from daskcloud.cluster.kubernetes._manifests import TTL_AFTER_FINISHED_SECONDS, build_cluster
from daskcloud.cluster.kubernetes._meta import CLUSTER_ID_LABEL
from daskcloud.cluster.kubernetes._notebook import NotebookFiles
from daskcloud.cluster.kubernetes._rbac import build_rbac
from daskcloud.cluster.kubernetes._spec import ClusterSpec
from daskcloud.cluster.kubernetes._sync import cluster_bundle_of
from daskcloud.cluster.kubernetes._tls import (
    ClientCredentials,
    generate_tls,
    write_client_credentials,
)
from daskcloud.sync import SyncBundle

__all__ = ["delete_command", "manifests_for_apply", "render_yaml"]


def delete_command(spec: ClusterSpec) -> str:
    """The ``kubectl delete`` that removes every object of the cluster, by its id label."""
    return (
        "kubectl delete job,deployment,service,secret,configmap,networkpolicy "
        f"-n {spec.namespace} -l {CLUSTER_ID_LABEL}={spec.cluster_id}"
    )


def render_yaml(objects: list[dict[str, Any]], header: str = "") -> str:
    """``header`` (as ``#`` comments) followed by the objects as YAML documents."""
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    docs = [yaml.safe_dump(o, sort_keys=False, default_flow_style=False) for o in objects]
    return comments + "---\n" + "---\n".join(docs)


def manifests_for_apply(
    spec: ClusterSpec,
    *,
    rbac: bool = False,
    home: Path | None = None,
    bundle: SyncBundle | None = None,
) -> tuple[str, ClientCredentials]:
    """Make the cluster's certificates, keep the client's on this machine, render the YAML.

    The YAML carries the scheduler's and workers' private keys (in the Secret) — the cluster
    cannot start without them — and its header says so, where the client's files went, and
    how to delete the cluster by label (the YAML has no ``ownerReferences``: they need the
    scheduler Job's uid, which exists only once the Job has been created). ``bundle``
    (default: :func:`~daskcloud.sync.cluster_bundle` of this environment) is what the init
    containers install; the header names it and the sync ConfigMap lists every pin.
    """
    bundle = bundle if bundle is not None else cluster_bundle_of(spec)
    tls = generate_tls(spec)
    creds = write_client_credentials(spec, tls, home=home)
    notebook = _notebook_files(spec, home)
    objects = build_cluster(spec, tls=tls, bundle=bundle, notebook=notebook)
    if rbac:
        objects += build_rbac(spec.namespace)
    gpu = f", {spec.gpu} GPU" if spec.gpu else ""
    header = "\n".join(
        [
            f"daskcloud {__version__}: Dask cluster {spec.namespace}/{spec.name} "
            f"(id {spec.cluster_id})",
            f"  {spec.workers} workers x {spec.cpu} cpu, {spec.memory}{gpu}; image {spec.image}",
            f"Packages: an init container installs {len(bundle.requirements)} packages pinned "
            "to this machine's versions (those the",
            f"  image holds are skipped) from {bundle.index_url or 'the package index'}, and "
            + (", ".join(f"{w.name} {w.version}" for w in bundle.wheels) or "no local code")
            + " built here;",
            f"  the list: ConfigMap {spec.name}-sync, requirements.txt below."
            + (
                f" The notebook pod installs {len(bundle.notebook_requirements)} (with "
                "JupyterLab): requirements-notebook.txt."
                if bundle.notebook_requirements
                else ""
            ),
            "Apply:  kubectl apply -f THIS_FILE",
            "",
            f"WARNING: this file contains private keys. The Secret {spec.secret_name} holds the "
            "TLS keys of",
            "the scheduler and workers; anyone holding them can join the cluster and run code "
            "in it. Do not",
            "commit it unencrypted (for GitOps, seal the Secret with SealedSecrets or SOPS).",
            f"The client's certificate and key (mode 0600) were written to {creds.directory}",
            f"Connect after: kubectl port-forward -n {spec.namespace} "
            f"svc/{spec.scheduler_name} 8786",
            '  Client("tls://localhost:8786", '
            "security=daskcloud.cluster.kubernetes.client_security(",
            f'      "{spec.namespace}", "{spec.name}"))',
            "",
            f"The scheduler ends after {spec.idle_timeout} idle or {spec.max_lifetime} at most; "
            f"its Job is removed {TTL_AFTER_FINISHED_SECONDS}s",
            "later. These objects carry no ownerReferences (they need the Job's uid), so the "
            "workers and",
            "the rest are NOT removed with it. Delete the whole cluster with",
            f"  {delete_command(spec)}",
            "(`daskcloud cluster up` sets ownerReferences: there the Job takes everything "
            "with it.)",
            *_notebook_header(spec, creds),
        ]
    )
    return render_yaml(objects, header), creds


def _notebook_files(spec: ClusterSpec, home: Path | None) -> NotebookFiles | None:
    """With ``spec.jupyter``: a new token (kept on this machine, 0600) and the examples."""
    if not spec.jupyter:
        return None
    from daskcloud.cluster._notebook import example_files, new_token, write_notebook_token

    token = new_token()
    write_notebook_token(spec.namespace, spec.name, token, home=home)
    return NotebookFiles(token=token, examples=example_files())


def _notebook_header(spec: ClusterSpec, creds: ClientCredentials) -> list[str]:
    if not spec.jupyter:
        return []
    lines = [
        "",
        f"JupyterLab: Deployment {spec.jupyter_name}, its token in the Secret {spec.jupyter_name} "
        "and on this machine. Open it with",
        f"  kubectl port-forward -n {spec.namespace} svc/{spec.jupyter_name} 8888",
        f"  http://127.0.0.1:8888/lab?token=$(cat {creds.directory}/jupyter-token)",
    ]
    if spec.notebook_storage:
        lines += [
            f"Its home is the PersistentVolumeClaim {spec.name}-notebook "
            f"({spec.notebook_storage}); it outlives the cluster",
            f"  (kubectl delete pvc -n {spec.namespace} {spec.name}-notebook removes it).",
        ]
    return lines

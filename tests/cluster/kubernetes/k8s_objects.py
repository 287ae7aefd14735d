"""Specs and helpers shared by the Kubernetes manifest tests (imported by name: no packages)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from daskcloud._version import __version__
from daskcloud.cluster.kubernetes import (
    ClusterSpec,
    ClusterTLS,
    NotebookFiles,
    Owner,
    build_cluster,
    build_rbac,
    render_yaml,
)
from daskcloud.sync import SyncBundle, pack_modules

GOLDEN = Path(__file__).parent / "golden"
#: certificates as fixed text: a rendering with them does not change from run to run
FAKE_TLS = ClusterTLS(
    ca_cert="CA CERT\n",
    scheduler_cert="SCHEDULER CERT\n",
    scheduler_key="SCHEDULER KEY\n",
    worker_cert="WORKER CERT\n",
    worker_key="WORKER KEY\n",
    client_cert="CLIENT CERT\n",
    client_key="CLIENT KEY\n",
)

OWNER = Owner(name="hpo-scheduler", uid="0b9a7c1e-3f42-4d8e-9a51-6c2d7e8f9a10")
#: a fixed sync bundle: the renderings do not change with this machine's environment
BUNDLE = SyncBundle(
    requirements=("numpy==2.4.6", "scikit-learn==1.9.1", "scipy==1.17.1"),
    driver_requirements=("numpy==2.4.6", "optuna==5.1.0", "scikit-learn==1.9.1"),
    wheels=(pack_modules({"golden_models": Path(__file__).with_name("golden_models.py")}),),
    index_url="https://pypi.example/simple",
)
#: the same, made for a cluster with a notebook (``cluster_bundle(notebook=True)``)
NOTEBOOK_BUNDLE = replace(
    BUNDLE,
    notebook_requirements=(
        "ipykernel==7.4.0",
        "jupyterlab==4.6.6",
        "numpy==2.4.6",
        "optuna==5.1.0",
        "scikit-learn==1.9.1",
    ),
)
NOTEBOOK = NotebookFiles(token="f" * 48, examples={"rossmann.ipynb": '{"cells": []}\n'})

SPECS = {
    "plain": {"name": "hpo", "namespace": "dask", "workers": 3, "cpu": "2", "memory": "8Gi"},
    "gpu-spot": {
        "name": "hpo",
        "namespace": "dask",
        "workers": 2,
        "cpu": "4",
        "memory": "16Gi",
        "gpu": 1,
        "idle_timeout": "5m",
        "max_lifetime": "2h",
        "node_selector": {"cloud.google.com/gke-spot": "true"},
        "tolerations": ["nvidia.com/gpu:NoSchedule", "spot=true:NoSchedule"],
        "price_per_hour": 3.2,
    },
    "tiny": {"name": "t", "namespace": "default", "workers": 0, "cpu": "500m", "memory": "512Mi"},
    "jupyter": {
        "name": "nb",
        "namespace": "dask",
        "workers": 2,
        "cpu": "2",
        "memory": "8Gi",
        "jupyter": True,
        "notebook_storage": "10Gi",
    },
}


def extras(spec: ClusterSpec) -> tuple[NotebookFiles | None, SyncBundle]:
    """The notebook files and the sync bundle the builders get for ``spec``."""
    return (NOTEBOOK, NOTEBOOK_BUNDLE) if spec.jupyter else (None, BUNDLE)


def assert_golden(golden: str, *, owner: Owner | None = None, **options: Any) -> None:
    """The golden cluster with ``options``, rendered as YAML, is ``golden/<golden>``.

    ``DASKCLOUD_UPDATE_GOLDEN=1`` rewrites the file instead.
    """
    spec = ClusterSpec(
        name="hpo",
        namespace="dask",
        workers=3,
        cpu="2",
        memory="8Gi",
        image="ghcr.io/daskcloud/daskcloud:0.0.0-golden",
        cluster_id="0123456789ab",
        **options,
    )
    notebook, bundle = extras(spec)
    objects = build_cluster(spec, tls=FAKE_TLS, owner=owner, bundle=bundle, notebook=notebook)
    text = render_yaml(objects, header="golden rendering").replace(__version__, "VERSION")
    path = GOLDEN / golden
    if os.environ.get("DASKCLOUD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{path} differs; DASKCLOUD_UPDATE_GOLDEN=1 rewrites it"


def rendered(spec: ClusterSpec, tls: ClusterTLS) -> dict[str, list[dict[str, Any]]]:
    """Each way the objects leave the program: for kubectl, owned by the Job, and RBAC."""
    notebook, bundle = extras(spec)
    return {
        "apply": build_cluster(spec, tls=tls, bundle=bundle, notebook=notebook),
        "owned": build_cluster(spec, tls=tls, owner=OWNER, bundle=bundle, notebook=notebook),
        "rbac": build_rbac(spec.namespace),
    }


def is_notebook(obj: dict[str, Any]) -> bool:
    """One of the ``--jupyter`` objects (their component label is ``jupyter``)."""
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "jupyter"


def only(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The one object of ``kind`` (and ``name``); without a name, the notebook's do not count."""
    (obj,) = [
        o
        for o in objects
        if o["kind"] == kind
        and (o["metadata"]["name"] == name if name is not None else not is_notebook(o))
    ]
    return obj


def flag_value(args: list[str], flag: str) -> str:
    """The value after ``flag`` in a container's ``args``."""
    return args[args.index(flag) + 1]


def container_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The one container of a Job's or Deployment's pod template."""
    (container,) = obj["spec"]["template"]["spec"]["containers"]
    return container


def pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o["spec"]["template"]["spec"] for o in objects if o["kind"] in ("Job", "Deployment")]

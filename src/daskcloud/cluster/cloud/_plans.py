"""Pure plans: the exact commands that create and delete a Kubernetes cluster on each provider.

A plan is data: lists of argv lists, a cost estimate and notes. Nothing here runs a process;
:func:`daskcloud.cluster.cloud.execute_plan` does that.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from daskcloud.cluster.cloud._prices import CostEstimate, PriceTable, estimate_cost, load_prices
from daskcloud.exceptions import ConfigError

__all__ = ["CloudPlan", "plan_cluster"]

_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
_TAG = "daskcloud=true"


@dataclass(frozen=True)
class CloudPlan:
    """The commands that create and delete one Kubernetes cluster, and what it costs."""

    provider: str
    name: str
    region: str
    instance: str
    nodes: int
    spot: bool
    tool: str
    create: tuple[tuple[str, ...], ...]
    delete: tuple[tuple[str, ...], ...]
    cost: CostEstimate
    notes: tuple[str, ...]
    defaults: tuple[str, ...] = ()

    def render(self) -> str:
        """The plan as shell text: create commands, delete commands, cost, notes."""
        lines = [f"# create ({self.provider}, {self.nodes} x {self.instance} in {self.region})"]
        if self.defaults:
            lines.insert(0, f"# defaults: {', '.join(self.defaults)} (override with these flags)")
        lines += [shlex.join(cmd) for cmd in self.create]
        lines += ["", "# delete (when you are done; cluster down only removes the Dask cluster)"]
        lines += [shlex.join(cmd) for cmd in self.delete]
        c = self.cost
        lines += [
            "",
            f"# estimated cost: {c.per_hour:.3f} {c.currency}/hour"
            f" = {c.nodes} x {c.node_per_hour:.4f} per node{' (spot estimate)' if c.spot else ''}"
            f" + {c.control_plane_per_hour:.3f} fixed per cluster; {c.for_hours(8):.2f} per 8 h,"
            f" {c.for_hours(24 * 30):.0f} per 30 days",
            f"# prices: {c.source}, dated {c.date}",
        ]
        lines += [f"# note: {note}" for note in self.notes]
        return "\n".join(lines)


def _aws(t: PriceTable, name: str, nodes: int, instance: str, region: str, spot: bool):
    pool = ["--nodegroup-name", "dask", "--nodes", str(nodes)]
    pool += ["--nodes-min", str(nodes), "--nodes-max", str(nodes)]
    pool += (
        ["--managed", "--spot", "--instance-types", instance] if spot else ["--node-type", instance]
    )
    create = [
        [
            "eksctl",
            "create",
            "cluster",
            "--name",
            name,
            "--region",
            region,
            *pool,
            "--tags",
            _TAG,
            "--with-oidc",
        ],
    ]
    delete = [["eksctl", "delete", "cluster", "--name", name, "--region", region, "--wait"]]
    notes = [
        "eksctl writes the kubeconfig context itself",
        "NetworkPolicy is enforced only with the VPC CNI network-policy agent: eksctl create"
        f" addon --cluster {name} --name vpc-cni --configuration-values"
        """ '{"enableNetworkPolicy":"true"}'""",
    ]
    if spot:
        notes.append("spot nodes carry the label eks.amazonaws.com/capacityType=SPOT")
    return create, delete, notes, ()


def _gcp(t: PriceTable, name: str, nodes: int, instance: str, region: str, spot: bool):
    zone = t.extra["zones"][region]
    create = [
        ["gcloud", "container", "clusters", "create", name, "--zone", zone]
        + ["--num-nodes", str(nodes), "--machine-type", instance]
        + (["--spot"] if spot else [])
        + ["--enable-dataplane-v2", "--release-channel", "regular", "--labels", _TAG],
        ["gcloud", "container", "clusters", "get-credentials", name, "--zone", zone],
    ]
    delete = [["gcloud", "container", "clusters", "delete", name, "--zone", zone, "--quiet"]]
    notes = [
        f"a zonal cluster in {zone}, so the node count is exact",
        "Dataplane V2 enforces the cluster's NetworkPolicy",
    ]
    if spot:
        notes.append("spot nodes carry the label cloud.google.com/gke-spot=true")
    return create, delete, notes, ()


def _azure(t: PriceTable, name: str, nodes: int, instance: str, region: str, spot: bool):
    group = f"{name}-rg"
    common = ["--resource-group", group]
    create = [["az", "group", "create", "--name", group, "--location", region, "--tags", _TAG]]
    aks = ["az", "aks", "create", *common, "--name", name, "--location", region]
    aks += ["--network-plugin", "azure", "--network-policy", "azure", "--generate-ssh-keys"]
    aks += ["--tags", _TAG]
    extra: tuple[tuple[str, int], ...] = ()
    notes = ["deleting the resource group deletes the cluster and everything in it"]
    if spot:
        system = t.extra["system_pool_instance"]
        create.append([*aks, "--node-count", "1", "--node-vm-size", system])
        create.append(
            [
                "az",
                "aks",
                "nodepool",
                "add",
                *common,
                "--cluster-name",
                name,
                "--name",
                "spot",
                "--priority",
                "Spot",
                "--eviction-policy",
                "Delete",
                "--spot-max-price",
                "-1",
                "--node-vm-size",
                instance,
                "--node-count",
                str(nodes),
                "--node-taints",
                "kubernetes.azure.com/scalesetpriority=spot:NoSchedule",
            ]
        )
        extra = ((system, 1),)
        notes.append(
            f"AKS keeps a regular system pool (1 x {system}, included in the cost); the workers "
            "need the toleration kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
        )
    else:
        create.append([*aks, "--node-count", str(nodes), "--node-vm-size", instance])
    create.append(["az", "aks", "get-credentials", *common, "--name", name])
    delete = [["az", "group", "delete", "--name", group, "--yes"]]
    return create, delete, notes, extra


def _minikube(t: PriceTable, name: str, nodes: int, instance: str, region: str, spot: bool):
    size = t.instance(instance)
    create = [
        [
            "minikube",
            "start",
            "--profile",
            name,
            "--nodes",
            str(nodes),
            "--cpus",
            str(size.cpu),
            "--memory",
            f"{int(size.memory_gib * 1024)}m",
            "--cni",
            "calico",
        ],
    ]
    delete = [["minikube", "delete", "--profile", name]]
    notes = [f"every node gets {size.cpu} CPUs and {size.memory_gib:g} GiB of this machine"]
    if spot:
        notes.append("--spot has no meaning for minikube and is ignored")
    return create, delete, notes, ()


_BUILDERS = {"aws": _aws, "gcp": _gcp, "azure": _azure, "minikube": _minikube}


def plan_cluster(
    provider: str,
    *,
    nodes: int = 2,
    instance: str | None = None,
    region: str | None = None,
    spot: bool = False,
    name: str = "daskcloud",
) -> CloudPlan:
    """The commands that create (and later delete) a Kubernetes cluster for daskcloud.

    Args:
        provider: ``aws`` (eksctl), ``gcp`` (gcloud), ``azure`` (az) or ``minikube``.
        nodes: number of worker nodes, at least 1.
        instance: a node type of the provider's price table (``m5.xlarge``, ...); default: the
            table's ``default_instance`` (a 4-CPU/16-GiB node), named in ``defaults``.
        region: a region of the provider's price table (``us-east-1``, ...; ``local`` for
            minikube); default: the table's ``default_region``.
        spot: use spot/preemptible nodes for the pool.
        name: the Kubernetes cluster's name (a DNS label, at most 40 characters).

    Raises:
        ConfigError: unknown provider, instance type or region (listing the valid ones),
            a bad name or a node count below 1.

    Example:
        >>> plan = plan_cluster("gcp", nodes=3, instance="e2-standard-4", region="us-central1")
        >>> plan.create[0][:3]
        ('gcloud', 'container', 'clusters')
    """
    table = load_prices(provider)
    if nodes < 1:
        raise ConfigError(f"--nodes must be at least 1, got {nodes}")
    if not _NAME.match(name):
        raise ConfigError(
            f"cluster name {name!r} is not a DNS label of at most 40 characters;"
            " use e.g. 'daskcloud'"
        )
    defaults = []
    if instance is None:
        instance = table.default_instance
        defaults.append(f"--instance {instance}")
    if region is None:
        region = table.default_region
        defaults.append(f"--region {region}")
    table.instance(instance)
    table.region_factor(region)
    create, delete, notes, extra = _BUILDERS[provider](table, name, nodes, instance, region, spot)
    cost = estimate_cost(
        table, instance, region, nodes, spot=spot and provider != "minikube", extra_nodes=extra
    )
    return CloudPlan(
        provider=provider,
        name=name,
        region=region,
        instance=instance,
        nodes=nodes,
        spot=spot,
        tool=table.tool,
        create=tuple(tuple(cmd) for cmd in create),
        delete=tuple(tuple(cmd) for cmd in delete),
        cost=cost,
        notes=tuple(notes),
        defaults=tuple(defaults),
    )

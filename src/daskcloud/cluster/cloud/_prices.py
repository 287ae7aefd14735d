"""The price table shipped as package data, and the cost arithmetic of a node pool."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from daskcloud.exceptions import ConfigError

__all__ = [
    "PROVIDERS",
    "CostEstimate",
    "InstanceType",
    "PriceTable",
    "estimate_cost",
    "load_prices",
]

PROVIDERS: tuple[str, ...] = ("aws", "gcp", "azure", "minikube")


@dataclass(frozen=True)
class InstanceType:
    """One node type: its size and on-demand price per hour in the reference region."""

    name: str
    cpu: int
    memory_gib: float
    gpu: int
    price: float


@dataclass(frozen=True)
class PriceTable:
    """Prices of one provider, as read from ``prices.toml``."""

    provider: str
    tool: str
    default_instance: str
    default_region: str
    instances: MappingProxyType[str, InstanceType]
    regions: MappingProxyType[str, float]
    control_plane_per_hour: float
    spot_factor: float
    date: str
    source: str
    extra: MappingProxyType[str, Any]

    def instance(self, name: str) -> InstanceType:
        """The instance type ``name``, or a ConfigError listing the valid ones."""
        try:
            return self.instances[name]
        except KeyError:
            valid = ", ".join(self.instances)
            raise ConfigError(
                f"unknown {self.provider} instance type {name!r}; use one of: {valid}"
            ) from None

    def region_factor(self, region: str) -> float:
        """The price multiplier of ``region``, or a ConfigError listing the valid regions."""
        try:
            return self.regions[region]
        except KeyError:
            valid = ", ".join(self.regions)
            raise ConfigError(
                f"unknown {self.provider} region {region!r}; use one of: {valid}"
            ) from None


@dataclass(frozen=True)
class CostEstimate:
    """Estimated cost of a cluster per hour, in the table's currency (fixed: control plane...)."""

    nodes: int
    node_per_hour: float
    spot: bool
    control_plane_per_hour: float
    currency: str
    date: str
    source: str

    @property
    def per_hour(self) -> float:
        """Nodes plus the control plane, per hour."""
        return self.nodes * self.node_per_hour + self.control_plane_per_hour

    def for_hours(self, hours: float) -> float:
        """The cost of running ``hours`` hours."""
        return self.per_hour * hours


@cache
def _raw_table() -> dict[str, Any]:
    text = resources.files("daskcloud.cluster.cloud").joinpath("prices.toml").read_text("utf-8")
    return tomllib.loads(text)


def load_prices(provider: str) -> PriceTable:
    """The price table of ``provider`` (one of :data:`PROVIDERS`)."""
    if provider not in PROVIDERS:
        raise ConfigError(
            f"unknown cloud provider {provider!r}; use one of: {', '.join(PROVIDERS)}"
        )
    raw = _raw_table()
    section = dict(raw[provider])
    instances = {
        name: InstanceType(name=name, **values) for name, values in section.pop("instances").items()
    }
    return PriceTable(
        provider=provider,
        tool=section.pop("tool"),
        default_instance=section.pop("default_instance"),
        default_region=section.pop("default_region"),
        instances=MappingProxyType(instances),
        regions=MappingProxyType(dict(section.pop("regions"))),
        control_plane_per_hour=float(section.pop("control_plane_per_hour")),
        spot_factor=float(section.pop("spot_factor")),
        date=raw["meta"]["date"],
        source=raw["meta"]["source"],
        extra=MappingProxyType(section),
    )


def estimate_cost(
    table: PriceTable,
    instance: str,
    region: str,
    nodes: int,
    *,
    spot: bool = False,
    extra_nodes: tuple[tuple[str, int], ...] = (),
) -> CostEstimate:
    """What ``nodes`` nodes of ``instance`` in ``region`` cost per hour (plus fixed extra nodes).

    ``extra_nodes`` are on-demand nodes the provider needs besides the pool (Azure's system pool);
    their price is folded into the control-plane share so ``node_per_hour`` stays the pool's rate.
    """
    factor = table.region_factor(region)
    node = table.instance(instance).price * factor * (table.spot_factor if spot else 1.0)
    fixed = table.control_plane_per_hour + sum(
        table.instance(name).price * factor * count for name, count in extra_nodes
    )
    return CostEstimate(
        nodes=nodes,
        node_per_hour=node,
        spot=spot,
        control_plane_per_hour=fixed,
        currency=_raw_table()["meta"]["currency"],
        date=table.date,
        source=table.source,
    )

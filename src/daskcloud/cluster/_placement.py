"""Where workers may run: node selectors and tolerations, checked like the API server does.

Both come from the command line as strings (``pool=spot``, ``spot=true:NoSchedule``) or from a
config file as mappings; :class:`~daskcloud.cluster._spec.ClusterSpec` normalises them here
once, so every backend and builder sees ``dict[str, str]`` and :class:`Toleration` objects.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "EFFECTS",
    "Toleration",
    "check_label_key",
    "check_label_value",
    "parse_node_selector",
    "parse_tolerations",
]

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TOLERATION = re.compile(r"^([^=:\s]+)(?:=([^:\s]*))?:(\w+)$")


def check_label_key(key: str, what: str) -> str:
    """A Kubernetes label/taint key: ``[prefix/]name``, name <= 63 characters."""
    prefix, _, name = key.rpartition("/")
    if (
        not name
        or len(name) > 63
        or not _NAME.match(name)
        or (prefix and (len(prefix) > 253 or not _PREFIX.match(prefix)))
    ):
        raise ValueError(
            f"{what} key {key!r} is not a Kubernetes label key: [DNS-prefix/]name, the name at "
            "most 63 letters, digits, '-', '_' or '.', e.g. 'cloud.google.com/gke-spot'"
        )
    return key


def check_label_value(value: str, what: str) -> str:
    """A Kubernetes label value: empty, or <= 63 letters, digits, '-', '_', '.'."""
    if len(value) > 63 or (value and not _NAME.match(value)):
        raise ValueError(
            f"{what} value {value!r} is not a Kubernetes label value: at most 63 letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit"
        )
    return value


def parse_node_selector(value: Any) -> dict[str, str]:
    """``["pool=spot"]``, ``"pool=spot"`` or ``{"pool": "spot"}`` -> a checked ``dict``."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        pairs = {}
        for item in value:
            key, sep, val = str(item).partition("=")
            if not sep or not key.strip():
                raise ValueError(
                    f"node selector {item!r} is not KEY=VALUE, "
                    "e.g. 'cloud.google.com/gke-spot=true'"
                )
            pairs[key.strip()] = val.strip()
        value = pairs
    if not isinstance(value, dict):
        raise ValueError(
            f"node selector {value!r} is not a mapping of node labels; write KEY=VALUE, "
            "e.g. 'pool=spot'"
        )
    out = {}
    for key, val in value.items():
        if not isinstance(val, str | int | float) or isinstance(val, bool):
            raise ValueError(f"node selector {key!r} has value {val!r}; give a string label value")
        out[check_label_key(str(key), "node selector")] = check_label_value(
            str(val), "node selector"
        )
    return out


class Toleration(BaseModel):
    """One pod toleration, e.g. for a tainted spot or GPU node pool."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(default=None, ge=0)

    @field_validator("key")
    @classmethod
    def _check_key(cls, key: str | None) -> str | None:
        return key if key is None else check_label_key(key, "toleration")

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: str | None) -> str | None:
        return value if value is None else check_label_value(value, "toleration")

    @classmethod
    def parse(cls, text: str) -> Toleration:
        """``KEY[=VALUE]:EFFECT``, e.g. ``spot=true:NoSchedule``; no value means ``Exists``."""
        match = _TOLERATION.match(text.strip())
        if not match or match.group(3) not in EFFECTS:
            raise ValueError(
                f"toleration {text!r} is not KEY[=VALUE]:EFFECT with EFFECT one of "
                f"{', '.join(EFFECTS)}, e.g. 'spot=true:NoSchedule'"
            )
        key, value, effect = match.groups()
        operator = "Exists" if value is None else "Equal"
        return cls(key=key, operator=operator, value=value, effect=effect)

    def to_k8s(self) -> dict[str, Any]:
        """The toleration as it appears in a pod spec."""
        out: dict[str, Any] = {"operator": self.operator}
        for field, key in [
            ("key", "key"),
            ("value", "value"),
            ("effect", "effect"),
            ("toleration_seconds", "tolerationSeconds"),
        ]:
            if getattr(self, field) is not None:
                out[key] = getattr(self, field)
        return out

    @classmethod
    def from_k8s(cls, raw: dict[str, Any]) -> Toleration:
        """The inverse of :meth:`to_k8s` (reading a running cluster back)."""
        return cls(
            key=raw.get("key"),
            operator=raw.get("operator", "Equal"),
            value=raw.get("value"),
            effect=raw.get("effect"),
            toleration_seconds=raw.get("tolerationSeconds"),
        )


def parse_tolerations(value: Any) -> Any:
    """Strings (``KEY[=VALUE]:EFFECT``), mappings or Tolerations -> a tuple for the model."""
    if isinstance(value, str | dict):
        value = [value]
    if isinstance(value, list | tuple):
        return tuple(Toleration.parse(v) if isinstance(v, str) else v for v in value)
    return value

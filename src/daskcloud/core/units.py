"""Durations and quantities written the way Kubernetes and Slurm users write them (pure).

>>> parse_duration("1h30m")
5400
>>> parse_memory("512Mi")
536870912
>>> parse_cpu("1.5"), parse_cpu("500m")
(1500, 500)

Each parser raises ``ValueError`` with a one-line message naming the bad value and a
valid spelling; callers turn it into their own error (a ``ConfigError``, a pydantic
validation error).
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["MEMORY_UNITS", "format_cpu", "parse_cpu", "parse_duration", "parse_memory"]

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_CPU = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")

#: bytes per memory suffix (Kubernetes: ``Ki`` = 1024, ``k`` = 1000)
MEMORY_UNITS: dict[str | None, int] = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def parse_duration(value: str | int, what: str = "duration") -> int:
    """Seconds in ``value``: ``"90s"``, ``"20m"``, ``"8h"``, ``"1h30m"``, ``"2d"`` or an int."""
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} is not a duration; write e.g. '20m', '8h' or '1h30m'")
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION.match(str(value).strip())
        if not match or not any(match.groups()):
            raise ValueError(
                f"{what} {value!r} is not a duration; write a number with a unit s, m, h or d, "
                "e.g. '20m', '8h' or '1h30m'"
            )
        d, h, m, s = (int(g or 0) for g in match.groups())
        seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if seconds <= 0:
        raise ValueError(f"{what} {value!r} must be longer than zero, e.g. '20m'")
    return seconds


def parse_memory(value: str | int) -> int:
    """Bytes in a Kubernetes memory quantity such as ``"4Gi"`` or ``"512Mi"``."""
    text = str(value).strip()
    match = _MEMORY.match(text)
    if not match:
        raise ValueError(
            f"memory {value!r} is not a Kubernetes quantity; {_memory_hint(text)} "
            "(units Ki, Mi, Gi, Ti are powers of 1024; k, M, G, T powers of 1000; no space)"
        )
    number, unit = match.groups()
    return int(Decimal(number) * MEMORY_UNITS[unit])


def _memory_hint(text: str) -> str:
    """Suggest the quantity the user probably meant: '12 GB' -> '12Gi'."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtTpP])?\s*(i?[bB]?)?\s*$", text)
    if match and match.group(2):
        number, prefix = match.group(1), match.group(2).upper()
        prefix = "k" if prefix == "K" else prefix
        binary = "Ki" if prefix == "k" else f"{prefix}i"
        return f"write '{number}{binary}' or '{number}{prefix}'"
    return "write e.g. '4Gi' or '512Mi'"


def parse_cpu(value: str | int | float) -> int:
    """Millicores in a cpu quantity: ``"2"`` or ``2`` cores, ``"1.5"``, ``"500m"``."""
    text = "" if isinstance(value, bool) else str(value).strip()
    match = _CPU.match(text)
    millicores = None
    if match:
        number, milli = match.groups()
        scaled = Decimal(number) * (1 if milli else 1000)
        if scaled == scaled.to_integral_value():
            millicores = int(scaled)
    if millicores is None or millicores <= 0:
        raise ValueError(
            f"cpu {value!r} is not a positive Kubernetes cpu quantity; write cores such as "
            "'2' or '1.5', or millicores such as '500m'"
        )
    return millicores


def format_cpu(millicores: int) -> str:
    """The canonical spelling of a cpu quantity: ``"2"`` for whole cores, else ``"1500m"``."""
    return f"{millicores // 1000}" if millicores % 1000 == 0 else f"{millicores}m"

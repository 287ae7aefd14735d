"""What a search needs from the client's live environment, pinned to the client's versions.

Pure of Dask and of the network: everything is read from ``importlib.metadata`` and the
imported modules. Three kinds of needs come out:

- :class:`Pin` ``name==version`` of a distribution installed from a package index: the
  cluster installs exactly that version from the index (or a mirror);
- a *local* distribution (installed from a directory, editable or not: ``pip install -e .``,
  daskcloud in a checkout): there is nothing to download, so it is repacked on the client
  into a wheel (:mod:`._wheels`) and shipped;
- a *loose module*: a ``.py`` file or package directory that belongs to no distribution (a
  user's ``my_models.py`` next to the spec): shipped as well.
"""

from __future__ import annotations

import functools
import importlib.metadata as md
import importlib.util
import json
import pickletools
import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from daskcloud.exceptions import ConfigError

__all__ = [
    "WORKER_DISTRIBUTIONS",
    "Needs",
    "Pin",
    "find_needs",
    "modules_of",
    "pinned_closure",
]

#: what daskcloud's own worker-side code (``daskcloud.search._fit`` and what it imports) and
#: the version check need on every scheduler and worker, besides daskcloud itself
WORKER_DISTRIBUTIONS = ("dask", "distributed", "scikit-learn", "numpy", "threadpoolctl")


@dataclass(frozen=True, order=True)
class Pin:
    """One distribution at the client's version; ``local`` ones are shipped, not downloaded."""

    name: str
    version: str
    local: bool = False

    @property
    def requirement(self) -> str:
        """``name==version``, the line pip installs."""
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Needs:
    """Everything a search needs on the cluster.

    Attributes:
        pins: every distribution, index and local, with its requirements, at the client's
            versions (sorted by name).
        modules: loose modules (top-level name -> file or package directory) that belong to
            no distribution.
    """

    pins: tuple[Pin, ...]
    modules: Mapping[str, Path]

    @property
    def index_pins(self) -> tuple[Pin, ...]:
        return tuple(p for p in self.pins if not p.local)

    @property
    def local_pins(self) -> tuple[Pin, ...]:
        return tuple(p for p in self.pins if p.local)


def find_needs(roots: Iterable[str], *, strict: bool = True, leaves: Collection[str] = ()) -> Needs:
    """The pinned closure of ``roots``: distribution names (``dask[distributed]``) or modules.

    A root that names an installed distribution is taken as that distribution; otherwise as
    an importable module, mapped to the distribution that holds it or kept as a loose module.
    Standard-library modules and ``__main__`` (pickled by value) need nothing.

    Raises:
        ConfigError: with ``strict``, a root is neither installed nor importable here
            (without it, such a root is left out).
    """
    dists: list[str] = []
    modules: dict[str, Path] = {}
    for root in roots:
        name = root.strip()
        req = _requirement(name)
        if req is not None and _installed(req.name) is not None:
            dists.append(name)
            continue
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in ("__main__", "builtins"):
            continue
        owner = _distribution_of_module(top)
        if owner is not None:
            dists.append(owner)
            continue
        path = _module_path(top)
        if path is None and not strict:
            continue
        if path is None:
            raise ConfigError(
                f"{name!r} is neither an installed distribution nor an importable module on "
                "this machine; install it here first (the cluster gets the client's versions)"
            )
        modules[top] = path
    return Needs(pins=tuple(sorted(pinned_closure(dists, leaves=leaves))), modules=modules)


def pinned_closure(roots: Iterable[str], *, leaves: Collection[str] = ()) -> list[Pin]:
    """``roots`` and every requirement they need here, each at its installed version.

    Requirement markers are evaluated for this interpreter and the extras asked for
    (``dask[distributed]``); requirements that are not installed here are skipped: this
    environment works without them. The requirements of ``leaves`` are not followed.
    """
    leaf_names = {canonicalize_name(name) for name in leaves}
    seen: dict[str, Pin] = {}
    queue: list[tuple[str, frozenset[str]]] = []
    for root in roots:
        req = _requirement(root)
        if req is None:
            raise ConfigError(f"{root!r} is not a distribution name; write e.g. 'scikit-learn'")
        queue.append((req.name, frozenset(req.extras)))
    done: set[tuple[str, frozenset[str]]] = set()
    while queue:
        name, extras = queue.pop()
        key = (canonicalize_name(name), extras)
        if key in done:
            continue
        done.add(key)
        dist = _installed(name)
        if dist is None:
            continue
        canonical = canonicalize_name(dist.metadata["Name"])
        seen[canonical] = Pin(canonical, dist.version, local=_is_local(dist))
        for line in () if canonical in leaf_names else dist.requires or ():
            req = _requirement(line)
            if req is None or not _applies(req, extras):
                continue
            queue.append((req.name, frozenset(req.extras)))
    return list(seen.values())


def modules_of(*objects: Any) -> set[str]:
    """Top-level modules that unpickling the objects imports: what the workers need.

    Each object is pickled as the search will pickle it (cloudpickle) and the module of
    every global the pickle names is collected — classes, functions, and the dtypes of data
    (a pandas frame with Arrow-backed strings names ``pyarrow``). Data is sampled (its first
    rows keep its types); what cannot be pickled counts by its type's module.
    """
    import cloudpickle

    found: set[str] = set()
    for obj in objects:
        try:
            data = cloudpickle.dumps(_sample(obj), protocol=5)
        except Exception:  # the search will fail on it with its own message
            found.add(type(obj).__module__.split(".")[0])
            continue
        found |= _pickled_modules(data)
    ignore = {"builtins", "__main__", "__builtin__", "copy_reg"}
    return {m for m in found if m not in sys.stdlib_module_names and m not in ignore}


def _sample(obj: Any) -> Any:
    """The first rows of a frame, series or array (same types, a few bytes); else ``obj``."""
    if hasattr(obj, "iloc") and hasattr(obj, "dtypes" if hasattr(obj, "columns") else "dtype"):
        return obj.iloc[:2]
    if type(obj).__module__ == "numpy" and hasattr(obj, "shape") and getattr(obj, "ndim", 0):
        return obj[:2]
    return obj


def _pickled_modules(data: bytes) -> set[str]:
    """Top-level modules of the globals a pickle names (GLOBAL and STACK_GLOBAL opcodes)."""
    modules: set[str] = set()
    pushed: list[Any] = []  # strings pushed so far (None for anything else), for STACK_GLOBAL
    memo: dict[int, Any] = {}
    for op, arg, _ in pickletools.genops(data):
        if op.name in _STRING_OPS:
            pushed.append(arg)
        elif op.name in ("BINGET", "LONG_BINGET", "GET"):
            pushed.append(memo.get(int(arg)))
        elif op.name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
            continue
        elif op.name == "GLOBAL":
            modules.add(str(arg).split(" ")[0].split(".")[0])
            pushed.append(None)
        elif op.name == "STACK_GLOBAL" and len(pushed) >= 2 and isinstance(pushed[-2], str):
            modules.add(pushed[-2].split(".")[0])
            pushed.append(None)
        else:
            pushed.append(None)
    return modules


_STRING_OPS = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING",
     "STRING"}
)  # fmt: skip


# --- reading the environment ------------------------------------------------------------------


def _requirement(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def _applies(req: Requirement, extras: frozenset[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": extra}) for extra in (*extras, ""))


@functools.cache
def _installed(name: str) -> md.Distribution | None:
    """The installed distribution ``name`` (the first on ``sys.path``, as imports), or None."""
    try:
        return md.distribution(name)
    except md.PackageNotFoundError:
        return None


def _is_local(dist: md.Distribution) -> bool:
    """Installed from a local directory or file (``pip install -e .``, ``pip install ./pkg``)."""
    direct = _direct_url(dist)
    return bool(direct) and ("dir_info" in direct or str(direct.get("url", "")).startswith("file:"))


def _direct_url(dist: md.Distribution) -> dict[str, Any]:
    text = dist.read_text("direct_url.json")
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {}


@functools.cache
def _distribution_of_module(top: str) -> str | None:
    """The distribution that holds top-level module ``top``, local and editable ones included."""
    path = _module_path(top)
    if path is None:
        return None
    # an installed module sits next to the .dist-info whose RECORD lists it
    prefixes = (f"{top}/", f"{top}.py,", f"{top}.cpython", f"{top}.abi3", f"{top}.so,")
    for info in sorted(path.parent.glob("*.dist-info")):
        record = info / "RECORD"
        lines = record.read_text(errors="replace").splitlines() if record.is_file() else []
        if any(line.startswith(prefixes) for line in lines):
            return canonicalize_name(md.PathDistribution(info).metadata["Name"])
    # an editable install lists a .pth file, not its modules: match by directory, then name
    for dist in _local_distributions():
        canonical = canonicalize_name(dist.metadata["Name"])
        url = str(_direct_url(dist).get("url", ""))
        source = Path(url.removeprefix("file://")) if url.startswith("file://") else None
        if (source is not None and source in path.parents) or canonicalize_name(top) == canonical:
            return canonical
    return None


@functools.cache
def _local_distributions() -> tuple[md.Distribution, ...]:
    return tuple(d for d in md.distributions() if _is_local(d))


def top_level_modules(dist: md.Distribution) -> list[str]:
    """The top-level modules a distribution installs (from its RECORD; none for editables)."""
    tops = set()
    for file in dist.files or ():
        first = file.parts[0]
        if first == ".." or first.endswith((".dist-info", ".data")) or first == "__pycache__":
            continue
        if len(file.parts) > 1:
            tops.add(first)
        elif first.endswith(".py") or ".cpython-" in first or first.endswith(".so"):
            tops.add(first.split(".")[0])
    return sorted(tops)


def _module_path(top: str) -> Path | None:
    """The file of a plain module or the directory of a package; None if not importable."""
    module = sys.modules.get(top)
    origin = getattr(module, "__file__", None) if module is not None else None
    if origin is None:
        try:
            found = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            return None
        if found is None or found.origin in (None, "built-in", "frozen"):
            return None
        origin = found.origin
    path = Path(origin)
    return path.parent if path.name == "__init__.py" else path

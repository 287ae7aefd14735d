"""Wheels built on the client from the code it runs: local packages and loose modules.

A local distribution (``pip install -e .``, daskcloud in a checkout) is repacked from the
files Python imports it from — so uncommitted edits travel too — with the distribution's own
``METADATA``; loose modules (``my_models.py`` next to a spec) become one small wheel of a
made-up distribution :data:`USER_MODULES` whose version is a content hash. The wheels are
pure-Python (``py3-none-any``) and byte-for-byte reproducible (sorted entries, fixed
timestamps), so the same code gives the same content hash. Compiled code cannot be shipped
this way: it needs the image tier.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from daskcloud.exceptions import ConfigError
from daskcloud.sync._environment import (
    _distribution_of_module,
    _installed,
    _module_path,
    top_level_modules,
)

__all__ = ["USER_MODULES", "Wheel", "pack_modules", "repack_distribution"]

#: the distribution name of the wheel that carries loose modules
USER_MODULES = "daskcloud-user-modules"
_COMPILED = (".so", ".pyd", ".dylib", ".dll")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: reproducible archives


@dataclass(frozen=True)
class Wheel:
    """One wheel file in memory: ``filename`` as pip expects it, ``data`` its bytes."""

    filename: str
    data: bytes

    @property
    def name(self) -> str:
        return canonicalize_name(self.filename.split("-")[0])

    @property
    def version(self) -> str:
        return self.filename.split("-")[1]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def repack_distribution(name: str) -> Wheel:
    """A pure-Python wheel of local distribution ``name``, from the modules it imports from.

    Raises:
        ConfigError: the distribution is not installed, or holds compiled code.
    """
    dist = _installed(name)
    if dist is None:
        raise ConfigError(f"{name!r} is not installed here; install it before shipping it")
    canonical = canonicalize_name(dist.metadata["Name"])
    tops = [top for top in top_level_modules(dist) if _module_path(top) is not None]
    if not tops:  # an editable install lists no modules; its own name usually is one
        guess = canonical.replace("-", "_")
        tops = [guess] if _distribution_of_module(guess) == canonical else []
    if not tops:
        raise ConfigError(
            f"cannot find the modules of local package {canonical!r}; import it once or "
            "build an image (daskcloud image build)"
        )
    files = _module_files({top: _module_path(top) for top in tops}, canonical)  # type: ignore[misc]
    metadata = dist.read_text("METADATA") or _metadata(canonical, dist.version)
    return _wheel(canonical, dist.version, files, metadata)


def pack_modules(modules: Mapping[str, Path]) -> Wheel:
    """One wheel of :data:`USER_MODULES` holding loose modules; its version is a content hash."""
    files = _module_files(modules, "your local modules")
    digest = hashlib.sha256()
    for path, data in sorted(files.items()):
        digest.update(path.encode() + b"\0" + data)
    # a plain number: wheel names become ConfigMap keys, which may not hold a "+"
    version = f"0.{int(digest.hexdigest()[:12], 16)}"
    return _wheel(USER_MODULES, version, files, _metadata(USER_MODULES, version))


def _module_files(modules: Mapping[str, Path], owner: str) -> dict[str, bytes]:
    """Archive path -> bytes for plain modules and package directories (no caches)."""
    out: dict[str, bytes] = {}
    for top, path in sorted(modules.items()):
        if path.is_file():
            _refuse_compiled([path], owner)
            out[path.name] = path.read_bytes()
            continue
        members = sorted(
            p for p in path.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )  # fmt: skip
        _refuse_compiled(members, owner)
        for member in members:
            out[f"{top}/{member.relative_to(path).as_posix()}"] = member.read_bytes()
    return out


def _refuse_compiled(paths: Iterable[Path], owner: str) -> None:
    compiled = [p.name for p in paths if p.name.endswith(_COMPILED)]
    if compiled:
        raise ConfigError(
            f"{owner} holds compiled code ({', '.join(compiled[:3])}), which cannot be "
            "shipped as source; build an image with it: daskcloud image build --tag REG/NAME:TAG"
        )


def _metadata(name: str, version: str) -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"


def _wheel(name: str, version: str, files: Mapping[str, bytes], metadata: str) -> Wheel:
    stem = f"{name.replace('-', '_')}-{version}"
    info = f"{stem}.dist-info"
    entries = dict(files)
    entries[f"{info}/METADATA"] = metadata.encode()
    entries[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: daskcloud\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = [f"{path},sha256={_b64(data)},{len(data)}" for path, data in sorted(entries.items())]
    entries[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(entries.items()):
            member = zipfile.ZipInfo(path, date_time=_EPOCH)
            member.external_attr = 0o644 << 16
            archive.writestr(member, data, compress_type=zipfile.ZIP_DEFLATED)
    return Wheel(f"{stem}-py3-none-any.whl", buffer.getvalue())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

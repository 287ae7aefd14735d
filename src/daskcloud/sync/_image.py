"""``daskcloud image build``: the production tier, an image made from the live client environment.

:func:`write_context` (reads the environment, writes files) renders ``deploy/Dockerfile`` —
the template, shipped in the wheel as ``daskcloud/sync/Dockerfile`` — with the official dask
image at the client's dask and Python versions, and writes ``requirements.txt`` (every
package daskcloud and ``packages`` need, pinned to the client's versions) and ``wheels/``
(daskcloud and local packages built here) beside it. :func:`build_image` runs whichever of
docker, podman or buildah is on ``PATH``; a missing builder, or one that cannot reach its
engine, ends in one line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from daskcloud.exceptions import ClusterError, ConfigError
from daskcloud.sync._bundle import cluster_bundle

__all__ = ["BUILDERS", "ImageContext", "base_image", "build_image", "find_builder", "write_context"]

#: container builders, in the order they are tried
BUILDERS = ("docker", "podman", "buildah")
_BASE_ARG = re.compile(r"^ARG BASE_IMAGE=.*$", re.M)


@dataclass(frozen=True)
class ImageContext:
    """A written build context: its folder, the base image and what it installs."""

    directory: Path
    base_image: str
    requirements: tuple[str, ...]
    wheels: tuple[str, ...]


def base_image() -> str:
    """The official dask image at this machine's distributed and Python versions."""
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return f"ghcr.io/dask/dask:{version('distributed')}-py{python}"


def template() -> str:
    """The Dockerfile template: the wheel's copy, else the checkout's ``deploy/Dockerfile``."""
    for path in (
        Path(__file__).with_name("Dockerfile"),
        Path(__file__).resolve().parents[3] / "deploy" / "Dockerfile",
    ):
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise ConfigError("daskcloud's Dockerfile template is missing; reinstall daskcloud")


def write_context(directory: Path, packages: Iterable[str] = ()) -> ImageContext:
    """Write Dockerfile, requirements.txt and wheels/ for this environment into ``directory``."""
    bundle = cluster_bundle(packages)
    base = base_image()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(_BASE_ARG.sub(f"ARG BASE_IMAGE={base}", template()))
    header = f"# {base} + daskcloud: every pin is this machine's version\n"
    (directory / "requirements.txt").write_text(
        header + "".join(f"{r}\n" for r in bundle.driver_requirements)
    )
    wheels = directory / "wheels"
    wheels.mkdir(exist_ok=True)
    for wheel in bundle.wheels:
        (wheels / wheel.filename).write_bytes(wheel.data)
    return ImageContext(
        directory, base, bundle.driver_requirements, tuple(w.filename for w in bundle.wheels)
    )


def find_builder(preferred: str | None = None) -> str:
    """The path of ``preferred`` or of the first of :data:`BUILDERS` on ``PATH``.

    Raises:
        ClusterError: none is installed (one line naming the three).
    """
    names = [preferred] if preferred else list(BUILDERS)
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise ClusterError(
        f"no container builder found on PATH (looked for {', '.join(names)}); install docker, "
        "podman or buildah, or build the written context elsewhere with --context DIR"
    )


def build_image(
    context: ImageContext, tag: str, *, push: bool = False, builder: str | None = None
) -> Sequence[str]:
    """Build (and push) ``tag`` from ``context``; returns the commands run.

    Raises:
        ClusterError: no builder, a builder that cannot reach its engine, or a failed build
            or push (with the builder's last line).
    """
    path = find_builder(builder)
    name = Path(path).name
    build = [path, "build", "-t", tag, "-f", str(context.directory / "Dockerfile")]
    commands = [[*build, str(context.directory)]]
    if push:
        commands.append([path, "push", tag])
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise ClusterError(_explain(name, command[1], done.stdout + done.stderr, context))
    return [" ".join(c) for c in commands]


_NO_ENGINE = re.compile(
    r"cannot connect to the docker daemon|is the docker daemon running|connection refused"
    r"|no such file or directory.*\.sock",
    re.I,
)


def _explain(builder: str, step: str, output: str, context: ImageContext) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "no output"
    if _NO_ENGINE.search(output):
        return (
            f"{builder} cannot reach its engine ({last}); start it (e.g. the Docker daemon), "
            "use podman or buildah (no daemon: --builder podman), or keep the build context "
            "with --context DIR --write-only and build it elsewhere"
        )
    return f"{builder} {step} failed: {last} (build context: {context.directory})"

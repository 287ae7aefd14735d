"""Bare virtual environments for tests: what a plain Dask deployment or a base image holds.

``make_venv(path, ["dask", "distributed"])`` creates ``python -m venv path`` and pip-installs
the named distributions from the package index at **the client's versions** (their whole
requirement closure is passed as constraints), so the only difference from the test's own
environment is what is left out: daskcloud, and whatever the caller does not name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from daskcloud.sync import pinned_closure


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without PYTHONPATH (it points at daskcloud's sources)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def make_venv(path: Path, distributions: list[str]) -> Path:
    """A venv at ``path`` holding ``distributions`` at the client's versions; its python."""
    python = path / "bin" / "python"
    if (path / ".complete").exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, env=clean_env())
    constraints = path / "constraints.txt"
    pins = [p.requirement for p in pinned_closure(distributions) if not p.local]
    constraints.write_text("\n".join(pins) + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-c", str(constraints), *distributions],
        check=True, env=clean_env(),
    )  # fmt: skip
    (path / ".complete").write_text("")
    return python

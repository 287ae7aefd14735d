"""The layers import downwards only: core imports no layer, search never imports cluster."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import daskcloud

PACKAGE = Path(daskcloud.__file__).parent
LAYERS = ("cli", "jobs", "report", "search", "cluster", "rossmann")

#: layer -> the daskcloud layers it must never import (at module level or inside a function)
FORBIDDEN = {
    "core": LAYERS,
    "search": ("cli", "jobs", "report", "cluster", "rossmann"),
    "cluster": ("cli", "jobs", "report", "search", "rossmann"),
    "rossmann": ("cli", "jobs", "report", "search", "cluster"),
    "report": ("cli", "jobs", "cluster"),
    "jobs": ("cli",),
}


def _imported(path: Path) -> set[str]:
    """Every daskcloud module a source file names in an import statement."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith("daskcloud.")}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_imports_a_layer_above_or_beside_it(layer):
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in _imported(path):
            if name.split(".")[1] in FORBIDDEN[layer]:
                bad.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert bad == []


def test_importing_the_search_engine_loads_no_cluster_module():
    """In a fresh interpreter: every search module, imported, pulls in nothing of cluster/
    (nor Kubernetes' cryptography and YAML)."""
    code = (
        "import importlib, json, pkgutil, sys\n"
        "import daskcloud.search as s\n"
        "for m in pkgutil.walk_packages(s.__path__, 'daskcloud.search.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith("
        "('daskcloud.cluster', 'cryptography', 'yaml', 'kr8s')))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout) == []

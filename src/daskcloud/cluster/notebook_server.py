"""``python -m daskcloud.cluster.notebook_server [JupyterLab options]``: the notebook pod's command.

It is ``jupyter lab``, started as a module because the sync overlay (``pip install --target``)
puts JupyterLab where neither ``PATH`` nor Jupyter's search paths look: its console scripts go
to ``<overlay>/bin``, its data files (the lab application, kernel specs, prebuilt extensions)
to ``<overlay>/share/jupyter`` and its server-extension switches (terminals, LSP) to
``<overlay>/etc/jupyter``, while Jupyter looks under ``sys.prefix``, the image's. When
JupyterLab was imported from such a folder, :func:`overlay_environment` points Jupyter there
(``JUPYTERLAB_DIR``, ``JUPYTER_PATH``, ``JUPYTER_CONFIG_PATH``, ``PATH``: kernels and
terminals inherit it); JupyterLab installed the usual way (an image that holds it, a virtual
environment) changes nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["main", "overlay_environment"]


def overlay_environment(package_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables to set when JupyterLab's package ``package_dir`` sits in a ``--target``
    folder (its ``share/jupyter/lab`` beside it); {} otherwise."""
    root = package_dir.parent
    lab = root / "share" / "jupyter" / "lab"
    if not lab.is_dir():
        return {}

    def first(path: Path, name: str) -> str:
        return os.pathsep.join([str(path), *filter(None, [environ.get(name)])])

    return {
        "JUPYTERLAB_DIR": environ.get("JUPYTERLAB_DIR") or str(lab),
        "JUPYTER_PATH": first(root / "share" / "jupyter", "JUPYTER_PATH"),
        "JUPYTER_CONFIG_PATH": first(root / "etc" / "jupyter", "JUPYTER_CONFIG_PATH"),
        "PATH": first(root / "bin", "PATH"),
    }


def main(argv: list[str] | None = None) -> int:
    """Run JupyterLab with ``argv`` (default: this process's arguments)."""
    import jupyterlab

    os.environ.update(overlay_environment(Path(jupyterlab.__file__).parent, os.environ))
    from jupyterlab.labapp import LabApp

    LabApp.launch_instance(argv=sys.argv[1:] if argv is None else argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())

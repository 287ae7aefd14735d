"""The notebook's files on the launching machine: its token, its URL and the project's examples.

Both backends start a JupyterLab with a per-cluster token. On Kubernetes the token travels in
a Secret the launcher may create but never read back (its Role grants Secrets create-only), so
the launcher keeps its own copy next to the cluster's client certificate (mode 0600):
``$DASKCLOUD_HOME/clusters/<namespace>/<name>/jupyter-token``.
"""

from __future__ import annotations

import importlib.resources
import secrets
from pathlib import Path

from daskcloud.cluster._certs import write_private
from daskcloud.cluster.kubernetes._tls import client_credentials
from daskcloud.exceptions import ClusterError

__all__ = [
    "example_files",
    "new_token",
    "notebook_url",
    "read_notebook_token",
    "write_notebook_token",
]

TOKEN_FILE = "jupyter-token"
#: a ConfigMap holds at most 1 MiB; an example bigger than this is left out
_MAX_EXAMPLE_BYTES = 256 * 1024


def new_token() -> str:
    """A fresh Jupyter token (48 hex digits)."""
    return secrets.token_hex(24)


def examples_dir() -> Path | None:
    """The project's ``examples/``: shipped in the wheel, or the source checkout's."""
    shipped = importlib.resources.files("daskcloud") / "_examples"
    if shipped.is_dir():
        return Path(str(shipped))
    checkout = Path(__file__).resolve().parents[3] / "examples"
    return checkout if checkout.is_dir() else None


def example_files() -> dict[str, str]:
    """File name -> text of each example (notebooks, specs, their small data files)."""
    directory = examples_dir()
    if directory is None:
        return {}
    out = {}
    for path in sorted(directory.iterdir()):
        small = path.is_file() and path.stat().st_size <= _MAX_EXAMPLE_BYTES
        if small and not path.name.startswith("."):
            out[path.name] = path.read_text()
    return out


def notebook_url(port: int, token: str) -> str:
    """The JupyterLab URL on this machine, token included."""
    return f"http://127.0.0.1:{port}/lab?token={token}"


def write_notebook_token(
    namespace: str, name: str, token: str, *, home: Path | None = None
) -> Path:
    """Keep the token of cluster ``namespace/name`` on this machine (mode 0600)."""
    directory = client_credentials(namespace, name, home=home).directory
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / TOKEN_FILE
    write_private(path, token)
    return path


def read_notebook_token(namespace: str, name: str, *, home: Path | None = None) -> str:
    """The token kept by :func:`write_notebook_token`; a ClusterError says what to do if none."""
    path = client_credentials(namespace, name, home=home).directory / TOKEN_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise ClusterError(
            f"no notebook token for cluster {namespace}/{name} on this machine ({path}); the "
            "cluster has no notebook (create it with --jupyter), or it was created elsewhere"
        ) from None

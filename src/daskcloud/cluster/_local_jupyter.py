"""The local backend's notebook: a JupyterLab process on 127.0.0.1 next to the scheduler.

``cluster up --backend local --jupyter`` starts it detached like the scheduler, with the same
extension as on Kubernetes (:mod:`daskcloud.cluster.jupyter_extension`): ``Client()`` in a
notebook connects to the cluster (``DASK_SCHEDULER_ADDRESS``), the examples are copied into its
``examples/`` folder, and a busy kernel keeps the scheduler from its idle timeout. It listens on
loopback only, wants its per-cluster token (kept in ``jupyter-token``, mode 0600), and stops at
the cluster's maximum lifetime — or at ``cluster down``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from daskcloud.cluster._certs import write_private
from daskcloud.cluster._detached import pid_of, spawn, wait_for_json
from daskcloud.cluster._notebook import TOKEN_FILE, examples_dir, new_token
from daskcloud.cluster.jupyter_extension import DEADLINE_ENV, EXAMPLES_ENV, INTERVAL_ENV
from daskcloud.exceptions import ConfigError

__all__ = ["jupyter_command", "start_jupyter"]

_EXTENSION = "daskcloud.cluster.jupyter_extension"


def jupyter_command(root: Path) -> list[str]:
    """``python -m jupyterlab`` serving ``root`` on a free port of 127.0.0.1."""
    cmd = [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1",
           "--ServerApp.port=0", "--ServerApp.open_browser=False",
           f"--ServerApp.root_dir={root}", "--ServerApp.jpserver_extensions",
           f"{_EXTENSION}=True"]  # fmt: skip
    if os.geteuid() == 0:  # it is this user's own server on this machine
        cmd.append("--allow-root")
    return cmd


def start_jupyter(
    directory: Path,
    address: str,
    *,
    idle_timeout_s: int,
    deadline: float,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Start JupyterLab for the cluster at ``address``; its ``process`` identity and ``port``.

    Its files live in ``directory``: ``notebooks/`` (the root it serves), ``jupyter-token``,
    ``jupyter.log`` and the server's runtime files.
    """
    if importlib.util.find_spec("jupyterlab") is None:
        raise ConfigError("--jupyter needs JupyterLab here: pip install 'daskcloud[notebook]'")
    root = directory / "notebooks"
    root.mkdir(parents=True, exist_ok=True)
    runtime = directory / "jupyter-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    token_file = directory / TOKEN_FILE
    write_private(token_file, new_token())
    env = {
        "DASK_SCHEDULER_ADDRESS": address,
        "JUPYTER_TOKEN_FILE": str(token_file),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        INTERVAL_ENV: str(max(1, min(30, idle_timeout_s // 4))),
        DEADLINE_ENV: f"{deadline:.0f}",
    }
    examples = examples_dir()
    if examples is not None:
        env[EXAMPLES_ENV] = str(examples)
    log = directory / "jupyter.log"
    process = spawn(jupyter_command(root), log, env)
    info_file = runtime / f"jpserver-{pid_of(process)}.json"  # written once it listens
    info = wait_for_json(process, info_file, log, what="JupyterLab", timeout=timeout, poll=0.2)
    return {"process": process, "port": int(info["port"])}

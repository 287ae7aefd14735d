"""A rendered init container run as a process, with its sync ConfigMap where the kubelet puts it.

The container's mount paths are moved under a folder (we cannot write to ``/etc``), the sync
ConfigMap's ``data`` and ``binaryData`` are written to the folder its volume is mounted at, and
its ``args`` run with a chosen interpreter standing in for the image's ``python``, in this
process's environment less PYTHONPATH (:func:`bare_venv.clean_env`) plus the container's ``env``.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

from bare_venv import clean_env

__all__ = ["run_init_container"]

SYNC_MOUNT = "/etc/daskcloud/sync"


def run_init_container(
    init: dict[str, Any],
    config_map: dict[str, Any],
    root: Path,
    python: Path,
    *,
    timeout: float | None = None,
) -> tuple[subprocess.CompletedProcess, dict[str, Path]]:
    """Run ``init`` under ``root``; its completed process and its mounts (path -> folder)."""
    mounts = {m["mountPath"]: root / m["name"] for m in init["volumeMounts"]}
    for where in mounts.values():
        where.mkdir(parents=True, exist_ok=True)
    for key, text in config_map["data"].items():
        (mounts[SYNC_MOUNT] / key).write_text(text)
    for key, data in config_map["binaryData"].items():
        (mounts[SYNC_MOUNT] / key).write_bytes(base64.b64decode(data))

    def local(arg: str) -> str:
        for path, where in mounts.items():
            if arg == path or arg.startswith(path + "/"):
                return str(where) + arg[len(path) :]
        return arg

    done = subprocess.run(
        [str(python), *[local(a) for a in init["args"]]],
        env=clean_env(**{e["name"]: local(e["value"]) for e in init["env"]}),
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    return done, mounts

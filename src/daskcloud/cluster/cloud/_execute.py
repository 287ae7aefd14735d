"""Run a plan's commands, streaming their output; stop at the first failure."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import TextIO

from daskcloud.exceptions import ClusterError

__all__ = ["execute_commands"]

_INSTALL = {
    "eksctl": "https://eksctl.io/installation/",
    "gcloud": "https://cloud.google.com/sdk/docs/install",
    "az": "https://learn.microsoft.com/cli/azure/install-azure-cli",
    "minikube": "https://minikube.sigs.k8s.io/docs/start/",
}


def execute_commands(
    commands: Sequence[Sequence[str]],
    *,
    out: TextIO | None = None,
    timeout: float = 3600.0,
) -> None:
    """Run ``commands`` one after the other, streaming their output to ``out``.

    Every tool is looked up on PATH before anything runs, so a missing tool stops the plan
    before it has half-created a cluster.

    Raises:
        ClusterError: a tool is not installed (the message names it and where to get it),
            a command exited non-zero or ran longer than ``timeout`` seconds.
    """
    out = out or sys.stdout
    for tool in dict.fromkeys(cmd[0] for cmd in commands):
        if shutil.which(tool) is None:
            where = _INSTALL.get(tool, "your package manager")
            raise ClusterError(
                f"{tool!r} is not installed or not on PATH; install it ({where}) or run the "
                "printed commands yourself"
            )
    for cmd in commands:
        print(f"$ {shlex.join(cmd)}", file=out, flush=True)
        with subprocess.Popen(
            list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                out.flush()
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise ClusterError(
                    f"{shlex.join(cmd)} ran longer than {timeout:.0f} s and was stopped; "
                    "check the provider's console for half-created resources"
                ) from None
        if code != 0:
            raise ClusterError(
                f"{shlex.join(cmd)} failed with exit code {code}; fix the error above and rerun, "
                "or run the delete commands to clean up"
            )

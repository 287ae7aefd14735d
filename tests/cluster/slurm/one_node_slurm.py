"""A real one-node Slurm (Debian's ``slurm-wlm`` and ``munge``) for the tests: not a fake.

:class:`OneNodeSlurm` writes a ``slurm.conf`` and a munge key into a temporary directory,
starts ``munged``, ``slurmctld`` and ``slurmd`` on free ports (so several test sessions on one
machine do not meet), waits until the node is idle, and stops all three at the end. Clients
(``sbatch``, ``squeue``, ``scancel``) find it through ``SLURM_CONF``.

The node offers this machine's real CPUs and memory; ``proctrack/linuxproc`` and
``task/none`` need no cgroups, so it runs in containers as root. ``make test`` installs the
packages with apt-get where it can (see the Makefile's ``slurm`` target); elsewhere the tests
are skipped with that command.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

INSTALL = "apt-get install -y --no-install-recommends slurm-wlm munge  (as root)"
_DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel")


def missing_reason() -> str | None:
    """Why a one-node Slurm cannot run here, or None."""
    missing = [d for d in _DAEMONS if shutil.which(d) is None]
    if missing:
        return f"{missing[0]} is not installed; install Slurm with: {INSTALL}"
    if os.geteuid() != 0:
        return "slurmd needs root to run jobs as the submitting user; run the tests as root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_resources() -> tuple[int, int]:
    """CPUs and RealMemory (MiB) as slurmd sees this machine."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    cpus = int(re.search(r"CPUs=(\d+)", out).group(1))  # type: ignore[union-attr]
    memory = int(re.search(r"RealMemory=(\d+)", out).group(1))  # type: ignore[union-attr]
    return cpus, memory


class OneNodeSlurm:
    """munged + slurmctld + slurmd of one node, configured under ``root``."""

    node = "daskcloud-node"
    partition = "debug"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.cpus, self.memory_mb = _node_resources()
        self._procs: list[subprocess.Popen] = []
        self.env = {"SLURM_CONF": str(self.conf)}

    # --- configuration ---------------------------------------------------------------------

    def _write_config(self) -> None:
        r = self.root
        for sub in ("munge", "state", "spool", "log"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(r / "munge", 0o700)
        key = r / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        self.socket = r / "munge" / "munge.socket"
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=daskcloudtest",
                    "SlurmctldHost=localhost(127.0.0.1)",
                    f"SlurmctldPort={_free_port()}",
                    f"SlurmdPort={_free_port()}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={self.socket}",
                    f"StateSaveLocation={r / 'state'}",
                    f"SlurmdSpoolDir={r / 'spool'}",
                    f"SlurmctldPidFile={r / 'slurmctld.pid'}",
                    f"SlurmdPidFile={r / 'slurmd.pid'}",
                    f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={r / 'log' / 'slurmd.log'}",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "SchedulerType=sched/builtin",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "MpiDefault=none",
                    "SwitchType=switch/none",
                    "ReturnToService=2",
                    "MinJobAge=600",
                    "KillWait=5",
                    "InactiveLimit=0",
                    "SlurmctldTimeout=30",
                    "SlurmdTimeout=60",
                    f"NodeName={self.node} NodeAddr=127.0.0.1 NodeHostname={socket.gethostname()} "
                    f"CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN",
                    f"PartitionName={self.partition} Nodes={self.node} Default=YES "
                    "MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    # --- start / stop ----------------------------------------------------------------------

    def _spawn(self, cmd: list[str], log: str) -> None:
        out = (self.root / "log" / log).open("ab")
        env = {**os.environ, **self.env}
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        self._procs.append(proc)
        out.close()

    def start(self, timeout: float = 60.0) -> OneNodeSlurm:
        """Start the daemons and wait until the node accepts jobs."""
        self._write_config()
        r = self.root
        self._spawn(
            ["munged", "-F", "--force", f"--socket={self.socket}",
             f"--key-file={r / 'munge' / 'munge.key'}", f"--pid-file={r / 'munge' / 'munged.pid'}",
             f"--seed-file={r / 'munge' / 'munged.seed'}",
             f"--log-file={r / 'log' / 'munged.log'}"],
            "munged.out",
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            self._check_alive("munged", deadline)
            time.sleep(0.05)
        self._spawn(["slurmctld", "-D", "-i", "-f", str(self.conf)], "slurmctld.out")
        self._spawn(["slurmd", "-D", "-N", self.node, "-f", str(self.conf)], "slurmd.out")
        while self.node_state() not in ("idle", "mixed", "allocated"):
            self._check_alive("slurm", deadline)
            time.sleep(0.2)
        return self

    def _check_alive(self, what: str, deadline: float) -> None:
        dead = [p for p in self._procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = " | ".join(
                f"{p.name}: " + p.read_text(errors="replace")[-400:]
                for p in sorted((self.root / "log").glob("*"))
            )
            self.stop()
            raise RuntimeError(f"the one-node Slurm did not start ({what}): {logs}")

    def node_state(self) -> str:
        """``sinfo``'s state of the node ('' while slurmctld does not answer)."""
        proc = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True,
            env={**os.environ, **self.env}, timeout=10,
        )  # fmt: skip
        return proc.stdout.strip().rstrip("*") if proc.returncode == 0 else ""

    def stop(self) -> None:
        """Cancel every job, then stop slurmd, slurmctld and munged (idempotent)."""
        env = {**os.environ, **self.env}
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["scancel", "--full", "-u", "root"], env=env, timeout=10,
                           capture_output=True)  # fmt: skip
        for proc in reversed(self._procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self._procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self._procs.clear()

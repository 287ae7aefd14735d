"""Slurm's reasons, in words: why a job waits, and why one ended (pure).

Every explanation keeps Slurm's own code in parentheses, so it can be looked up in the site's
documentation (``man squeue``, "JOB REASON CODES"), and says what to do about it.
"""

from __future__ import annotations

__all__ = ["NEVER_STARTS", "explain_ended", "explain_pending"]

_PENDING = {
    "None": "just submitted; Slurm has not looked at it yet",
    "Resources": "waiting for free CPUs or memory on the nodes; it starts when other jobs end "
    "(ask for fewer --workers, --cpu or --memory to start sooner)",
    "Priority": "jobs of higher priority are ahead of it in the queue; it starts after them",
    "QOSMaxCpuPerUserLimit": "your QOS allows no more CPUs at once; ask for fewer --workers or "
    "--cpu, or another --qos",
    "QOSMaxJobsPerUserLimit": "your QOS allows no more jobs at once; ask for fewer --workers",
    "QOSMaxMemoryPerUser": "your QOS allows no more memory at once; ask for less --memory",
    "AssocGrpCpuLimit": "your account's group CPU limit is reached; ask for fewer CPUs",
    "AssocMaxJobsLimit": "your account allows no more jobs at once; ask for fewer --workers",
    "AssocGrpBillingMinutes": "your account's CPU-time allocation is used up; ask your site",
    "PartitionTimeLimit": "--max-lifetime is longer than the partition's time limit; give a "
    "shorter --max-lifetime or another --partition (`sinfo -o '%P %l'` lists the limits)",
    "PartitionConfig": "the job asks for more than the partition allows (CPUs or memory per "
    "node, nodes or time); ask for fewer --cpu or less --memory, or another --partition "
    "(`sinfo -N -l` lists the nodes)",
    "PartitionNodeLimit": "the job asks for more than a node of the partition has; ask for "
    "fewer --cpu or less --memory, or another --partition",
    "PartitionDown": "the partition is down; choose another --partition (`sinfo`)",
    "PartitionInactive": "the partition is inactive; choose another --partition (`sinfo`)",
    "ReqNodeNotAvail": "the nodes it needs are unavailable (down, drained or reserved); see "
    "`sinfo -R`",
    "BeginTime": "it was asked to start later (--begin); it waits until then",
    "Dependency": "it waits for another job it depends on",
    "JobHeldUser": "it is held; release it with `scontrol release JOBID`",
    "JobHeldAdmin": "an administrator holds it; ask your site",
    "InvalidAccount": "the --account is not valid for you; `sacctmgr show assoc user=$USER` "
    "lists yours",
    "InvalidQOS": "the --qos is not valid for you; `sacctmgr show assoc user=$USER` lists yours",
    "BadConstraints": "its constraints (--job-extra) cannot be met by any node",
    "Reservation": "it waits for its reservation to start",
}

#: reasons under which a job will not start without a change of the request
NEVER_STARTS = frozenset(
    {
        "PartitionTimeLimit", "PartitionNodeLimit", "PartitionConfig", "InvalidAccount",
        "InvalidQOS", "BadConstraints", "QOSMaxWallDurationPerJobLimit",
        "AssocMaxWallDurationPerJobLimit",
    }
)  # fmt: skip

_ENDED = {
    "COMPLETED": "it ended by itself (worker lifetime or idle scheduler)",
    "CANCELLED": "it was cancelled (scancel)",
    "FAILED": "it failed; see its output with `daskcloud cluster logs`",
    "TIMEOUT": "it reached its walltime (--max-lifetime) and Slurm ended it",
    "PREEMPTED": "a job of higher priority preempted it; the scheduler's keeper resubmits it",
    "NODE_FAIL": "its node failed; the scheduler's keeper resubmits it",
    "BOOT_FAIL": "its node failed to boot; the scheduler's keeper resubmits it",
    "OUT_OF_MEMORY": "it ran out of memory; give more --memory per worker",
    "DEADLINE": "it missed its deadline",
}


def explain_pending(reason: str) -> str:
    """``"Resources"`` -> ``"waiting for free CPUs ... (Resources)"``; unknown codes as they are."""
    words = _PENDING.get(reason)
    return f"{words} ({reason})" if words else f"Slurm's reason: {reason}"


def explain_ended(state: str, reason: str = "") -> str:
    """Why a job in final ``state`` ended, with Slurm's state (and reason, when it has one)."""
    words = _ENDED.get(state, "it ended")
    code = state if reason in ("", "None") else f"{state}, {reason}"
    return f"{words} ({code})"

"""Dask clusters on Slurm: workers as batch jobs, the scheduler on the login node or in a job.

Pure parts apart from I/O::

    _spec.py       SlurmSpec (frozen, validated), job names, walltime format
    _scripts.py    batch scripts from dask-jobqueue's SLURMJob.job_script()
    _queue.py      squeue output -> JobInfo
    _reasons.py    Slurm's pending and end reasons, in words
    _keeper.py     plan_workers (pure) and the scheduler plugin that submits and replaces jobs
    _commands.py   sbatch / squeue / scancel, errors as one line          (I/O)
    _observe.py    the record, status and list                              (I/O)
    _lifecycle.py  up, scale, logs, down, the detached driver               (I/O)
    _backend.py    SlurmBackend: the Backend verbs for ``--backend slurm``

How it fits together: docs/slurm.md.
"""

from daskcloud.cluster.slurm._spec import SlurmOptions, SlurmSpec

__all__ = ["SlurmOptions", "SlurmSpec"]

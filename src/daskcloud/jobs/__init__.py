"""The jobs the command line runs: ``daskcloud tune`` and the Rossmann main job.

Each is one library function returning a frozen result, so notebooks call the same
code as the CLI::

    from daskcloud.jobs import run_rossmann, run_tune

    result = run_tune("examples/ridge.toml", workers=2)
    result.summary["best_params"], result.run_dir
"""

from __future__ import annotations

from daskcloud.jobs._rossmann import RossmannResult, run_rossmann
from daskcloud.jobs._run import TuneResult
from daskcloud.jobs._tune import detach_tune, run_tune

__all__ = ["RossmannResult", "TuneResult", "detach_tune", "run_rossmann", "run_tune"]

"""The init container's installer, run as rendered, with real pip against the real package index.

The sync ConfigMap of a rendered cluster is written to a folder (its ``data`` and
``binaryData``, as the kubelet mounts them) and the scheduler pod's init container command
runs with this interpreter, mount paths moved under ``tmp_path``. Pins that this environment
already satisfies play "what the image holds"; older versions of small pure-Python packages
must come from the index.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from bare_venv import clean_env
from daskcloud.cluster.kubernetes import ClusterSpec, build_scheduler_job
from daskcloud.cluster.kubernetes._sync import build_sync_config_map
from daskcloud.sync import SyncBundle, pack_modules
from init_container import run_init_container

MODULE = "def shrink(x):\n    return x / 2\n"


def _run_init_container(
    tmp_path: Path, bundle: SyncBundle
) -> tuple[subprocess.CompletedProcess, Path]:
    spec = ClusterSpec(name="inst", namespace="test")
    config_map = build_sync_config_map(spec, bundle)
    (init,) = build_scheduler_job(spec, bundle=bundle)["spec"]["template"]["spec"]["initContainers"]
    assert init["command"] == ["python"]
    done, mounts = run_init_container(init, config_map, tmp_path, Path(sys.executable), timeout=300)
    return done, mounts["/opt/daskcloud/overlay"]


def test_installs_what_the_image_lacks_at_the_pinned_versions(tmp_path: Path) -> None:
    modules = tmp_path / "src"
    modules.mkdir()
    (modules / "shrinkage.py").write_text(MODULE)
    wheel = pack_modules({"shrinkage": modules / "shrinkage.py"})
    held = f"numpy=={version('numpy')}"  # the "image" holds it: left out
    bundle = SyncBundle(
        requirements=(held, "threadpoolctl==3.5.0", "joblib==1.4.2"),
        driver_requirements=(),
        wheels=(wheel,),
    )
    done, overlay = _run_init_container(tmp_path / "pod", bundle)
    assert done.returncode == 0, done.stderr
    assert "3 installed, 1 already in the image" in done.stdout
    names = sorted(p.name for p in overlay.glob("*.dist-info"))
    assert names == [
        f"daskcloud_user_modules-{wheel.version}.dist-info",
        "joblib-1.4.2.dist-info",
        "threadpoolctl-3.5.0.dist-info",
    ]
    assert (overlay / "shrinkage.py").read_text() == MODULE
    assert not (overlay / "numpy").exists()
    # what a main container sees with PYTHONPATH=<overlay>: the pinned versions first
    seen = subprocess.run(
        [sys.executable, "-c", "import threadpoolctl, shrinkage; print(threadpoolctl.__version__,"
         " shrinkage.shrink(4))"],
        env=clean_env(PYTHONPATH=str(overlay)), capture_output=True, text=True,
    )  # fmt: skip
    assert seen.stdout.split() == ["3.5.0", "2.0"], seen.stderr


def test_a_failed_install_ends_with_pips_own_lines(tmp_path: Path) -> None:
    bundle = SyncBundle(requirements=("threadpoolctl==0.0.999",), driver_requirements=(), wheels=())
    done, _ = _run_init_container(tmp_path / "pod", bundle)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert any("threadpoolctl==0.0.999" in line for line in lines[:-1])  # pip's own words
    assert lines[-1].startswith("daskcloud sync: pip could not install 1 package(s)")

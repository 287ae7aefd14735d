"""Delivery: what the sync tier ships, and the time from rendering to a ready worker.

Pods as processes, on a bare interpreter (a virtual environment holding only dask and
distributed at the client's versions, as the official dask image holds them):

1. render the cluster (``build_cluster`` with this environment's ``cluster_bundle``) and
   write its sync ConfigMap to a folder, as the kubelet mounts it;
2. **install**: run the rendered init container command with the bare interpreter — real pip
   against the package index — into an empty overlay;
3. **start**: ``dask scheduler`` and ``dask worker`` from the bare interpreter with
   ``PYTHONPATH=<overlay>`` (plain TCP on loopback: the TLS wiring is the pods-as-processes
   test's subject), until a client sees the worker and it imports scikit-learn and daskcloud.

Reported: the bytes shipped (ConfigMap, wheels), the number of pins, the packages the init
container installed, and the seconds of each phase. The bare venv is made once (not timed).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import md_table

VENV = Path(tempfile.gettempdir()) / "daskcloud-bench-bare-venv"


# the tests' helpers: bare_venv (a venv + pip at the client's versions, a clean environment)
# and init_container (a rendered init container run as a process)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bare_venv import clean_env, make_venv  # noqa: E402


def _bare_python() -> Path:
    return make_venv(VENV, ["dask", "distributed"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _install(python: Path, root: Path) -> dict[str, Any]:
    from daskcloud.cluster.kubernetes import ClusterSpec, build_cluster, generate_tls
    from daskcloud.cluster.kubernetes._sync import cluster_bundle_of
    from init_container import run_init_container  # the tests' helper (tests/ is on the path)

    t0 = time.perf_counter()
    spec = ClusterSpec(name="bench", namespace="bench")
    bundle = cluster_bundle_of(spec)
    objects = build_cluster(spec, tls=generate_tls(spec), bundle=bundle)
    render_s = time.perf_counter() - t0
    (config_map,) = [o for o in objects if o["kind"] == "ConfigMap"]
    (job,) = [o for o in objects if o["kind"] == "Job"]
    (init,) = job["spec"]["template"]["spec"]["initContainers"]
    t1 = time.perf_counter()
    done, mounts = run_init_container(init, config_map, root, python)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return {
        "render_s": render_s,
        "install_s": time.perf_counter() - t1,
        "installer_says": done.stdout.strip().splitlines()[-1],
        "configmap_bytes": len(json.dumps(config_map)),
        "wheel_bytes": bundle.wheel_bytes,
        "wheels": [w.filename for w in bundle.wheels],
        "pins": len(bundle.requirements),
        "overlay": str(mounts["/opt/daskcloud/overlay"]),
    }


def _start(python: Path, overlay: str) -> float:
    from distributed import Client

    def _imports() -> dict[str, str]:  # local: pickled by value, the bare worker has no benchmarks
        import sklearn

        import daskcloud

        return {"sklearn": sklearn.__version__, "daskcloud": daskcloud.__version__}

    port = _free_port()
    env = clean_env(PYTHONPATH=overlay)
    dask = str(python.parent / "dask")
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ),
        subprocess.Popen(
            [dask, "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1", "--no-dashboard"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ),
    ]
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with Client(f"tcp://127.0.0.1:{port}", timeout="2s") as client:
                    client.wait_for_workers(1, timeout=120)
                    versions = client.run(_imports)
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert all(v["sklearn"] and v["daskcloud"] for v in versions.values()), versions
        return time.perf_counter() - t0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(20)


def run(quick: bool = True) -> dict[str, Any]:
    python = _bare_python()
    with tempfile.TemporaryDirectory(prefix="daskcloud-bench-pod-") as tmp:
        out = _install(python, Path(tmp))
        out["start_s"] = _start(python, out["overlay"])
    out["ready_s"] = out["render_s"] + out["install_s"] + out["start_s"]
    out.pop("overlay")
    out["mode"] = "quick" if quick else "full"
    return out


def tables(result: dict[str, Any]) -> str:
    shipped = md_table(
        ["pins", "wheels", "wheel KiB", "ConfigMap KiB", "init container"],
        [[result["pins"], ", ".join(result["wheels"]), f"{result['wheel_bytes'] / 1024:.0f}",
          f"{result['configmap_bytes'] / 1024:.0f}", result["installer_says"]]],
    )  # fmt: skip
    times = md_table(
        ["render s", "install s", "start s", "rendering to a ready worker s"],
        [[f"{result['render_s']:.1f}", f"{result['install_s']:.1f}", f"{result['start_s']:.1f}",
          f"{result['ready_s']:.1f}"]],
    )  # fmt: skip
    return shipped + "\n\n" + times

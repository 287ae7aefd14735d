"""The init container's installer: the client's pinned packages into an overlay directory.

Runs in the pod with the image's own interpreter and nothing of daskcloud (standard library
and the image's pip only); the manifests ship this file's source in the cluster's sync
ConfigMap next to ``requirements.txt`` and the wheels built on the client::

    python /etc/daskcloud/sync/install.py --requirements requirements.txt \\
        --wheels /etc/daskcloud/sync --target /opt/daskcloud/overlay [--index-url URL]

1. Every ``name==version`` the image already holds at that version is left out, and so is
   every shipped wheel it already holds: an image built by ``daskcloud image build`` needs
   no download at all.
2. The rest is installed by pip with ``--no-deps --target`` (the pins are the whole closure;
   the image's environment is never touched, so the root filesystem stays read-only).
3. Every pin is checked in the overlay-first view the main containers get
   (``PYTHONPATH=<target>``); a version that differs fails the pod.

A failure exits 1 with pip's own last lines on stderr: the pod's status explains it.
"""

from __future__ import annotations

import argparse
import glob
import importlib.metadata
import os
import re
import subprocess
import sys
import time

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*$")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed(paths: list[str]) -> dict[str, str]:
    """Canonical name -> version of what ``paths`` hold (the first on the path wins)."""
    out: dict[str, str] = {}
    for dist in importlib.metadata.distributions(path=paths):
        name = dist.metadata["Name"]
        if name:
            out.setdefault(_canonical(name), dist.version)
    return out


def _pins(path: str) -> dict[str, str]:
    pins = {}
    with open(path) as f:
        for line in f:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            match = _PIN.match(line)
            if not match:
                sys.exit(f"daskcloud sync: {path}: not a pinned requirement: {line.strip()!r}")
            pins[_canonical(match.group(1))] = match.group(2)
    return pins


def _wheel_pin(path: str) -> tuple[str, str]:
    name, version = os.path.basename(path).split("-")[:2]
    return _canonical(name), version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", required=True)
    parser.add_argument("--wheels", required=True, help="folder of wheels to install")
    parser.add_argument("--target", required=True)
    parser.add_argument("--index-url")
    parser.add_argument("--extra-index-url", action="append", default=[])
    args = parser.parse_args(argv)

    started = time.monotonic()
    base = _installed([p for p in sys.path if p])  # the image's own environment
    pins = _pins(args.requirements)
    wheels = sorted(glob.glob(os.path.join(args.wheels, "*.whl")))
    wanted = dict(pins)
    wanted.update(_wheel_pin(w) for w in wheels)
    todo = [f"{n}=={v}" for n, v in sorted(pins.items()) if base.get(n) != v]
    todo += [w for w in wheels if base.get(_wheel_pin(w)[0]) != _wheel_pin(w)[1]]
    kept = len(wanted) - len(todo)
    os.makedirs(args.target, exist_ok=True)
    if todo:
        command = [
            sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir",
            "--disable-pip-version-check", "--no-input", "--prefer-binary", "--upgrade",
            "--target", args.target,
        ]  # fmt: skip
        if args.index_url:
            command += ["--index-url", args.index_url]
        for url in args.extra_index_url:
            command += ["--extra-index-url", url]
        done = subprocess.run([*command, *todo], capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
            print("\n".join(tail), file=sys.stderr)
            print(
                f"daskcloud sync: pip could not install {len(todo)} package(s) into "
                f"{args.target} (exit {done.returncode}); see pip's lines above",
                file=sys.stderr,
            )
            return 1
    seen = _installed([args.target, *[p for p in sys.path if p]])
    wrong = [f"{n} {seen.get(n, 'missing')} (wanted {v})" for n, v in wanted.items()
             if seen.get(n) != v]  # fmt: skip
    if wrong:
        print(f"daskcloud sync: wrong versions after the install: {', '.join(wrong)}",
              file=sys.stderr)  # fmt: skip
        return 1
    print(
        f"daskcloud sync: {len(todo)} installed, {kept} already in the image, "
        f"{time.monotonic() - started:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

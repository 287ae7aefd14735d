"""``python -m benchmarks NAME ... [--quick|--full]``: run benchmarks, write results, print tables.

Names: dispatch, scale, scale_sim, fixed_grid, memory, adaptive, delivery, main_job, or ``all`` (the
default). Each writes ``benchmarks/results/<name>.json`` with the machine
description and the load average before and after, and prints both as it goes.
``--write-docs`` puts each saved result's tables, with its date and load, into
``docs/benchmarks.md`` (between its ``<!-- bench:NAME -->`` markers); with
``--tables`` it does so without running anything.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import time
import traceback
from pathlib import Path

from benchmarks._common import RESULTS_DIR, load_average, machine, write_result

NAMES = (
    "dispatch",
    "scale",
    "scale_sim",
    "fixed_grid",
    "memory",
    "adaptive",
    "delivery",
    "main_job",
)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", default=["all"], help=f"{', '.join(NAMES)} or all")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="quick",
        action="store_true",
        default=True,
        help="small data and fewer trials: all of them in under 10 minutes",
    )
    mode.add_argument("--full", dest="quick", action="store_false", help="the sizes of issue 7")
    parser.add_argument(
        "--tables", action="store_true", help="print the tables of the saved results; run nothing"
    )
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help=f"write the saved results' tables into {DOCS.relative_to(DOCS.parents[1])}",
    )
    args = parser.parse_args(argv)
    names = list(NAMES) if "all" in args.names else args.names
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(NAMES)} or all")
    if args.tables:
        for name in names:
            result = _saved(name)
            if result is not None:
                print(f"### {name} ({_run_line(result)})\n\n{_tables(name, result)}\n")
        if args.write_docs:
            _write_docs(names)
        return 0
    info = machine()
    print(
        f"machine: {info['cores']} cores, {info['memory_gib']} GiB, {info['cpu']}; "
        f"load {load_average()}",
        flush=True,
    )
    t_all, failed = time.perf_counter(), []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        load_before, t = load_average(), time.perf_counter()
        print(f"== {name} ({'quick' if args.quick else 'full'}), load {load_before}", flush=True)
        try:
            result = module.run(quick=args.quick)
        except Exception as e:  # one broken benchmark does not lose the others' results
            traceback.print_exc()
            print(f"!! {name} failed: {type(e).__name__}: {e}", flush=True)
            failed.append(name)
            continue
        result.update(
            machine=info,
            load_before=load_before,
            load_after=load_average(),
            elapsed_s=time.perf_counter() - t,
            finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        path = write_result(name, result)
        print(module.tables(result), flush=True)
        print(
            f"-> {path} ({result['elapsed_s']:.0f} s; load {load_before} -> "
            f"{result['load_after']})\n",
            flush=True,
        )
    print(f"all done in {time.perf_counter() - t_all:.0f} s; load {load_average()}", flush=True)
    if args.write_docs:
        _write_docs(names)
    if failed:
        print(f"failed: {', '.join(failed)} (their previous results stay)", flush=True)
    return 1 if failed else 0


def _saved(name: str) -> dict | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _tables(name: str, result: dict) -> str:
    return importlib.import_module(f"benchmarks.{name}").tables(result)


def _run_line(result: dict) -> str:
    return (
        f"{result.get('mode', '')}, {result.get('finished')}, "
        f"{result.get('elapsed_s', 0):.0f} s, load {result.get('load_before')} -> "
        f"{result.get('load_after')}"
    )


def _write_docs(names: list[str]) -> None:
    """Replace each ``<!-- bench:NAME -->`` ... ``<!-- /bench:NAME -->`` block of the docs."""
    text = DOCS.read_text()
    for name in names:
        result = _saved(name)
        pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
        if result is None or not pattern.search(text):
            continue
        block = f"Run: {_run_line(result)}.\n\n{_tables(name, result)}\n"
        text = pattern.sub(lambda m, b=block: m.group(1) + b + m.group(2), text)
    DOCS.write_text(text)
    print(f"wrote {DOCS}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""``python -m benchmarks NAME ... [--quick|--full]``: run benchmarks, write results, print tables.

Names: fixed_grid, adaptive, dispatch, memory, scale_sim, or ``all`` (the
default). Each writes ``benchmarks/results/<name>.json`` with the machine
description and the load average before and after.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

from benchmarks._common import RESULTS_DIR, load_average, machine, write_result

NAMES = ("dispatch", "scale_sim", "fixed_grid", "memory", "adaptive")


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
    args = parser.parse_args(argv)
    names = list(NAMES) if "all" in args.names else args.names
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(NAMES)} or all")
    if args.tables:
        for name in names:
            path = RESULTS_DIR / f"{name}.json"
            if path.exists():
                result = json.loads(path.read_text())
                module = importlib.import_module(f"benchmarks.{name}")
                print(
                    f"### {name} ({result.get('mode', '')}, "
                    f"{result.get('finished')}, load {result.get('load_before')} -> "
                    f"{result.get('load_after')})\n\n{module.tables(result)}\n"
                )
        return 0
    info = machine()
    print(
        f"machine: {info['cores']} cores, {info['memory_gib']} GiB, {info['cpu']}; "
        f"load {load_average()}",
        flush=True,
    )
    t_all = time.perf_counter()
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name} ({'quick' if args.quick else 'full'})", flush=True)
        load_before, t = load_average(), time.perf_counter()
        result = module.run(quick=args.quick)
        result.update(
            machine=info,
            load_before=load_before,
            load_after=load_average(),
            elapsed_s=time.perf_counter() - t,
            finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        path = write_result(name, result)
        print(module.tables(result), flush=True)
        print(f"-> {path} ({result['elapsed_s']:.0f} s)\n", flush=True)
    print(f"all done in {time.perf_counter() - t_all:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

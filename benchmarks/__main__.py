"""`python -m benchmarks [name ...]`: run the performance suite (every benchmark by default) and print a summary."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import BENCHMARKS
from benchmarks.core import Result, fmt, table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="name", help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    parser.add_argument("--customers", type=int, default=100_000, help="rule_eval, boundary_path: synthetic customers")
    parser.add_argument(
        "--bulk-customers", type=int, default=1_000_000, help="bulk_eval: synthetic customers (column-wise)"
    )
    parser.add_argument("--shard", type=int, default=250_000, help="bulk_memory: customers in the worker's shard")
    parser.add_argument("--events", type=int, default=200, help="event_cost: OrderCompleted events measured")
    parser.add_argument("--import-rows", type=int, default=100_000, help="imports: rows of the end-to-end import")
    parser.add_argument("--memory-rows", default="10000,100000,1000000", help="imports: row counts for peak memory")
    parser.add_argument("--repeats", type=int, default=7, help="timed repetitions per candidate (medians)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when a goal is missed")
    return parser


def run(names: Sequence[str], args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        results.extend(module.run(args))
    return results


def summary(results: Sequence[Result]) -> str:
    rows = [
        [
            r.name,
            fmt(r.measured, r.unit),
            fmt(r.baseline, r.unit) if r.baseline is not None else "-",
            f"{r.ratio:.2f}" if r.ratio is not None else "-",
            f"{'ratio ' if r.ratio is not None else ''}<= {r.goal:g}",
            "pass" if r.passed else "FAIL",
        ]
        for r in results
    ]
    return table(["benchmark", "measured", "baseline", "ratio", "goal", "result"], rows, right={1, 2, 3})


def machine() -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)
    started = dt.datetime.now(dt.UTC)
    results = run(names, args)
    elapsed = (dt.datetime.now(dt.UTC) - started).total_seconds()
    print(f"\n== summary ({elapsed:.0f} s; ratio = ours / baseline, measured in the same run)")
    print(summary(results))
    if args.out:
        report = {
            "machine": machine(),
            "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "results": [r.as_json() for r in results],
        }
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"results written to {args.out}")
    return 1 if args.check and not all(r.passed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

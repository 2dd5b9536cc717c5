"""bulk_memory: peak memory of a refresh worker evaluating a 250k-customer shard with the 50 segments.

Each measurement is a fresh process (``benchmarks.bulk_worker``) whose resident-set high-water mark
(``ru_maxrss``) is read at the end. The customers stream from the synthetic shop through ``build_view`` into
``BulkEvaluator.evaluate`` as a generator, the way a worker reading a scan shard page by page would feed it.

* measured: the worker's peak while evaluating the shard (goal: at most 1 GB);
* baseline: the same process's resident set once the interpreter, the layer, numpy and DuckDB are loaded and
  the evaluator built, before the first customer (the floor); printed as the ratio measured / baseline. The goal
  bounds the measured megabytes themselves, which hardly depend on the machine;
* context: the raw size of the shard's stored facts as JSON (profiles, orders, engagement events).

The worker also reports how long encoding the views into DuckDB took (the public path's build cost, apart from
producing the views) and how long the evaluation itself took.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping

from benchmarks import LAYER, ROOT
from benchmarks.bulk_eval import segment_trees
from benchmarks.core import Result, fmt, section, table

GOAL_MB = 1024.0


def worker(customers: int, trees: Mapping[str, object]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(LAYER)])}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bulk_worker", "--customers", str(customers)],
        input=json.dumps(trees),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def run(args: argparse.Namespace) -> list[Result]:
    customers = args.shard
    trees = segment_trees()
    section(f"bulk_memory: a worker evaluating {len(trees)} segments over a {customers:,}-customer shard")
    shard = worker(customers, trees)
    ratio = shard["peak_mb"] / shard["floor_mb"]
    rows = [
        ["resident before the first customer (baseline)", fmt(shard["floor_mb"], "MB"), ""],
        ["peak while evaluating the shard", fmt(shard["peak_mb"], "MB"), ""],
        ["raw stored facts of the shard, as JSON", fmt(shard["raw_mb"], "MB"), ""],
        [
            "producing the views (synthetic shop + build_view)",
            fmt(shard["produce_s"], "s"),
            fmt(shard["produce_cpu_s"], "s"),
        ],
        [
            "encoding the views into DuckDB (BulkEvaluator.load)",
            fmt(shard["load_s"], "s"),
            fmt(shard["load_cpu_s"], "s"),
        ],
        ["evaluating (BulkEvaluator.run)", fmt(shard["run_s"], "s"), fmt(shard["run_cpu_s"], "s")],
    ]
    print(table(["worker", "figure", "CPU"], rows, right={1, 2}))
    print(f"peak RSS / baseline: {ratio:.2f}")
    print(
        f"{int(shard['customers']):,} customers, raw stored facts ~{shard['raw_mb']:,.0f} MB as JSON; peak RSS is "
        f"{shard['peak_mb'] / shard['raw_mb']:.2f}x the raw data; {int(shard['memberships']):,} memberships; "
        f"{int(shard['exceptional'])} customers decided per customer, {int(shard['fallback'])} fallback rules"
    )
    return [
        Result(
            name="bulk_memory",
            measured=shard["peak_mb"],
            unit="MB",
            goal=GOAL_MB,
            details={
                "customers": customers,
                "worker": shard,
                "over_floor": ratio,
                "over_raw_data": shard["peak_mb"] / shard["raw_mb"],
            },
        )
    ]

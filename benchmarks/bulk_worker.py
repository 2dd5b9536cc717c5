"""One refresh worker's shard in a fresh process, for ``bulk_memory``: reports its peak memory as JSON.

    python -m benchmarks.bulk_worker --customers 250000 < rules.json

The rule trees (segment id -> tree) come on stdin. Customers stream from the synthetic shop, one history at a
time, into ``build_view`` and on into the bulk evaluator. The report gives the resident set once everything is
imported and the evaluator built (the floor: interpreter, pydantic, numpy, DuckDB) and its high-water mark at
the end.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from benchmarks.bulk_eval import NOW, SEED, load_bulk_module
from local_runtime.shop import generate_histories
from segmentation.features.compute import CustomerHistory, CustomerView, build_view
from segmentation.rules import parse_rule

TZ = ZoneInfo("Europe/London")
SAMPLE_EVERY = 10  # raw size is measured on every 10th customer and scaled up: serialising all is slow


def raw_bytes(history: CustomerHistory) -> int:
    """The customer's stored facts as JSON: profile, orders and engagement events."""
    size = len(history.profile.model_dump_json())
    size += sum(len(order.model_dump_json()) for order in history.orders)
    size += sum(len(event.model_dump_json()) for event in history.engagements)
    return size


class Stream:
    """The shard's views, produced one at a time; it keeps the time spent producing them and the raw size."""

    def __init__(self, customers: int) -> None:
        self.customers = customers
        self.produce_s = 0.0
        self.produce_cpu_s = 0.0
        self.sampled_bytes = 0
        self.count = 0

    def __iter__(self) -> Iterator[CustomerView]:
        histories = generate_histories(SEED, self.customers, now=NOW)
        while True:
            started, cpu = time.perf_counter(), time.process_time()
            history = next(histories, None)
            if history is None:
                return
            if self.count % SAMPLE_EVERY == 0:
                self.sampled_bytes += raw_bytes(history)
            view = build_view(history, NOW, TZ)
            self.count += 1
            self.produce_s += time.perf_counter() - started
            self.produce_cpu_s += time.process_time() - cpu
            yield view

    @property
    def raw_mb(self) -> float:
        return self.sampled_bytes * SAMPLE_EVERY / 2**20


def resident_mb() -> float:
    """The process's current resident set (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, required=True)
    args = parser.parse_args()
    trees = json.load(sys.stdin)
    stream = Stream(args.customers)
    bulk = load_bulk_module()
    evaluator = bulk.BulkEvaluator({k: parse_rule(v) for k, v in trees.items()}, NOW, TZ)
    bulk.open_shard(evaluator.plan(), ()).close()  # open the database, so the floor includes DuckDB itself
    floor_mb = resident_mb()
    # Wall and CPU time (all threads): the machine may be shared, and CPU time is what the work itself costs.
    started, started_cpu = time.perf_counter(), time.process_time()
    shard = evaluator.load(stream)
    loaded, loaded_cpu = time.perf_counter(), time.process_time()
    members = evaluator.run(shard)
    finished, finished_cpu = time.perf_counter(), time.process_time()
    shard.close()
    report: dict[str, object] = dict(
        load_s=loaded - started - stream.produce_s,
        load_cpu_s=loaded_cpu - started_cpu - stream.produce_cpu_s,
        run_s=finished - loaded,
        run_cpu_s=finished_cpu - loaded_cpu,
        memberships=sum(len(found) for found in members.values()),
        exceptional=len(shard.exceptional),
        fallback=len(shard.plan.fallback),
        floor_mb=floor_mb,
    )
    report.update(
        customers=stream.count,
        produce_s=stream.produce_s,
        produce_cpu_s=stream.produce_cpu_s,
        raw_mb=stream.raw_mb,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux reports KiB
    )
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

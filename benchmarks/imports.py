"""imports: the import pipeline's three figures, each against a baseline measured in the same run.

(a) parse: rows per second to read, validate and normalise a Shopify customers export (no I/O: the file is in
    memory), against plain ``csv.reader`` over the same bytes. Goal: at most 4x the time.
(b) end_to_end: an N-row import (default 100,000) through the local runtime, from ``PutObject`` to a completed
    job (S3 event, planning, chunks, merging with the nine built-in segments active, sync tasks and
    ``SegmentMembershipChanged`` events, the report), against raw ``BatchWriteItem`` of exactly the items the
    import left in the table, into an empty table of the same shape on the same local DynamoDB. Goal: 1.5x.
(c) memory: peak resident memory of a process that reads, normalises and batches 10k, 100k and 1M rows (the
    chunk pipeline without AWS), each in a fresh interpreter. Goal: the 1M-row peak within 1.25x the 10k one.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks import ROOT
from benchmarks.core import Result, fmt, interleaved, median, section, silenced_stdout, table, timed

FUNCTION = ROOT / "functions" / "imports"
if str(FUNCTION) not in sys.path:
    sys.path.insert(0, str(FUNCTION))

PARSE_GOAL = 4.0
END_TO_END_GOAL = 1.5
MEMORY_GOAL = 1.25
PARSE_ROWS = 50_000
SEED = 11


def shopify_customers(rows: int, *, templates: int = 2000) -> io.BytesIO:
    """A Shopify customers export of ``rows`` distinct people (synthetic shop people, renumbered)."""
    from local_runtime.exports import customer_rows, people

    lines = customer_rows(people(SEED, min(rows, templates)))
    header = next(lines)
    body = list(lines)
    out = io.StringIO()
    out.write(header)
    for n in range(rows):
        line = body[n % len(body)]
        if n >= len(body):  # renumber: a distinct email and Shopify id per row
            cells = next(csv.reader([line]))
            cells[0] = f"'{8_000_000 + n}"
            cells[3] = cells[3].replace("@", f"+{n}@", 1)
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(cells)
            line = buffer.getvalue()
        out.write(line)
    return io.BytesIO(out.getvalue().encode())


# ---------------------------------------------------------------- (a) parse


def parse_rows(blob: bytes) -> int:
    from importer.mapping import Row, read_stream

    from segmentation.imports import Manifest

    now = datetime(2026, 11, 20, tzinfo=UTC)
    stream = read_stream(
        io.BytesIO(blob), Manifest(), key="imports/b/customers.csv", as_of=now, shop_tz=UTC, head=blob[:65536]
    )
    return sum(1 for row in stream if isinstance(row, Row))


def plain_rows(blob: bytes) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(blob.decode("utf-8"), newline=""))) - 1


def bench_parse(args: argparse.Namespace) -> Result:
    section(f"imports.parse: read + validate + normalise {PARSE_ROWS:,} Shopify customer rows vs csv.reader")
    blob = shopify_customers(PARSE_ROWS).getvalue()
    kept = parse_rows(blob)  # warm: imports, phone metadata, country tables
    assert plain_rows(blob) == PARSE_ROWS
    samples = interleaved(
        {
            "csv.reader": lambda: timed(lambda: plain_rows(blob))[0],
            "import": lambda: timed(lambda: parse_rows(blob))[0],
        },
        max(3, args.repeats // 2),
    )
    ours, base = median(samples["import"]), median(samples["csv.reader"])
    rows = [
        ["csv.reader (decode + split)", fmt(PARSE_ROWS / base), fmt(base * 1e6 / PARSE_ROWS)],
        ["import (decode, map, validate, normalise)", fmt(PARSE_ROWS / ours), fmt(ours * 1e6 / PARSE_ROWS)],
    ]
    print(table(["pipeline", "rows/s", "µs/row"], rows, right={1, 2}))
    print(f"{kept:,} of {PARSE_ROWS:,} rows valid; ratio {ours / base:.2f}")
    return Result(
        name="imports.parse",
        measured=PARSE_ROWS / ours,
        unit="rows/s",
        goal=PARSE_GOAL,
        baseline=PARSE_ROWS / base,
        ratio=ours / base,
        details={"valid_rows": kept},
    )


# ---------------------------------------------------------------- (b) end to end


def bench_end_to_end(args: argparse.Namespace) -> Result:
    from local_runtime import LocalAws, Router, create_resources, load_template

    rows = args.import_rows
    section(f"imports.end_to_end: a {rows:,}-row Shopify customers import through the local runtime")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    blob = shopify_customers(rows).getvalue()
    with LocalAws() as aws, silenced_stdout():
        env = create_resources(load_template(), endpoint_url=aws.endpoint_url)
        router = Router(env)
        from segmentation.observability import logger

        logger.setLevel("WARNING")
        headers = {"x-api-key": router.api_key}
        for template in router.api("GET", "/segment-templates", headers=headers)[2]["templates"]:
            router.api("POST", f"/segment-templates/{template['template_id']}/segments", headers=headers)
        table_name = env.physical_ids["SegmentationTable"]
        ddb = env.client("dynamodb")
        before = _keys(ddb, table_name)
        bucket = env.physical_ids["ImportBucket"]
        started = time.perf_counter()
        env.client("s3").put_object(Bucket=bucket, Key="imports/bench/customers_export.csv", Body=blob)
        stats = router.drain(max_rounds=1_000_000)
        import_seconds = time.perf_counter() - started
        print(f"import done in {import_seconds:.1f} s", file=sys.stderr, flush=True)
        after = [item for item in _scan(ddb, table_name) if (item["PK"]["S"], item["SK"]["S"]) not in before]
        job = _job(next(item for item in after if item["PK"]["S"].startswith("IMP#")))
        items = [item for item in after if not item["PK"]["S"].startswith("IMP#")]
        baseline_table = _empty_copy(ddb, table_name)
        baseline_seconds, _ = timed(lambda: _batch_write(ddb, baseline_table, items))
    ratio = import_seconds / baseline_seconds
    print(
        table(
            ["what", "seconds", "rows/s"],
            [
                ["import: PutObject -> job completed", f"{import_seconds:.1f}", fmt(rows / import_seconds)],
                [
                    f"BatchWriteItem of its {len(items):,} items",
                    f"{baseline_seconds:.1f}",
                    fmt(rows / baseline_seconds),
                ],
            ],
            right={1, 2},
        )
    )
    print(f"job: {json.dumps(job)}; handler invocations {stats.invocations_by_function}; errors {len(stats.errors)}")
    return Result(
        name="imports.end_to_end",
        measured=import_seconds,
        unit="s",
        goal=END_TO_END_GOAL,
        baseline=baseline_seconds,
        ratio=ratio,
        details={"rows": rows, "items": len(items), "job": job},
    )


def _keys(ddb: Any, table: str) -> set[tuple[str, str]]:
    return {(item["PK"]["S"], item["SK"]["S"]) for item in _scan(ddb, table)}


def _scan(ddb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _job(item: dict[str, Any]) -> dict[str, Any]:
    names = ("read", "created", "merged", "duplicates", "rejected", "suppressed", "chunks_total")
    out: dict[str, Any] = {name: int(item[name]["N"]) for name in names if name in item}
    out["state"] = item["state"]["S"]
    return out


def _empty_copy(ddb: Any, table: str) -> str:
    spec = ddb.describe_table(TableName=table)["Table"]
    name = "baseline-" + table
    indexes = [
        {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
        for i in spec.get("GlobalSecondaryIndexes", [])
    ]
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=spec["AttributeDefinitions"],
        KeySchema=spec["KeySchema"],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=indexes,
    )
    return name


def _batch_write(ddb: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        pending: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        while pending:
            pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


# ---------------------------------------------------------------- (c) memory

_MEMORY_CHILD = """
import io, resource, sys, tempfile
sys.path[:0] = {paths!r}
from datetime import UTC, datetime
from benchmarks.imports import write_rows
from importer.mapping import RowReader, resolve
from importer.merge import Counts
from importer.pipeline import _batches
from importer.text import canonical, detect, read_records
from segmentation.imports import Manifest
rows = int(sys.argv[1])
with tempfile.TemporaryFile() as f:
    write_rows(f, rows)
    f.seek(0)
    head = f.read(65536); f.seek(0)
    layout = detect(head)
    records = read_records(canonical(f, layout), layout)
    header = next(records)
    mapping = resolve(header.fields, Manifest(), key="imports/m/c.csv", as_of=datetime.now(UTC), shop_tz=UTC)
    counts = Counts()
    batches = 0
    with tempfile.TemporaryFile() as rejects:
        def on_reject(reject, values):
            rejects.write(b"x")
        for batch in _batches(records, RowReader(mapping), mapping, counts, on_reject, skip_header=False):
            batches += 1
print(counts.read, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_rows(target: Any, rows: int) -> None:
    """``rows`` customer rows to a binary file, in constant memory (a pool of people, renumbered)."""
    pool = shopify_customers(1000).getvalue().decode().splitlines(keepends=True)
    header, body = pool[0], pool[1:]
    target.write(header.encode())
    for n in range(rows):
        line = body[n % len(body)]
        target.write(line.replace("@", f"+{n}@", 1).encode())


def bench_memory(args: argparse.Namespace) -> Result:
    sizes = [int(s) for s in args.memory_rows.split(",")]
    section(f"imports.memory: peak RSS reading and normalising {', '.join(f'{s:,}' for s in sizes)} rows")
    code = _MEMORY_CHILD.format(paths=[str(FUNCTION), str(ROOT / "layers" / "segmentation"), str(ROOT)])
    peaks: dict[int, float] = {}
    seconds: dict[int, float] = {}
    for size in sizes:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code, str(size)], capture_output=True, text=True, check=True)
        seconds[size] = time.perf_counter() - started
        read, kib = out.stdout.split()
        assert int(read) == size, out.stdout
        peaks[size] = int(kib) / 1024
    rows = [[f"{s:,}", f"{peaks[s]:.1f}", f"{seconds[s]:.1f}"] for s in sizes]
    print(table(["rows", "peak RSS MiB", "seconds"], rows, right={0, 1, 2}))
    small, large = sizes[0], sizes[-1]
    return Result(
        name="imports.memory",
        measured=peaks[large],
        unit="MiB",
        goal=MEMORY_GOAL,
        baseline=peaks[small],
        ratio=peaks[large] / peaks[small],
        details={"peaks_mib": {str(s): round(p, 1) for s, p in peaks.items()}},
    )


def run(args: argparse.Namespace) -> list[Result]:
    results = [bench_parse(args), bench_memory(args)]
    if args.import_rows:
        results.append(bench_end_to_end(args))
    return results


__all__ = ["run", "tempfile", "write_rows"]

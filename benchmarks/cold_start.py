"""cold_start: import time of each handler module in a fresh interpreter, against ``import boto3`` alone.

Each sample is a new process with the layer and the function's folder on ``sys.path`` (as Lambda mounts them);
the clock runs around the import only, so interpreter start-up is excluded. Candidates are interleaved, the
first round (which may write bytecode caches) is discarded, and medians are compared.

Handlers create boto3 clients lazily, so the rest of boto3 is imported by the first AWS call; that deferred
import is timed too, after the handler's, and reported alongside (it is not part of the goal).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

from benchmarks import LAYER, ROOT
from benchmarks.core import Result, fmt, interleaved, median, section, table

GOAL = 1.5
HANDLERS: dict[str, Path] = {
    "api": ROOT / "functions" / "api",
    "customer_events": ROOT / "functions" / "customer_events",
    "channel_sync": ROOT / "functions" / "channel_sync",
    "scheduled_refresh": ROOT / "functions" / "scheduled_refresh",
    "segment_refresh": ROOT / "functions" / "segment_refresh",
}
BASELINE = "boto3"
MARKER = "-- import starts --"

# What Lambda sets before the handler module is imported (values are placeholders: nothing is called).
LAMBDA_ENVIRONMENT = {
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_LAMBDA_FUNCTION_NAME": "cold-start",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "POWERTOOLS_SERVICE_NAME": "segmentation",
    "POWERTOOLS_METRICS_NAMESPACE": "Segmentation",
    "LOG_LEVEL": "INFO",
}

_SCRIPT = """
import sys, time
sys.path[:0] = {paths!r}
sys.stderr.write({marker!r} + "\\n")
sys.stderr.flush()
start = time.perf_counter()
import {module}
middle = time.perf_counter()
{then}
print(middle - start, time.perf_counter() - middle)
"""


def _command(name: str, *flags: str, then_boto3: bool = True) -> list[str]:
    """The interpreter command that imports ``name`` (and then the rest of boto3, unless told not to)."""
    paths = [] if name == BASELINE else [str(HANDLERS[name]), str(LAYER)]
    module = BASELINE if name == BASELINE else "app"
    then = "import boto3" if then_boto3 else ""
    script = _SCRIPT.format(paths=paths, module=module, marker=MARKER, then=then)
    return [sys.executable, *flags, "-c", script]


def _environment() -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_", "POWERTOOLS_"))}
    return {**inherited, **LAMBDA_ENVIRONMENT}


def import_seconds(name: str, deferred: list[float] | None = None) -> float:
    """One fresh interpreter importing the handler ``name`` (or boto3): seconds spent in the import.

    The time the rest of boto3 then takes to import is appended to ``deferred``.
    """
    out = subprocess.run(_command(name), capture_output=True, text=True, check=True, env=_environment(), cwd="/")
    first, then = (float(word) for word in out.stdout.split())
    if deferred is not None:
        deferred.append(then)
    return first


def slowest_imports(name: str, top: int = 10) -> list[tuple[str, float, float]]:
    """``python -X importtime``: the modules with the largest cumulative import time (module, self ms, cum ms)."""
    out = subprocess.run(
        _command(name, "-X", "importtime", then_boto3=False),
        capture_output=True,
        text=True,
        check=True,
        env=_environment(),
        cwd="/",
    )
    lines = out.stderr.split(MARKER, 1)[-1].splitlines()
    rows: dict[str, tuple[str, float, float]] = {}
    for line in lines:
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, cumulative_us, module = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if not self_us.isdigit():
            continue
        # A package reached again through a circular import is reported twice: keep its larger figure.
        row = (module, int(self_us) / 1e3, int(cumulative_us) / 1e3)
        if module not in rows or rows[module][2] < row[2]:
            rows[module] = row
    return sorted(rows.values(), key=lambda row: row[2], reverse=True)[:top]


def run(args: argparse.Namespace) -> list[Result]:
    names = [BASELINE, *HANDLERS]
    section(f"cold_start: handler imports vs `import {BASELINE}`, fresh interpreters, {args.repeats} rounds")
    for name in names:  # the discarded round: bytecode caches are written here, not in a measured sample
        import_seconds(name)
    deferred: dict[str, list[float]] = {name: [] for name in names}
    samples = interleaved({name: partial(import_seconds, name, deferred[name]) for name in names}, args.repeats)
    medians = {name: median(times) * 1e3 for name, times in samples.items()}
    then_boto3 = {name: median(times) * 1e3 for name, times in deferred.items()}
    base = medians[BASELINE]
    rows = [
        [
            name,
            fmt(medians[name]),
            fmt(min(samples[name]) * 1e3),
            fmt(max(samples[name]) * 1e3),
            f"{medians[name] / base:.2f}",
            fmt(then_boto3[name]) if name != BASELINE else "-",
        ]
        for name in names
    ]
    headers = ["module", "median ms", "min ms", "max ms", "ratio", "then boto3 ms"]
    print(table(headers, rows, right={1, 2, 3, 4, 5}))

    slowest = max(HANDLERS, key=lambda name: medians[name])
    print(f"\nslowest handler: {slowest}; top 10 modules by cumulative import time (python -X importtime):")
    top = slowest_imports(slowest)
    print(table(["module", "self ms", "cumulative ms"], [[m, f"{s:.1f}", f"{c:.1f}"] for m, s, c in top], right={1, 2}))
    return [
        Result(
            name=f"cold_start.{name}",
            measured=medians[name],
            baseline=base,
            unit="ms",
            ratio=medians[name] / base,
            goal=GOAL,
            details={
                "samples_ms": [t * 1e3 for t in samples[name]],
                "baseline_samples_ms": [t * 1e3 for t in samples[BASELINE]],
                "deferred_boto3_ms": then_boto3[name],
                **({"slowest_imports_ms": [list(row) for row in top]} if name == slowest else {}),
            },
        )
        for name in HANDLERS
    ]

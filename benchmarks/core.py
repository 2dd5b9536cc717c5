"""What every benchmark shares: the result type, medians, interleaved timing and plain-text tables."""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Result:
    """One figure against its baseline.

    With a ``baseline`` the goal bounds ``ratio`` (the service's cost over the baseline's: lower is better);
    without one it bounds ``measured`` itself (a count, which does not depend on the machine).
    """

    name: str
    measured: float
    unit: str
    goal: float
    baseline: float | None = None
    ratio: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return self.ratio if self.ratio is not None else self.measured

    @property
    def passed(self) -> bool:
        return self.score <= self.goal

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def interleaved(candidates: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Run each candidate ``repeats`` times, alternating their order every round; each returns its own time.

    Alternating spreads the machine's slow spells over every candidate instead of one of them.
    """
    names = list(candidates)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(candidates[name]())
    return times


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of ``fn()`` with the cyclic collector paused (as ``timeit`` does), and its result."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        value = fn()
        return time.perf_counter() - start, value
    finally:
        if enabled:
            gc.enable()


@contextmanager
def silenced_stdout() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null: handler logs and metrics would bury the report.

    At the descriptor level because the Lambda logger holds its own reference to the original stream.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, right: set[int] | None = None) -> str:
    """A plain-text table; columns in ``right`` (by index) are right-aligned, as numbers read best."""
    aligned = right if right is not None else set()
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        parts = [c.rjust(w) if i in aligned else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def fmt(value: float | None, unit: str = "") -> str:
    """A number with about four significant digits (or a dash), and its unit."""
    if value is None:
        return "-"
    if value != 0 and abs(value) < 1e-3:
        text = f"{value:.3g}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    else:
        text = f"{value:.4g}"
    return f"{text} {unit}".rstrip()

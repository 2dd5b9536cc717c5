"""The reject report: one CSV row per rejected input row (row number, column, reason, the row as read).

Everything written back is neutralised against CSV injection: a cell that a spreadsheet would run as a
formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading apostrophe,
so it shows as text. The original values are kept otherwise: the report is for fixing the rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import IO

HEADER = ("row", "column", "reason", "values")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
MAX_VALUES_CHARS = 4096  # of the original row, per reject: enough to find and fix it


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA) else cell


def reject_line(row: int, column: str, reason: str, values: Iterable[str] | None) -> str:
    """One report row as CSV text (with its line ending)."""
    shown = ""
    if values is not None:
        joined = " | ".join(v.replace("\r", " ").replace("\n", " ") for v in values)
        shown = joined[:MAX_VALUES_CHARS]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([neutralise(str(c)) for c in (row, column, reason, shown)])
    return buffer.getvalue()


def header_line() -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(HEADER)
    return buffer.getvalue()


def write_parts(target: IO[bytes], parts: Iterable[IO[bytes]]) -> None:
    """The report: the header, then each chunk's part in order, streamed."""
    target.write(header_line().encode())
    for part in parts:
        while block := part.read(1 << 20):
            target.write(block)

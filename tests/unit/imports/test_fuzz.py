"""CSV fuzzer: whatever the file holds, no crash, every bad row reported by number, every good row kept."""

from __future__ import annotations

import gzip
import random

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from importer.mapping import Reject, Row
from importer.report import reject_line

from segmentation.imports import Manifest
from tests.unit.imports.helpers import parse

FORMULA = ("=", "+", "-", "@", "\t", "\r")
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéüñøßABCXYZ ", min_size=1, max_size=12).map(str.strip).filter(bool)
COUNTRIES = st.sampled_from(["GB", "fr", "Germany", "United Kingdom", "826", "NLD"])


@st.composite
def good_row(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(NAMES)
    country = draw(COUNTRIES)
    birthday = draw(st.sampled_from(["", "1990-05-17", "17/05/1990"]))
    quoting = draw(st.sampled_from(["plain", "plain", "comma", "newline", "escaped"]))
    if quoting == "comma":
        name = f'"{name}, Jr"'  # a quoted field with the delimiter inside
    elif quoting == "newline":
        name = f'"{name}\nsecond line"'  # a genuine multi-line field
    elif quoting == "escaped":
        name = f'"{name} ""the"" name"'
    return name, f"{name},{country},{birthday}"


BAD_KINDS = (
    "email",
    "formula_email",
    "country",
    "birthday",
    "ragged_more",
    "ragged_less",
    "quote",
    "binary",
    "control",
)


@st.composite
def bad_row(draw: st.DrawFn, n: int, width: int) -> str:
    kind = draw(st.sampled_from(BAD_KINDS))
    prefix = draw(st.sampled_from(FORMULA[:4]))
    email = f"bad{n}@example.com"
    match kind:
        case "email":
            return f"{draw(st.sampled_from(['nope', 'a@', '@b.com', 'x y@z.com']))},Name,GB," + "," * (width - 4)
        case "formula_email":
            return f"{prefix}HYPERLINK(1),{prefix}cmd,GB," + "," * (width - 4)
        case "country":
            return f"{email},Name,{prefix}Atlantis," + "," * (width - 4)
        case "birthday":
            day = draw(st.sampled_from(["yesterday", "31/02/1990", "2999-01-01"]))
            return f"{email},Name,GB,{day}" + "," * (width - 4)
        case "ragged_more":
            return f"{email},Name,GB" + ",x" * (width - 2)
        case "ragged_less":
            return f"{email},Name"
        case "quote":
            return f'{email},Name,"GB,'
        case "binary":
            garbage = draw(st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")))
            return "\x00" + garbage.decode("latin-1")
        case _:
            return f"{email},Na\x07me,GB," + "," * (width - 4)


@st.composite
def csv_file(draw: st.DrawFn) -> tuple[bytes, dict[int, str], set[int]]:
    """A contacts CSV, the email expected at each good row number, and the bad row numbers."""
    count = draw(st.integers(min_value=0, max_value=25))
    duplicate_header = draw(st.booleans())
    header = "Email,First Name,Country,Birthday" + (",first name" if duplicate_header else "")
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "mixed"]))
    lines: list[bytes] = []
    good: dict[int, str] = {}
    bad: set[int] = set()
    for n in range(count):
        row_number = n + 2
        if draw(st.booleans()):
            name, rest = draw(good_row())
            email = f"u{n}@example.com"
            text = f"{email},{rest}" + (f",{name}" if duplicate_header else "")
            good[row_number] = email
            latin = encoding == "mixed" and draw(st.booleans())
            lines.append(text.encode("latin-1" if latin else "utf-8"))
        else:
            text = draw(bad_row(n, 5 if duplicate_header else 4))
            bad.add(row_number)
            lines.append(text.encode("utf-8") if not text.startswith("\x00") else text.encode("latin-1"))
    body = b"\n".join([header.encode(), *lines]) + b"\n"
    if encoding == "utf-8-sig":
        body = b"\xef\xbb\xbf" + body
    elif encoding == "utf-16":
        body = body.decode("utf-8", errors="surrogateescape").encode("utf-16", errors="surrogatepass")
    if draw(st.booleans()):
        body = gzip.compress(body)
    return body, good, bad


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_file())
def test_fuzz_every_good_row_kept_every_bad_row_reported(case: tuple[bytes, dict[int, str], set[int]]) -> None:
    blob, good, bad = case
    note(repr(gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob))
    results = parse(blob, Manifest(kind="contacts"))
    kept = {r.row: r.email for r in results if isinstance(r, Row)}
    rejected = {r.row for r in results if isinstance(r, Reject)}
    assert kept == good
    assert rejected == bad
    for reject in (r for r in results if isinstance(r, Reject)):
        line = reject_line(reject.row, reject.column, reject.reason, ["=x", "+y", "ok"])
        assert not any(cell.startswith(FORMULA) for cell in _cells(line))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_binary_garbage_never_crashes(blob: bytes) -> None:
    try:
        results = parse(blob)
    except ValueError:  # FormatError: the file as a whole cannot be read, said clearly
        return
    assert all(isinstance(r, (Row, Reject)) for r in results)


def test_fuzz_random_bytes_inside_a_utf8_file_reject_only_their_rows() -> None:
    rng = random.Random(5)
    lines = [b"email,first name"]
    for n in range(200):
        if n % 10 == 3:
            lines.append(bytes(rng.randrange(0x80, 0x100) for _ in range(30)) + b"\x00")
        else:
            lines.append(f"u{n}@example.com,N{n}".encode())
    results = parse(b"\n".join(lines) + b"\n")
    assert sum(isinstance(r, Row) for r in results) == 180
    assert sorted(r.row for r in results if isinstance(r, Reject)) == [n + 2 for n in range(200) if n % 10 == 3]


def _cells(line: str) -> list[str]:
    import csv
    import io

    return next(csv.reader(io.StringIO(line)))

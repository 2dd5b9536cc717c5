"""Bytes to records, in constant memory: compression, text encoding, CSV dialect or JSON Lines.

Every format is read as a stream of physical lines in an ASCII-compatible encoding (the *canonical* byte
stream): plain UTF-8 and Latin-1 files as they are, gzip decompressed on the fly, UTF-16 transcoded to UTF-8
on the fly. Byte offsets of record boundaries are offsets in that stream, so a chunk of a plain file is an S3
byte range, and a chunk of a gzip or UTF-16 file is the same range of the decoded stream.

CSV records are parsed by ``csv.reader`` from those lines, with three guards that keep a bad row from taking
good ones with it: a physical line longer than ``MAX_LINE_BYTES`` is skipped and its row rejected; a record
that grows past ``MAX_RECORD_BYTES`` (an opening quote that never closes) is rejected by its first line and
the lines after it are read again as rows of their own; and so is a multi-line record with the wrong number
of fields. Each line is decoded on its own, so a Latin-1 row in a UTF-8 file is still read correctly.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

MAX_LINE_BYTES = 1 << 20
MAX_RECORD_BYTES = 1 << 20
HEAD_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
# csv's own limit would raise on a long field; ours (per line and record) is checked first.
csv.field_size_limit(MAX_RECORD_BYTES * 2)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Layout:
    """How to read a file: compression, encoding, format and CSV dialect."""

    compression: str = "none"  # "none" | "gzip"
    encoding: str = "utf-8"  # "utf-8" | "utf-16" | "latin-1"
    format: str = "csv"  # "csv" | "jsonl"
    delimiter: str = ","

    @property
    def line_encoding(self) -> str:
        """Encoding of the canonical stream's lines (UTF-16 is transcoded to UTF-8)."""
        return "latin-1" if self.encoding == "latin-1" else "utf-8"

    @property
    def byte_ranges(self) -> bool:
        """True when canonical offsets are offsets in the object itself (S3 range reads work)."""
        return self.compression == "none" and self.encoding != "utf-16"


class Record(NamedTuple):
    """One row: its number (the header is row 1), its fields or the reason it could not be read, and the
    canonical offset just past it. (A tuple: there is one per row.)"""

    row: int
    fields: list[str] | None
    error: str | None
    end: int


class FormatError(ValueError):
    """The file as a whole cannot be read (not a single row could be)."""


# ---------------------------------------------------------------- detection


def detect(head: bytes, *, declared: dict[str, Any] | None = None, name: str = "") -> Layout:
    """The layout of a file from its first bytes (and its name), with anything the mapping declares winning."""
    declared = declared or {}
    compression = declared.get("compression") or ("gzip" if head[:2] == b"\x1f\x8b" else "none")
    if compression == "gzip":
        head = _gunzip_head(head)
    encoding = _encoding(head, declared.get("encoding"))
    text = _decode_head(head, encoding)
    fmt = declared.get("format") or ("jsonl" if text.lstrip("\ufeff \t\r\n").startswith("{") else "csv")
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")) and not declared.get("format"):
        fmt = "jsonl"
    delimiter = declared.get("delimiter") or (_delimiter(text) if fmt == "csv" else ",")
    return Layout(compression=compression, encoding=encoding, format=fmt, delimiter=delimiter)


def _gunzip_head(head: bytes) -> bytes:
    try:
        return zlib.decompressobj(wbits=31).decompress(head, HEAD_BYTES)
    except zlib.error as exc:
        raise FormatError("the file starts like gzip but is not valid gzip") from exc


def _encoding(head: bytes, declared: str | None) -> str:
    if declared:
        name = codecs.lookup(declared).name
        if name.startswith("utf-16"):
            return "utf-16"
        if name in ("latin-1", "iso8859-1", "cp1252"):
            return "latin-1"
        if name in ("utf-8", "utf-8-sig", "ascii"):
            return "utf-8"
        raise FormatError("declared encoding must be UTF-8, UTF-16 or Latin-1")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    sample = head[:4096]
    if sample and sample.count(b"\x00") * 3 > len(sample) and (sample[1:2] == b"\x00" or sample[:1] == b"\x00"):
        return "utf-16"  # UTF-16 without a BOM: every other byte of ASCII text is NUL
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is not evidence against UTF-8.
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
        bad = head[exc.start : exc.start + 1]
        return "latin-1" if bad and bad[0] >= 0x80 else "utf-8"


def _decode_head(head: bytes, encoding: str) -> str:
    if encoding == "utf-16":
        if head[:2] == b"\x00" + head[1:2] or head.startswith(codecs.BOM_UTF16_BE):
            codec = "utf-16-be" if not head.startswith(codecs.BOM_UTF16_LE) else "utf-16"
        else:
            codec = "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-16-le"
        return head[: len(head) // 2 * 2].decode(codec, errors="replace")
    return head.decode("utf-8" if encoding == "utf-8" else "latin-1", errors="replace")


def _delimiter(text: str) -> str:
    lines = [line for line in text.lstrip("\ufeff").splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    sample = "\n".join(lines)
    try:
        found = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
        if found in DELIMITERS:
            return found
    except csv.Error:
        pass
    header = lines[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


# ---------------------------------------------------------------- canonical stream


class _Transcoded(io.RawIOBase):
    """UTF-16 in, UTF-8 out, as a readable byte stream (constant memory)."""

    def __init__(self, raw: IO[bytes]) -> None:
        head = raw.read(2)
        codec = "utf-16" if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-16-le"
        if len(head) == 2 and head[0] == 0 and head[1] != 0:
            codec = "utf-16-be"
        self._decoder = codecs.getincrementaldecoder(codec)(errors="replace")
        self._raw = raw
        self._buffer = self._decoder.decode(head).encode("utf-8")
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer and not self._eof:
            block = self._raw.read(256 * 1024)
            if not block:
                self._eof = True
                self._buffer = self._decoder.decode(b"", final=True).encode("utf-8")
            else:
                self._buffer = self._decoder.decode(block).encode("utf-8")
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class _Gunzip(io.RawIOBase):
    """gzip (also several concatenated members) decompressed on the fly."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._inflate = zlib.decompressobj(wbits=31)
        self._buffer = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer and not self._eof:
            block = self._inflate.unconsumed_tail or self._raw.read(256 * 1024)
            if not block:
                self._eof = True
                break
            try:
                self._buffer = self._inflate.decompress(block, 1 << 20)
            except zlib.error as exc:
                raise FormatError("the gzip stream is corrupt") from exc
            if self._inflate.eof:
                rest = self._inflate.unused_data
                self._inflate = zlib.decompressobj(wbits=31)
                if rest:
                    self._buffer += self._inflate.decompress(rest, 1 << 20)
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def canonical(raw: IO[bytes], layout: Layout) -> io.BufferedReader:
    """The canonical byte stream of a whole object (see the module docstring)."""
    stream: IO[bytes] = raw
    if layout.compression == "gzip":
        stream = io.BufferedReader(_Gunzip(stream), 1 << 16)
    if layout.encoding == "utf-16":
        stream = io.BufferedReader(_Transcoded(stream), 1 << 16)
    return stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(_RawAdapter(stream), 1 << 16)


class _RawAdapter(io.RawIOBase):
    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        data = self._raw.read(len(target))
        size = len(data)
        target[:size] = data
        return size


def skip(stream: IO[bytes], count: int) -> None:
    """Discard ``count`` bytes of a stream (a chunk of a gzip or UTF-16 file starts part way in)."""
    while count > 0:
        block = stream.read(min(count, 1 << 20))
        if not block:
            return
        count -= len(block)


# ---------------------------------------------------------------- records


class _TooLong(Exception):
    pass


class _Lines:
    """Decoded physical lines for ``csv.reader``, remembering which lines the current record used."""

    def __init__(self, stream: IO[bytes], encoding: str, limit: int | None) -> None:
        self.stream = stream
        self.encoding = encoding
        self.remaining = limit  # canonical bytes left in this chunk (None: to the end)
        self.pending: deque[tuple[str, int, str | None]] = deque()
        self.used: list[tuple[str, int, str | None]] = []
        self.used_bytes = 0
        self.offset = 0  # canonical bytes handed out, minus lines put back

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.pending.popleft() if self.pending else self._read()
        self.used.append(line)
        size = line[1]
        self.offset += size
        self.used_bytes += size
        if self.used_bytes > MAX_RECORD_BYTES and len(self.used) > 1:
            raise _TooLong
        return line[0]

    def _read(self) -> tuple[str, int, str | None]:
        remaining = self.remaining
        if remaining is None:
            raw = self.stream.readline(MAX_LINE_BYTES + 1)
        elif remaining <= 0:
            raise StopIteration
        else:
            raw = self.stream.readline(min(MAX_LINE_BYTES + 1, remaining))
        if not raw:
            raise StopIteration
        size = len(raw)
        if size > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while True:  # skip the rest of an over-long line without holding it
                more = self.stream.readline(
                    MAX_LINE_BYTES if self.remaining is None else min(MAX_LINE_BYTES, self.remaining - size)
                )
                size += len(more)
                if not more or more.endswith(b"\n"):
                    break
            self._spend(size)
            return "\n", size, f"row is longer than {MAX_LINE_BYTES} bytes"
        if remaining is not None:
            self.remaining = remaining - size
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError:
            # A row in another encoding than the rest (a Latin-1 row in a UTF-8 file): read it as Windows-1252,
            # the superset of Latin-1 that spreadsheets write; bytes that are not text in it reject the row.
            text = raw.decode("cp1252", errors="replace")
            if "\ufffd" in text:
                return text, size, "row contains bytes that are not text in any supported encoding"
        return text, size, None

    def _spend(self, size: int) -> None:
        if self.remaining is not None:
            self.remaining -= size

    def take(self) -> list[tuple[str, int, str | None]]:
        used = self.used
        self.used = []
        self.used_bytes = 0
        return used

    def put_back(self, lines: list[tuple[str, int, str | None]]) -> None:
        for line in reversed(lines):
            self.pending.appendleft(line)
            self.offset -= line[1]


def read_records(
    stream: IO[bytes],
    layout: Layout,
    *,
    first_row: int = 1,
    start_offset: int = 0,
    limit: int | None = None,
    expected_fields: int | None = None,
) -> Iterator[Record]:
    """Records of the canonical ``stream`` (positioned at ``start_offset``), at most ``limit`` bytes of it."""
    if layout.format == "jsonl":
        yield from _jsonl(stream, layout, first_row, start_offset, limit)
        return
    lines = _Lines(stream, layout.line_encoding, limit)
    row = first_row
    expected = expected_fields
    while True:
        reader = csv.reader(lines, delimiter=layout.delimiter, quotechar='"', doublequote=True, strict=False)
        try:
            for fields in reader:
                used = lines.take()
                error = used[0][2] if len(used) == 1 else next((p for _, _, p in used if p), None)
                if row == 1 and fields and fields[0].startswith("\ufeff"):
                    fields[0] = fields[0][1:]
                if expected is None and error is None:
                    expected = len(fields)
                if (
                    len(used) > 1
                    and '"' in used[0][0]
                    and (
                        (expected is not None and len(fields) != expected)
                        or sum(t.count('"') for t, _, _ in used) % 2
                        or not _well_formed([t for t, _, _ in used], layout.delimiter)
                    )
                ):
                    # An opening quote that never closed swallowed the lines after it (an odd number of quotes,
                    # the wrong number of fields, or a "closing" quote that is really another row's opening
                    # one): the first line is the bad row, the others are read again as rows of their own.
                    lines.put_back(used[1:])
                    error = "unbalanced quote"
                elif error is None and _CONTROL.search("".join(fields)):
                    error = "row contains control characters (binary data?)"
                if error is None and not any(fields):
                    row_end = start_offset + lines.offset
                    yield Record(row, [], None, row_end)  # a blank line: counted, never an error
                else:
                    yield Record(row, None if error else fields, error, start_offset + lines.offset)
                row += 1
            return
        except _TooLong:
            used = lines.take()
            lines.put_back(used[1:])
            yield Record(row, None, "unbalanced quote (row runs past 1 MiB)", start_offset + lines.offset)
            row += 1
        except csv.Error as exc:
            lines.take()
            yield Record(row, None, f"malformed CSV: {exc}", start_offset + lines.offset)
            row += 1


def _well_formed(lines: list[str], delimiter: str) -> bool:
    """True when a multi-line record is valid RFC 4180 (every closing quote followed by a delimiter or the
    line end), as a genuine multi-line field is."""
    try:
        for _ in csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=True):
            pass
    except csv.Error:
        return False
    return True


def _jsonl(stream: IO[bytes], layout: Layout, first_row: int, start: int, limit: int | None) -> Iterator[Record]:
    lines = _Lines(stream, layout.line_encoding, limit)
    row = first_row
    for text in lines:
        _, _, problem = lines.take()[0]
        end = start + lines.offset
        if problem:
            yield Record(row, None, problem, end)
        elif not text.strip():
            yield Record(row, [], None, end)
        else:
            try:
                value = json.loads(text)
            except ValueError:
                yield Record(row, None, "not valid JSON", end)
            else:
                if isinstance(value, dict):
                    yield Record(row, _json_fields(value), None, end)
                else:
                    yield Record(row, None, "a JSON Lines row must be an object", end)
        row += 1


JSON_KEYS = "\x00keys"


def _json_fields(value: dict[str, Any]) -> list[str]:
    """A JSON object as [key, value, key, value, ...]; the mapping pairs keys with columns by name."""
    out: list[str] = []
    for key, item in value.items():
        out.append(str(key))
        if item is None:
            out.append("")
        elif isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, (str, int, float)):
            out.append(str(item))
        else:
            out.append(json.dumps(item, separators=(",", ":")))
    return out

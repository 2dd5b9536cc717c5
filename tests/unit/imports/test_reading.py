"""Reading files: encodings, delimiters, JSON Lines, gzip, presets, and rows that must not take others down."""

from __future__ import annotations

import gzip
import io

import pytest
from importer.mapping import Reject, Row
from importer.presets import detect as detect_preset
from importer.report import neutralise, reject_line
from importer.text import MAX_LINE_BYTES, FormatError, canonical, detect, read_records

from segmentation.imports import Manifest
from tests.unit.imports.helpers import parse

CSV = "email,first name,country\nana@example.com,Ana,GB\nbob@example.com,Bob,DE\n"


@pytest.mark.parametrize(
    "blob",
    [
        CSV.encode(),
        CSV.encode("utf-8-sig"),
        CSV.encode("utf-16"),
        CSV.encode("utf-16-le"),
        CSV.replace("Ana", "Anaïs").encode("latin-1"),
        gzip.compress(CSV.encode("utf-16")),
        CSV.replace(",", ";").encode(),
        CSV.replace(",", "\t").encode(),
        CSV.replace(",", "|").replace("\n", "\r\n").encode(),
    ],
    ids=["utf8", "bom", "utf16", "utf16le-nobom", "latin1", "gzip-utf16", "semicolon", "tab", "pipe-crlf"],
)
def test_reading_any_encoding_delimiter_or_compression_gives_the_same_rows(blob: bytes) -> None:
    rows = parse(blob)
    assert [r.email for r in rows if isinstance(r, Row)] == ["ana@example.com", "bob@example.com"]
    assert [r.values["country"] for r in rows if isinstance(r, Row)] == ["GB", "DE"]


def test_reading_latin1_is_decoded_correctly() -> None:
    rows = parse(CSV.replace("Ana", "Anaïs").encode("latin-1"))
    assert isinstance(rows[0], Row) and rows[0].values["first_name"] == "Anaïs"


def test_reading_declared_encoding_wins() -> None:
    assert detect("é".encode("latin-1"), declared={"encoding": "latin-1"}).encoding == "latin-1"
    with pytest.raises(FormatError):
        detect(b"x", declared={"encoding": "ebcdic-cp-be"})


def test_reading_json_lines_and_gzip() -> None:
    text = '{"email": "ana@example.com", "Country": "GB"}\n\n{"email": "x"}\n'
    rows = parse(gzip.compress(text.encode()), key="imports/x/people.jsonl.gz")
    assert isinstance(rows[0], Row) and rows[0].row == 1 and rows[0].values["country"] == "GB"
    assert isinstance(rows[1], Reject) and rows[1].row == 3


def test_reading_headers_are_case_insensitive_and_shopify_apostrophes_are_stripped() -> None:
    blob = b"EMAIL,First Name,Customer ID\nana@example.com,Ana,'123\n"
    row = parse(blob)[0]
    assert isinstance(row, Row) and row.external_id == "123"


def test_reading_unknown_columns_go_to_custom_only_when_the_mapping_says_so() -> None:
    blob = b"email,Loyalty Tier,Secret Notes\nana@example.com,gold,private\n"
    plain = parse(blob)[0]
    assert isinstance(plain, Row) and "custom" not in plain.values
    listed = parse(blob, Manifest(custom_columns=["Loyalty Tier"]))[0]
    assert isinstance(listed, Row) and listed.values["custom"] == {"loyalty_tier": "gold"}
    every = parse(blob, Manifest(custom_columns=True))[0]
    assert isinstance(every, Row) and every.values["custom"] == {"loyalty_tier": "gold", "secret_notes": "private"}


@pytest.mark.parametrize(
    ("header", "preset"),
    [
        (
            "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Total Spent,Total Orders,Tags",
            "shopify_customers",
        ),
        ("First Name,Last Name,Email,Company,Accepts Marketing,Total Spent,Tags", "shopify_customers"),
        (
            "Name,Email,Financial Status,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price",
            "shopify_orders",
        ),
        (
            "Name,Username,Last Active,Date Registered,Email,Orders,Total Spend,AOV,Country / Region",
            "woocommerce_customers",
        ),
        ("Record ID,First Name,Last Name,Email,Phone Number,Contact owner,Lead Status", "hubspot_contacts"),
        ("Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,LEID,EUID", "mailchimp_audience"),
        ("Email,First Name,Klaviyo ID,Email Marketing Consent", "klaviyo_profiles"),
        ("email,name,town", None),
    ],
)
def test_presets_are_detected_from_the_header(header: str, preset: str | None) -> None:
    found = detect_preset(header.split(","))
    assert (found.name if found else None) == preset


def test_reading_a_bad_row_never_takes_the_good_rows_around_it() -> None:
    lines = [
        "email,first name,country",
        "ana@example.com,Ana,GB",
        'bob@example.com,"Bob,GB',  # an opening quote that never closes
        "cleo@example.com,Cleo,FR",
        "dan@example.com,Dan,DE,extra",  # ragged
        "eve@example.com,\x00\x01,GB",  # binary
        "fay@example.com,Fay,IE",
    ]
    rows = parse(("\n".join(lines) + "\n").encode())
    assert {r.row: isinstance(r, Row) for r in rows} == {2: True, 3: False, 4: True, 5: False, 6: False, 7: True}


def test_reading_a_10mb_field_rejects_only_its_row_in_bounded_memory() -> None:
    big = "x" * (10 * MAX_LINE_BYTES)
    blob = f"email,first name\nana@example.com,Ana\nbob@example.com,{big}\ncleo@example.com,Cleo\n".encode()
    rows = parse(blob)
    assert [(r.row, type(r).__name__) for r in rows] == [(2, "Row"), (3, "Reject"), (4, "Row")]
    assert isinstance(rows[1], Reject) and "longer than" in rows[1].reason


def test_reading_records_report_offsets_at_record_boundaries() -> None:
    blob = b'email,note\nana@example.com,"two\nlines"\nbob@example.com,x\n'
    layout = detect(blob)
    records = list(read_records(canonical(io.BytesIO(blob), layout), layout))
    assert [r.end for r in records] == [11, 39, len(blob)]
    assert records[1].fields == ["ana@example.com", "two\nlines"]
    # a chunk starting at a boundary reads the same records
    rest = list(read_records(canonical(io.BytesIO(blob[39:]), layout), layout, first_row=3, start_offset=39))
    assert [(r.row, r.fields) for r in rest] == [(3, ["bob@example.com", "x"])]


def test_reading_empty_file_and_header_only() -> None:
    with pytest.raises(FormatError):
        parse(b"")
    assert parse(b"email,first name\n") == []


@pytest.mark.parametrize("cell", ["=cmd()", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_report_neutralises_formula_prefixes(cell: str) -> None:
    assert neutralise(cell).startswith("'")
    line = reject_line(2, cell, cell, [cell])
    assert all(not field.startswith(("=", "+", "-", "@", "\t", "\r")) for field in line.strip().split(","))

"""Imports end to end on the local runtime: S3 upload -> notification -> import function -> profiles,
segments, job status and reject report."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from local_runtime import LocalAws, Router
from tests.integration.conftest import fresh_stack

SHOPIFY_HEADER = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,Default Address Address1,"
    "Default Address Address2,Default Address City,Default Address Province Code,Default Address Country Code,"
    "Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,"
    "Tax Exempt,Tags"
)


def shopify_row(
    cid: str, first: str, email: str, *, accepts: str = "no", country: str = "GB", phone: str = "", tags: str = ""
) -> str:
    address = f"1 High St,,London,LND,{country},SW1A 1AA"
    return f'\'{cid},{first},Smith,{email},{accepts},,{address},,{phone},no,10.00,1,,no,"{tags}"'


def new_id(job_id: str, row: int) -> str:
    """The id an import gives the person it creates from a row (see importer.merge)."""
    return f"imp-{re.sub('[^A-Za-z0-9]', '', job_id)[:16]}-{row}"


def bucket(stack: Router) -> str:
    return str(stack.env.physical_ids["ImportBucket"])


def upload(stack: Router, key: str, body: bytes, **extra: Any) -> None:
    stack.env.client("s3").put_object(Bucket=bucket(stack), Key=key, Body=body, **extra)


def jobs(stack: Router) -> list[dict[str, Any]]:
    ddb = stack.env.client("dynamodb")
    table = stack.env.physical_ids["SegmentationTable"]
    items = ddb.scan(
        TableName=table, FilterExpression="begins_with(PK, :p)", ExpressionAttributeValues={":p": {"S": "IMP#"}}
    )
    return items["Items"]


def job_status(api: Callable[..., tuple[int, Any]], job_id: str) -> dict[str, Any]:
    status, body = api("GET", f"/imports/{job_id}")
    assert status == 200, body
    return body


def only_job_id(stack: Router) -> str:
    found = jobs(stack)
    assert len(found) == 1, found
    return found[0]["PK"]["S"][4:]


def report_rows(stack: Router, key: str) -> list[dict[str, str]]:
    body = stack.env.client("s3").get_object(Bucket=bucket(stack), Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_import_shopify_customers_creates_profiles_reports_rejects_and_updates_segments(
    stack: Router, api: Callable[..., tuple[int, Any]]
) -> None:
    # Given a UK segment, and a Shopify customers export with good rows and two bad ones
    status, _ = api("POST", "/segment-templates/uk_customers/segments")
    assert status == 201
    lines = [
        SHOPIFY_HEADER,
        shopify_row("1001", "Ana", " Ana@Example.com ", accepts="yes", phone="'+447946000111", tags="vip, newsletter"),
        shopify_row("1002", "Bob", "bob@example", country="GB"),
        shopify_row("1003", "=HYPERLINK(1)", "cleo@example.fr", country="France", phone="06 12 34 56 78"),
        shopify_row("1004", "Dan", "dan@example.com", country="Atlantis"),
    ]
    # When it is uploaded through POST /imports
    status, created = api("POST", "/imports", {"file_name": "customers_export.csv"})
    assert status == 201, created
    upload(stack, created["upload_key"], ("\n".join(lines) + "\n").encode("utf-8-sig"))
    stats = stack.drain()
    assert not stats.errors, stats.errors

    # Then the job reports what happened
    job = job_status(api, created["job_id"])
    assert job["state"] == "completed"
    assert job["preset"] == "shopify_customers" and job["kind"] == "contacts"
    assert job["counts"] == {"read": 4, "created": 2, "merged": 0, "duplicates": 0, "rejected": 2, "suppressed": 0}
    assert job["report_key"] == f"reports/{created['job_id']}/rejects.csv"
    # the reject report names row, column and reason, and neutralises formulas
    rows = report_rows(stack, job["report_key"])
    assert [(r["row"], r["column"], r["reason"]) for r in rows] == [
        ("3", "Email", "email is not a valid address"),
        ("5", "Default Address Country Code", "country is not an ISO 3166 code or a known country name"),
    ]
    # and the good rows are normalised profiles, with provenance
    ana_id = stack.env.client("dynamodb").get_item(
        TableName=stack.env.physical_ids["SegmentationTable"], Key={"PK": {"S": "E#ana@example.com"}, "SK": {"S": "#E"}}
    )["Item"]["customer_id"]["S"]
    status, ana = api("GET", f"/customers/{ana_id}")
    profile = ana["profile"]
    assert profile["phone"] == "+447946000111" and profile["country"] == "GB"
    assert profile["tags"] == ["newsletter", "vip"]
    assert profile["field_sources"]["first_name"] == f"import:{created['job_id']}"
    # Shopify is not a consent record unless the manifest says so: "yes" did not subscribe her to email,
    # while "no" for SMS is an opt-out, which any source may record
    assert "email" not in profile["consent"]
    assert profile["consent"]["sms"]["status"] == "unsubscribed"
    assert [s["segment_id"] for s in ana["segments"]] == ["uk_customers"]


def test_import_same_event_twice_or_same_content_again_counts_once(
    stack: Router, api: Callable[..., tuple[int, Any]]
) -> None:
    body = (SHOPIFY_HEADER + "\n" + shopify_row("1", "Ana", "ana@example.com") + "\n").encode()
    upload(stack, "imports/manual/customers.csv", body)
    # the notification is delivered twice (at-least-once), and the same content is uploaded again
    push = next(url for fn, _, url in stack.queue_sources() if fn == "ImportFunction" and "Upload" in url)
    sqs = stack.env.client("sqs")
    message = sqs.receive_message(QueueUrl=push, MaxNumberOfMessages=10)["Messages"]
    for m in message:
        sqs.send_message(QueueUrl=push, MessageBody=m["Body"])
        sqs.change_message_visibility(QueueUrl=push, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    upload(stack, "imports/manual/customers.csv", body)
    assert not stack.drain().errors
    job_id = only_job_id(stack)
    job = job_status(api, job_id)
    assert job["counts"]["read"] == 1 and job["counts"]["created"] == 1


def test_import_gzip_utf16_semicolon_generic_spreadsheet_with_manifest(
    stack: Router, api: Callable[..., tuple[int, Any]]
) -> None:
    text = "E-Mail;Vorname;Land;Telefon;Lieblingsduft\r\nmia@example.de;Mia;Deutschland;030 1234567;Lavendel\r\n"
    manifest = {
        "kind": "contacts",
        "columns": {"Vorname": "first_name", "Land": "country", "Telefon": "phone"},
        "custom_columns": ["Lieblingsduft"],
        "consent_source": False,
    }
    status, created = api("POST", "/imports", {"file_name": "kunden.csv.gz", "manifest": manifest})
    assert status == 201
    upload(stack, created["upload_key"], gzip.compress(text.encode("utf-16")))
    assert not stack.drain().errors
    job = job_status(api, created["job_id"])
    assert job["counts"]["created"] == 1, job
    status, mia = api("GET", f"/customers/{new_id(created['job_id'], 2)}")
    assert status == 200, mia
    assert mia["profile"]["phone"] == "+49301234567"
    assert mia["profile"]["custom"] == {"lieblingsduft": "Lavendel"}


def test_import_unknown_or_bad_manifest_fails_the_job_with_a_reason(
    stack: Router, api: Callable[..., tuple[int, Any]]
) -> None:
    upload(stack, "imports/manual/junk.csv", b"just,some,columns\n1,2,3\n")
    assert not stack.drain().errors
    job = job_status(api, only_job_id(stack))
    assert job["state"] == "failed"
    assert "no email or customer id column" in job["error"]


@pytest.fixture
def small_chunks(stack: Router, moto_server: LocalAws) -> Router:
    return fresh_stack(moto_server, {"ImportChunkBytes": "300"})


def test_import_large_file_is_split_into_chunks_through_the_queue(
    small_chunks: Router, api: Callable[..., tuple[int, Any]]
) -> None:
    stack = small_chunks
    rows = [shopify_row(str(n), f"P{n}", f"p{n}@example.com") for n in range(40)]
    rows.insert(20, shopify_row("x", "Bad", "not-an-email"))
    upload(stack, "imports/manual/big.csv", ("\n".join([SHOPIFY_HEADER, *rows]) + "\n").encode())
    stats = stack.drain()
    assert not stats.errors
    assert stats.invocations_by_function["ImportFunction"] > 2  # the upload, then the chunks
    job = job_status(api, only_job_id(stack))
    assert job["chunks_total"] > 2 and job["chunks_done"] == job["chunks_total"]
    assert job["counts"]["read"] == 41 and job["counts"]["created"] == 40 and job["counts"]["rejected"] == 1
    assert [r["row"] for r in report_rows(stack, job["report_key"])] == ["22"]


def test_import_rejects_are_indexed_by_fingerprint_for_erasure(
    stack: Router, api: Callable[..., tuple[int, Any]]
) -> None:
    from segmentation import wiring

    upload(
        stack,
        "imports/manual/c.csv",
        (SHOPIFY_HEADER + "\n" + shopify_row("1", "Ana", "ana@example.com", country="Nowhere") + "\n").encode(),
    )
    assert not stack.drain().errors
    job = job_status(api, only_job_id(stack))
    with stack._function_environment("ImportFunction"):
        wiring.reset()
        fingerprint = wiring.suppression_list().fingerprint("ana@example.com")
    item = stack.env.client("dynamodb").get_item(
        TableName=stack.env.physical_ids["SegmentationTable"],
        Key={"PK": {"S": "RJ#" + fingerprint}, "SK": {"S": job["report_key"]}},
    )["Item"]
    assert item["rows"]["NS"] == ["2"]
    assert int(item["expires_at"]["N"]) > 0


def test_import_manifest_json_lines(stack: Router, api: Callable[..., tuple[int, Any]]) -> None:
    lines = [
        json.dumps({"email": "zoe@example.com", "first_name": "Zoe", "country": "United Kingdom"}),
        "not json",
        "[1]",
    ]
    upload(stack, "imports/manual/people.jsonl", ("\n".join(lines) + "\n").encode())
    assert not stack.drain().errors
    job = job_status(api, only_job_id(stack))
    assert job["counts"] == {"read": 3, "created": 1, "merged": 0, "duplicates": 0, "rejected": 2, "suppressed": 0}


ORDERS_HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,"
    "Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,"
    "Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,"
    "Lineitem fulfillment status,Billing Name,Billing Country,Cancelled at"
)


def order_row(name: str, email: str, total: str, created: str, qty: str, item: str, price: str, sku: str) -> str:
    head = bool(total)
    return (
        f"{name},{email},{'paid' if head else ''},,,,,{'GBP' if head else ''},{total},,,{total},,,,{created},"
        f"{qty},{item},{price},,{sku},true,true,fulfilled,{'Ana Smith' if head else ''},{'GB' if head else ''},"
    )


def test_import_shopify_orders_groups_lines_by_order_and_rejects_a_whole_order_with_a_bad_line(
    stack: Router, api: Callable[..., tuple[int, Any]]
) -> None:
    lines = [
        ORDERS_HEADER,
        order_row(
            "#1001", "ana@example.com", "31.50", "2026-11-01 10:00:00 +0000", "2", "Lavender oil", "7.50", "EO-LAV-10"
        ),
        order_row("#1001", "ana@example.com", "", "", "1", "Diffuser", "16.50", "DF-MINI"),
        order_row("#1002", "ana@example.com", "22.00", "2026-11-05 10:00:00 +0000", "1", "Candle", "22.00", "CA-LAV"),
        order_row("#1003", "bob@example.com", "9.00", "2026-11-06 10:00:00 +0000", "1", "Salt", "9.00", "BS-LAV"),
        order_row("#1003", "bob@example.com", "", "", "lots", "Salt", "9.00", "BS-LAV"),
    ]
    upload(stack, "imports/manual/orders_export.csv", ("\n".join(lines) + "\n").encode())
    assert not stack.drain().errors
    job = job_status(api, only_job_id(stack))
    assert job["preset"] == "shopify_orders"
    assert job["counts"]["read"] == 5 and job["counts"]["created"] == 3 and job["counts"]["rejected"] == 2
    reasons = {r["row"]: r["reason"] for r in report_rows(stack, job["report_key"])}
    assert reasons["6"] == "not a whole number"
    assert reasons["5"] == "another line of order #1003 was rejected, so the order was not imported"
    ana_id = new_id(job["job_id"], 2)
    status, ana = api("GET", f"/customers/{ana_id}")
    assert status == 200
    assert ana["orders"] == 2 and ana["features"]["total_spent"] == 53.5
    assert ana["profile"]["first_name"] == "Ana" and ana["profile"]["country"] == "GB"


MAILCHIMP_HEADER = (
    "Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,CONFIRM_TIME,LAST_CHANGED,LEID,EUID,TAGS"
)


def test_import_mailchimp_status_files_set_consent_and_suppress_opt_outs(
    stack: Router, api: Callable[..., tuple[int, Any]]
) -> None:
    subscribed = "\n".join(
        [
            MAILCHIMP_HEADER,
            "ana@example.com,Ana,Smith,4,2026-10-01 09:00:00,2026-10-01 09:05:00,2026-10-01 09:05:00,11,aa,",
            "bob@example.com,Bob,Jones,2,2026-10-02 09:00:00,2026-10-02 09:05:00,2026-10-02 09:05:00,12,bb,",
        ]
    )
    upload(stack, "imports/manual/subscribed_members_export_1.csv", (subscribed + "\n").encode())
    assert not stack.drain().errors
    # Bob unsubscribes later; Cleo (unknown to us) unsubscribed too
    unsubscribed = "\n".join(
        [
            MAILCHIMP_HEADER + ",UNSUB_TIME",
            "bob@example.com,Bob,Jones,2,2026-10-02 09:00:00,,2026-11-10 12:00:00,12,bb,,2026-11-10 12:00:00",
            "cleo@example.com,Cleo,Li,1,2026-09-01 09:00:00,,2026-11-09 12:00:00,13,cc,,2026-11-09 12:00:00",
        ]
    )
    upload(stack, "imports/manual/unsubscribed_members_export_1.csv", (unsubscribed + "\n").encode())
    assert not stack.drain().errors
    found = {item["source_key"]["S"]: item["PK"]["S"][4:] for item in jobs(stack)}
    sub_job = job_status(api, found["imports/manual/subscribed_members_export_1.csv"])
    unsub_job = job_status(api, found["imports/manual/unsubscribed_members_export_1.csv"])
    assert sub_job["counts"]["created"] == 2
    assert unsub_job["counts"]["suppressed"] == 2 and unsub_job["kind"] == "consent"
    bob_id = new_id(sub_job["job_id"], 3)
    status, bob = api("GET", f"/customers/{bob_id}")
    assert bob["profile"]["consent"]["email"]["status"] == "unsubscribed"
    # Cleo is now suppressed: a plain spreadsheet cannot bring her back
    sheet = "email,first name\ncleo@example.com,Cleo\ndan@example.com,Dan\n"
    upload(stack, "imports/manual/sheet.csv", sheet.encode())
    assert not stack.drain().errors
    sheet_job = job_status(
        api, {i["source_key"]["S"]: i["PK"]["S"][4:] for i in jobs(stack)}["imports/manual/sheet.csv"]
    )
    assert sheet_job["counts"]["suppressed"] == 1 and sheet_job["counts"]["created"] == 1


def test_import_consent_source_decides_whether_consent_columns_can_subscribe(
    stack: Router, api: Callable[..., tuple[int, Any]]
) -> None:
    sheet = "email,email consent\nana@example.com,yes\n"
    upload(stack, "imports/manual/plain.csv", sheet.encode())
    assert not stack.drain().errors
    plain = job_status(api, only_job_id(stack))
    ana_id = new_id(plain["job_id"], 2)
    assert "email" not in api("GET", f"/customers/{ana_id}")[1]["profile"]["consent"]
    # the same row from a file whose manifest declares it a consent record subscribes her
    manifest = json.dumps({"consent_source": True, "exported_at": "2026-11-21T00:00:00Z"})
    upload(stack, "imports/manual/declared.csv", sheet.encode(), Metadata={"import-manifest": manifest})
    assert not stack.drain().errors
    profile = api("GET", f"/customers/{ana_id}")[1]["profile"]
    assert profile["consent"]["email"]["status"] == "subscribed"
    # and an older unsubscribe file (not a consent source) cannot undo the newer subscription
    old = json.dumps({"kind": "consent", "exported_at": "2026-11-01T00:00:00Z"})
    upload(
        stack,
        "imports/manual/old_unsubs.csv",
        b"email,status\nana@example.com,unsubscribed\n",
        Metadata={"import-manifest": old},
    )
    assert not stack.drain().errors
    assert api("GET", f"/customers/{ana_id}")[1]["profile"]["consent"]["email"]["status"] == "subscribed"


def test_import_suppression_list_adds_entries_with_the_job_as_source(
    stack: Router, api: Callable[..., tuple[int, Any]]
) -> None:
    from segmentation import wiring

    manifest = json.dumps({"kind": "suppression", "suppression_reason": "complained"})
    upload(
        stack,
        "imports/manual/suppress.csv",
        b"Email\nEve@Example.com\nnot an email\n",
        Metadata={"import-manifest": manifest},
    )
    assert not stack.drain().errors
    job = job_status(api, only_job_id(stack))
    assert job["counts"]["suppressed"] == 1 and job["counts"]["rejected"] == 1
    with stack._function_environment("ImportFunction"):
        wiring.reset()
        entry = wiring.suppression_list().get("eve@example.com")
    assert entry is not None and entry.reason == "complained" and entry.source == f"import:{job['job_id']}"

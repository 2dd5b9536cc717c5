"""Fake Airtable: one base with a membership table, upserts of up to 10 records merged on ``key``, the
list-records call with the one filter formula the adapter sends, and 5 requests per second per base."""

from __future__ import annotations

import itertools
import re
from typing import Any
from urllib.parse import unquote

from local_runtime.fakes.base import FakePlatform, FakeRequest, FakeResponse, route
from segmentation.sync.adapters.base import Rate

TOKEN = "patFAKE0000000000.0000000000000000"  # noqa: S105 - the fake's own test credential
BASE_ID = "appFAKEBASE000001"
TABLE = "Segment Memberships"
COLUMNS = {"key", "customer_id", "segment_id", "is_member", "updated_at", "first_name", "country"}
FORMULA = re.compile(r"^AND\(\{segment_id\}='(?P<name>(?:[^'\\]|\\.)*)',\{is_member\}\)$")


class FakeAirtable(FakePlatform):
    channel = "airtable"
    rates = {"default": (Rate(5, 1.0),)}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # ``contacts`` holds the rows (rec id -> fields); ``lists[segment_id]`` the customer ids whose row has
        # ``is_member`` ticked, so a box unticked by hand is a change to ``lists``.
        self._ids = itertools.count(1)

    def row(self, rec: str) -> dict[str, Any]:
        fields = self.contacts[rec]
        return fields | {"is_member": fields["customer_id"] in self.lists.get(fields["segment_id"], set())}

    def authorized(self, request: FakeRequest) -> bool:
        return request.header("Authorization") == f"Bearer {TOKEN}"

    def error(self, status: int, message: str) -> FakeResponse:
        kind = {401: "AUTHENTICATION_REQUIRED", 404: "NOT_FOUND", 422: "INVALID_REQUEST_UNKNOWN"}.get(status, "SERVER")
        return FakeResponse(status, {"error": {"type": kind, "message": message}})

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        return FakeResponse(429, {"errors": [{"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded"}]})

    def member_emails(self, list_name: str) -> set[str]:
        return self.members(list_name)  # rows carry no address: customer ids stand in for them

    def _table(self, base: str, table: str) -> None:
        self.require(base == BASE_ID, "Could not find base", 404)
        self.require(unquote(table) == TABLE, "Could not find table", 404)

    @route("PATCH", r"/v0/(?P<base>app\w+)/(?P<table>[^/]+)")
    def upsert(self, request: FakeRequest, base: str, table: str) -> FakeResponse:
        self._table(base, table)
        body = request.data()
        self.require((body.get("performUpsert") or {}).get("fieldsToMergeOn") == ["key"], "fieldsToMergeOn", 422)
        records = body.get("records")
        self.require(isinstance(records, list) and 1 <= len(records) <= 10, "records: 1 to 10 per request", 422)
        for record in records:
            fields = record.get("fields") if isinstance(record, dict) else None
            self.require(isinstance(fields, dict), "each record needs fields", 422)
            assert isinstance(fields, dict)
            unknown = set(fields) - COLUMNS
            self.require(not unknown, f"Unknown field name: {sorted(unknown)}", 422)
            self.require(fields.get("key") == f"{fields.get('customer_id')}:{fields.get('segment_id')}", "key", 422)
            self.require(isinstance(fields.get("is_member"), bool), "is_member is a checkbox", 422)
        created, updated, answer = [], [], []
        for record in records:  # all records validated first: the request applies as a whole or not at all
            fields = record["fields"]
            rec = next((r for r, row in self.contacts.items() if row["key"] == fields["key"]), None)
            if rec is None:
                rec = f"rec{next(self._ids):014d}"
                self.contacts[rec] = {}
                created.append(rec)
            else:
                updated.append(rec)
            self.contacts[rec].update({k: v for k, v in fields.items() if k != "is_member"})
            members = self.lists[fields["segment_id"]]
            (members.add if fields["is_member"] else members.discard)(fields["customer_id"])
            answer.append({"id": rec, "createdTime": "2026-01-01T00:00:00.000Z", "fields": self.row(rec)})
        return FakeResponse(200, {"records": answer, "createdRecords": created, "updatedRecords": updated})

    @route("GET", r"/v0/(?P<base>app\w+)/(?P<table>[^/]+)")
    def list_records(self, request: FakeRequest, base: str, table: str) -> FakeResponse:
        self._table(base, table)
        match = FORMULA.match(request.arg("filterByFormula") or "")
        self.require(match is not None, "Invalid formula", 422)
        assert match is not None
        name = re.sub(r"\\(.)", r"\1", match["name"])
        size = int(request.arg("pageSize", "100") or 100)
        self.require(1 <= size <= 100, "pageSize is at most 100", 422)
        start = int(request.arg("offset", "0") or 0)
        recs = sorted(r for r in self.contacts if self.row(r)["segment_id"] == name and self.row(r)["is_member"])
        wanted = request.query.get("fields[]")
        page = [
            {"id": r, "fields": {k: v for k, v in self.row(r).items() if not wanted or k in wanted}}
            for r in recs[start : start + size]
        ]
        body: dict[str, Any] = {"records": page}
        if start + size < len(recs):
            body["offset"] = str(start + size)
        return FakeResponse(200, body)


FAKE = FakeAirtable


def config(fake: FakePlatform) -> dict[str, Any]:
    return {"token": TOKEN, "base_id": BASE_ID, "table": TABLE, "base_url": f"{fake.url}/v0"}

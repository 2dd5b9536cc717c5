"""Airtable: membership is a row in a "segment membership" table, upserted on its ``key`` field.

A row per (customer, list): ``key`` = ``<customer id>:<list name>``, ``customer_id``, ``segment_id`` (the
destination's list name), ``is_member`` (checkbox) and ``updated_at``. A removal is the same upsert with
``is_member`` false (a soft removal: rows are never deleted, so history stays and no ``rec...`` id is needed).
Mapped fields are written on the same row. Airtable has no consent of its own; nothing here claims any.

* Add / remove: ``PATCH /v0/{baseId}/{table}`` ``{"performUpsert": {"fieldsToMergeOn": ["key"]},
  "records": [{"fields": {...}}]}``, up to 10 records; the request succeeds or fails as a whole.
* List (drift): ``GET /v0/{baseId}/{table}?filterByFormula=AND({segment_id}='<list>',{is_member})`` paged by
  ``offset`` (the list-records call; not in the reference section, so unverified here).
* Limits: 5 requests per second per base (50 per second per token). On a 429 Airtable says to wait 30 seconds.

Secret ``<prefix>airtable``: ``{"token": "pat...", "base_id": "app...", "table": "Segment Memberships"}``
(scope ``data.records:write`` and ``data.records:read``; ``base_url`` overrides ``https://api.airtable.com/v0``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcomes,
    Rate,
    Target,
    all_ok,
)

BASE = "https://api.airtable.com/v0"
RESERVED = ("key", "customer_id", "segment_id", "is_member", "updated_at")

SPEC = ChannelSpec(
    name="airtable",
    title="Airtable",
    representation="row per customer and list in a membership table (is_member checkbox, upsert on key)",
    auth="Bearer personal access token",
    throttle_signal="429, then wait 30 s",
    identity="customer_id",
    needs_upsert=False,
    add_batch=10,
    remove_batch=10,
    rates={"default": (Rate(5, 1.0),)},  # per base; the 50 per second per token is never the tighter one here
    can_list=True,
    throttle_wait=30.0,
    # Any field name but the table's own columns (those are written by the adapter).
    field_pattern=r"^(?!(key|customer_id|segment_id|is_member|updated_at)$)[A-Za-z0-9_ ]{1,64}$",
    unverified=(
        "monthly call caps of the Free and Team plans",
        "listing members through filterByFormula on the list-records call",
    ),
)


class AirtableAdapter:
    spec = SPEC

    def __init__(self, base: str, token: str, base_id: str, table: str, http: Http) -> None:
        if not token or not base_id or not table:
            raise NotConfigured("airtable needs token, base_id and table")
        self.url = f"{base.rstrip('/')}/{base_id}/{quote(table, safe='')}"
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    def _upsert(self, target: Target, contacts: list[Contact], member: bool, what: str) -> Outcomes:
        from segmentation.sync.http import check

        now = datetime.now(UTC).isoformat(timespec="seconds")
        records = [
            {
                "fields": {
                    **c.fields,
                    "key": f"{c.platform_id}:{target.list_name}",
                    "customer_id": c.platform_id,
                    "segment_id": target.list_name,
                    "is_member": member,
                    "updated_at": now,
                }
            }
            for c in contacts
        ]
        body = {"performUpsert": {"fieldsToMergeOn": ["key"]}, "records": records}
        check(self.http.request("PATCH", self.url, json_body=body, headers=self.headers), f"airtable {what}")
        return all_ok(contacts)

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return all_ok(contacts)  # not called: rows are keyed by our customer id (needs_upsert is False)

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._upsert(target, contacts, True, "add")

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._upsert(target, contacts, False, "remove")

    def list_members(self, target: Target) -> Iterator[str]:
        from segmentation.sync.http import check

        name = target.list_name.replace("\\", "\\\\").replace("'", "\\'")
        query: dict[str, Any] = {
            "filterByFormula": f"AND({{segment_id}}='{name}',{{is_member}})",
            "fields[]": "customer_id",
            "pageSize": 100,
        }
        while True:
            response = self.http.request("GET", self.url, headers=self.headers, query=query)
            page = check(response, "airtable list members").json() or {}
            for record in page.get("records") or []:
                yield str((record.get("fields") or {}).get("customer_id"))
            if not page.get("offset"):
                return
            query["offset"] = page["offset"]


def create(config: Mapping[str, Any], http: Http) -> AirtableAdapter:
    return AirtableAdapter(
        str(config.get("base_url") or BASE),
        str(config.get("token") or ""),
        str(config.get("base_id") or ""),
        str(config.get("table") or "Segment Memberships"),
        http,
    )

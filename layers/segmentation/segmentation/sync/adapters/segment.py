"""Twilio Segment (HTTP Tracking API): membership is a boolean user trait set through ``identify``.

* Add / remove: ``POST /v1/batch`` with ``identify`` calls ``{"userId", "traits": {"<list>": true|false}}``;
  the trait is named after the destination's list name. Mapped fields go with adds as further traits.
  Engage audiences are computed by Segment: build them on the trait.
* ``messageId`` de-duplicates at Segment, so a resend of the same change keeps its id (and timestamp), while
  a later change of the same trait gets a new one: re-adding after a removal is never dropped as a duplicate.
* Limits: 32 KB per event and 500 KB per batch (a 400 otherwise). An event over 32 KB is refused here as
  terminal; a batch over 500 KB is rejected before sending, and the engine halves it. No request rate is
  published.
* The API answers 200 for almost everything, including events it later drops (Segment's debugger shows
  those), so there are no per-event results: a 2xx is success for the whole batch.
* Consent belongs to Segment's consent management (``context.consent``); the adapter sends none, and a
  destination's field mapping cannot name subscription, consent or opt-in/out traits.

EU workspaces must point ``base_url`` at their regional endpoint: the US endpoint silently drops EU data.

Secret ``<prefix>segment``: ``{"write_key": "..."}`` (``base_url`` overrides ``https://api.segment.io/v1``).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcomes,
    Rejected,
    Target,
    ok,
    terminal,
)

EVENT_LIMIT = 32 * 1024
BATCH_LIMIT = 500 * 1024

SPEC = ChannelSpec(
    name="segment",
    title="Twilio Segment",
    representation="boolean user trait via identify (named after the list)",
    auth="HTTP Basic, source write key as username",
    throttle_signal="400 only for size/JSON errors; 429 possible (unverified), Retry-After honoured",
    identity="customer_id",
    needs_upsert=False,
    add_batch=100,
    remove_batch=100,
    rates={},
    can_list=False,
    field_pattern=r"^(?!.*(?i:subscri|consent|opt_?in|opt_?out))[A-Za-z][A-Za-z0-9_]{0,99}$",
    unverified=(
        "EU endpoint host (events.eu1.segmentapis.com or eu1.api.segmentapis.com): set base_url explicitly",
        "any throughput limit, and 429 behaviour",
        "401 for an unknown write key (the API may accept and drop instead)",
    ),
)


class SegmentAdapter:
    spec = SPEC

    def __init__(self, write_key: str, http: Http, *, base_url: str | None = None) -> None:
        if not write_key:
            raise NotConfigured("segment needs write_key (the HTTP API source's write key)")
        self.url = f"{(base_url or 'https://api.segment.io/v1').rstrip('/')}/batch"
        self.http = http
        self.headers = {"Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}
        # (trait, customer, value) -> (messageId, timestamp) of a change not yet acknowledged.
        self._pending: dict[tuple[str, str, bool], tuple[str, str]] = {}

    def _identify(self, target: Target, contacts: list[Contact], member: bool) -> Outcomes:
        from segmentation.sync.http import check

        if len(self._pending) > 100_000:  # changes given up on long ago; a resend then gets a new id
            self._pending.clear()
        out: Outcomes = {}
        calls: list[tuple[Contact, tuple[str, str, bool], dict[str, Any]]] = []
        for contact in contacts:
            key = (target.list_name, contact.customer_id, member)
            self._pending.pop((target.list_name, contact.customer_id, not member), None)  # superseded
            message_id, timestamp = self._pending.setdefault(key, (str(uuid.uuid4()), _now()))
            traits = {**(dict(contact.fields) if member else {}), target.list_name: member}
            call = {
                "type": "identify",
                "userId": contact.customer_id,
                "traits": traits,
                "messageId": message_id,
                "timestamp": timestamp,
            }
            if len(_encoded(call)) > EVENT_LIMIT:
                out[contact.customer_id] = terminal("identify call larger than Segment's 32 KB per event")
                self._pending.pop(key, None)
                continue
            calls.append((contact, key, call))
        if not calls:
            return out
        body = {"batch": [call for _, _, call in calls]}
        if len(_encoded(body)) > BATCH_LIMIT:
            raise Rejected("segment batch larger than 500 KB")  # the engine halves it
        check(self.http.request("POST", self.url, json_body=body, headers=self.headers), "segment batch")
        for contact, key, _ in calls:
            out[contact.customer_id] = ok()
            self._pending.pop(key, None)
        return out

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        raise NotImplementedError("segment identifies by userId: nothing to upsert (needs_upsert is False)")

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._identify(target, contacts, True)

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._identify(target, contacts, False)

    def list_members(self, target: Target) -> Iterator[str]:
        raise NotImplementedError("segment's tracking API cannot be read (spec.can_list is False)")


def _encoded(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def create(config: Mapping[str, Any], http: Http) -> SegmentAdapter:
    return SegmentAdapter(str(config.get("write_key") or ""), http, base_url=config.get("base_url"))

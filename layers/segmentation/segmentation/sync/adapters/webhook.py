"""Generic signed webhook: POSTs the desired state of a batch of customers to a URL the shop owns.

Body: ``{"segment_id", "list", "add": [...], "remove": [...], "sent_at"}``. Header
``X-Segmentation-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the shared secret>``;
receivers recompute it and reject bodies older than a few minutes (replay protection).
Configured by the stack parameter ``WebhookUrl`` and the generated ``WebhookSecret``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from segmentation.domain.types import iso
from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcomes,
    Target,
    all_ok,
)

SIGNATURE_HEADER = "X-Segmentation-Signature"

SPEC = ChannelSpec(
    name="webhook",
    title="Signed webhook",
    representation="the receiver keeps it (signed POST of adds/removes)",
    auth="HMAC-SHA256 signature header with the stack's WebhookSecret",
    throttle_signal="429 with Retry-After, 5xx",
    identity="customer_id",
    needs_upsert=False,
    add_batch=100,
    remove_batch=100,
    requires_purpose=False,
)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, now: float | None = None, tolerance: int = 300) -> bool:
    """Receiver-side check, shipped so that shops (and our tests) verify signatures the same way."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


class WebhookAdapter:
    spec = SPEC

    def __init__(self, url: str, secret: str, http: Http) -> None:
        if not url.startswith(("https://", "http://")):
            raise NotConfigured("webhook URL must be http(s)")
        self.url = url
        self.secret = secret
        self.http = http

    def _post(self, target: Target, add: list[Contact], remove: list[Contact]) -> None:
        from segmentation.sync.http import check

        payload = {
            "segment_id": target.segment_id,
            "list": target.list_name,
            "add": [{"customer_id": c.customer_id, "email": c.email, **dict(c.fields)} for c in add],
            "remove": [{"customer_id": c.customer_id} for c in remove],
            "sent_at": iso(datetime.now(UTC)),
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body, int(time.time()))}
        # The signature covers these exact bytes, so they are sent as they are rather than re-serialised.
        check(self.http.request("POST", self.url, raw_body=body, headers=headers), "webhook")

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return all_ok(contacts)

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        self._post(target, contacts, [])
        return all_ok(contacts)

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        self._post(target, [], contacts)
        return all_ok(contacts)

    def list_members(self, target: Target) -> Iterator[str]:
        raise NotImplementedError("a webhook cannot be read back")


def create(config: Mapping[str, Any], http: Http) -> WebhookAdapter:
    return WebhookAdapter(str(config.get("url") or ""), str(config.get("secret") or ""), http)

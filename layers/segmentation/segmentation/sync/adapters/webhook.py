"""Generic signed webhook: POSTs the desired state of a batch of customers to a URL the shop owns.

Body: ``{"segment_id", "list", "add": [...], "remove": [...], "sent_at"}``. Header
``X-Segmentation-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the shared secret>``;
receivers recompute it and reject bodies older than a few minutes (replay protection).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

from segmentation.domain.types import iso
from segmentation.sync.adapters.base import Contact, DeliveryResult, RetryableDeliveryError

SIGNATURE_HEADER = "X-Segmentation-Signature"


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
    channel = "webhook"

    def __init__(self, url: str, secret: str, timeout: float = 10.0) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("webhook URL must be http(s)")
        self.url = url
        self.secret = secret
        self.timeout = timeout

    def sync(self, segment_id: str, list_name: str | None, add: list[Contact], remove: list[Contact]) -> DeliveryResult:
        payload = {
            "segment_id": segment_id,
            "list": list_name,
            "add": [{"customer_id": c.customer_id, "email": c.email} for c in add],
            "remove": [{"customer_id": c.customer_id} for c in remove],
            "sent_at": iso(datetime.now(UTC)),
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body, int(time.time()))},
        )
        ids = [c.customer_id for c in add + remove]
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - URL is configured
                response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                raise RetryableDeliveryError(
                    f"webhook answered {exc.code}", float(retry_after) if retry_after else None
                ) from exc
            return DeliveryResult(terminal={i: f"webhook answered {exc.code}" for i in ids})
        except (urllib.error.URLError, TimeoutError) as exc:
            raise RetryableDeliveryError(f"webhook unreachable: {exc.__class__.__name__}") from exc
        return DeliveryResult(delivered=ids)

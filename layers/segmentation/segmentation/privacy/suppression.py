"""The suppression list: salted fingerprints of people who must not be brought back.

An erased person leaves no readable trace, yet a later import of the same address must not resurrect
them. We keep only ``HMAC-SHA256(salt, normalised email)``: without the salt (a secret in Secrets Manager)
the fingerprint cannot be reversed by hashing a list of candidate addresses. A suppressed address is
admitted again only with consent given *after* it was suppressed.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from segmentation.domain.types import iso
from segmentation.store.clients import client

SUPPRESSION_SK = "#S"


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class Suppression:
    fingerprint: str
    reason: str  # "erasure", "unsubscribed", "bounced", "complained", "manual"...
    source: str  # who asked: "api", "import:<job id>", ...
    at: datetime


class SuppressionList:
    def __init__(self, table_name: str, salt: str) -> None:
        if not salt:
            raise ValueError("the suppression salt is empty")
        self.table = table_name
        self._key = salt.encode()

    def fingerprint(self, email: str) -> str:
        return hmac.new(self._key, normalise_email(email).encode(), hashlib.sha256).hexdigest()

    def _key_of(self, fingerprint: str) -> dict[str, Any]:
        return {"PK": {"S": f"SUP#{fingerprint}"}, "SK": {"S": SUPPRESSION_SK}}

    def add(self, email: str, *, reason: str, source: str, at: datetime) -> Suppression:
        """Suppress ``email`` from ``at``. Idempotent; a later suppression moves the date forward, an older
        redelivery never moves it back (fresh consent must postdate the latest suppression)."""
        entry = Suppression(self.fingerprint(email), reason, source, at)
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item={
                    **self._key_of(entry.fingerprint),
                    "reason": {"S": reason},
                    "source": {"S": source},
                    "at": {"S": iso(at)},
                },
                ConditionExpression="attribute_not_exists(PK) OR #at < :at",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":at": {"S": iso(at)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        return entry

    def get(self, email: str) -> Suppression | None:
        fingerprint = self.fingerprint(email)
        item = client("dynamodb").get_item(TableName=self.table, Key=self._key_of(fingerprint), ConsistentRead=True)
        found = item.get("Item")
        if not found:
            return None
        at = datetime.fromisoformat(found["at"]["S"])
        return Suppression(fingerprint, found["reason"]["S"], found["source"]["S"], at)

    def get_many(self, emails: list[str]) -> dict[str, Suppression]:
        """The suppressions of many addresses at once (``BatchGetItem``, 100 keys a call), by address.

        An import checks each batch of rows with one call instead of one ``GetItem`` per row."""
        by_fingerprint = {self.fingerprint(email): email for email in emails}
        keys = [self._key_of(fp) for fp in by_fingerprint]
        found: dict[str, Suppression] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {self.table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            while request:
                out = client("dynamodb").batch_get_item(RequestItems=request)
                for item in out.get("Responses", {}).get(self.table, []):
                    fingerprint = item["PK"]["S"][4:]
                    at = datetime.fromisoformat(item["at"]["S"])
                    entry = Suppression(fingerprint, item["reason"]["S"], item["source"]["S"], at)
                    found[by_fingerprint[fingerprint]] = entry
                request = out.get("UnprocessedKeys") or {}
        return found

    def admits(self, email: str, *, consent_at: datetime | None = None) -> bool:
        """May this address be (re)created? Yes unless suppressed, or suppressed but consenting since."""
        entry = self.get(email)
        return entry is None or (consent_at is not None and consent_at > entry.at)

    def lift(self, email: str) -> None:
        """Forget a suppression (the person opted in again through a consent source)."""
        client("dynamodb").delete_item(TableName=self.table, Key=self._key_of(self.fingerprint(email)))

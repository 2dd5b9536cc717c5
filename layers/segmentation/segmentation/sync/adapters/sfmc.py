"""Salesforce Marketing Cloud Engagement: membership is a row in a data extension keyed by
(SubscriberKey, SegmentKey), with an ``IsMember`` flag and ``UpdatedAt``.

* Add and remove are the same upsert, ``IsMember`` true or false: removal keeps the row and clears the flag
  (Journey Builder entry sources and filters read ``IsMember``). Rows go through the synchronous rowset
  upsert ``POST /hub/v1/dataevents/key:{DEKey}/rowset`` with ``[{"keys": {...}, "values": {...}}]``, at most 50
  rows per call (Salesforce's best practice), so the answer says at once whether the rows were written; the
  async endpoint would need polling for per-row errors. A refused rowset fails as a whole; the engine halves it.
* The data extension should be sendable, its SubscriberKey related to Subscriber Key: sends then still honour
  All Subscribers status. Nothing here writes subscriber status; mapped fields are data extension columns.
* Auth: OAuth2 client credentials, ``POST https://{subdomain}.auth.marketingcloudapis.com/v2/token``; the token
  (about 20 minutes, no refresh token) comes with ``rest_instance_url``. Cached; renewed on 401.
* Limits: no number is published. 429 with ``errorcode`` 50100 carries ``Retry-After`` (honoured); 50200
  (requests temporarily blocked) has none and waits a minute; 5xx are retried.

Secret ``<prefix>sfmc``: ``{"subdomain": "<28-character tenant prefix>", "client_id": "...", "client_secret":
"...", "account_id": "<MID, optional>", "data_extension_key": "SegmentMembership"}`` (``auth_base_url``
overrides the auth host; ``base_url`` overrides the REST host the token names).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcomes,
    Retryable,
    Target,
    Throttled,
    all_ok,
)

BATCH = 50
BLOCKED_WAIT = 60.0  # 50200 gives no hint; Salesforce asks for a longer pause than for 50100
_KEY_COLUMNS = ("SubscriberKey", "SegmentKey", "IsMember", "UpdatedAt")

SPEC = ChannelSpec(
    name="sfmc",
    title="Salesforce Marketing Cloud Engagement",
    representation="data extension row (SubscriberKey, SegmentKey) with IsMember flag",
    auth="OAuth2 client credentials (installed package), Bearer; tenant subdomain",
    throttle_signal="429 errorcode 50100 + Retry-After; 50200 blocked (no hint, waits 60 s)",
    identity="customer_id",
    needs_upsert=False,
    add_batch=BATCH,
    remove_batch=BATCH,
    rates={},
    can_list=False,
    field_pattern=rf"^(?!({'|'.join(_KEY_COLUMNS)})$)[A-Za-z][A-Za-z0-9_]{{0,127}}$",  # data extension columns
    unverified=(
        "a REST endpoint deleting data extension rows (assumed SOAP-only; rows are kept with IsMember false)",
        "payload cap of the async rows endpoint (the synchronous rowset is used instead)",
        "a rowset refused as a whole when one row is invalid (no per-row answer is read)",
    ),
)


class SfmcAdapter:
    spec = SPEC

    def __init__(self, config: Mapping[str, Any], http: Http) -> None:
        subdomain = str(config.get("subdomain") or "")
        self.client_id = str(config.get("client_id") or "")
        self.client_secret = str(config.get("client_secret") or "")
        self.de_key = str(config.get("data_extension_key") or "")
        auth = str(
            config.get("auth_base_url") or (f"https://{subdomain}.auth.marketingcloudapis.com" if subdomain else "")
        )
        if not auth or not self.client_id or not self.client_secret or not self.de_key:
            raise NotConfigured("sfmc needs subdomain, client_id, client_secret and data_extension_key")
        self.token_url = f"{auth.rstrip('/')}/v2/token"
        self.account_id = config.get("account_id")
        self.rest_override = config.get("base_url")
        self.http = http
        self._token: str | None = None
        self._rest = ""
        self._expires = 0.0

    def _access_token(self) -> tuple[str, bool]:
        if self._token and time.time() < self._expires:
            return self._token, False
        from segmentation.sync.http import check

        body: dict[str, Any] = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.account_id:
            body["account_id"] = str(self.account_id)
        response = self.http.request("POST", self.token_url, json_body=body)
        if response.status in (400, 401, 403):
            raise NotConfigured(f"sfmc token: {response.status} client credentials refused")
        answer = check(response, "sfmc token").json() or {}
        if not answer.get("access_token"):
            raise Retryable("sfmc token: no access_token in the answer")
        self._token = str(answer["access_token"])
        self._rest = str(self.rest_override or answer.get("rest_instance_url") or "").rstrip("/")
        if not self._rest:
            raise NotConfigured("sfmc token: no rest_instance_url (set base_url)")
        self._expires = time.time() + max(0.0, float(answer.get("expires_in") or 1080) - 60)
        return self._token, True

    def _rowset(self, target: Target, contacts: list[Contact], member: bool) -> Outcomes:
        from segmentation.sync.http import check

        updated = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        rows = [
            {
                "keys": {"SubscriberKey": c.customer_id, "SegmentKey": target.list_name},
                "values": {**(dict(c.fields) if member else {}), "IsMember": str(member).lower(), "UpdatedAt": updated},
            }
            for c in contacts
        ]
        token, fresh = self._access_token()
        response = self.http.request(
            "POST",
            f"{self._rest}/hub/v1/dataevents/key:{self.de_key}/rowset",
            json_body=rows,
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status == 401:
            self._token = None
            if fresh:
                raise NotConfigured("sfmc rowset: 401 with a new token (package scopes: data_extensions_write)")
            raise Retryable("sfmc rowset: 401 (token renewed)", 0.0)
        if response.status == 429:
            answer = response.json() if isinstance(response.json(), dict) else {}
            if str(answer.get("errorcode")) == "50200" or not response.header("Retry-After"):
                raise Throttled("sfmc rowset: 429 requests temporarily blocked", BLOCKED_WAIT)
        check(response, "sfmc rowset")
        return all_ok(contacts)

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        raise NotImplementedError("sfmc rows are keyed by the customer id: nothing to upsert (needs_upsert is False)")

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._rowset(target, contacts, True)

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._rowset(target, contacts, False)

    def list_members(self, target: Target) -> Iterator[str]:
        raise NotImplementedError("sfmc data extension rows are not read back (spec.can_list is False)")


def create(config: Mapping[str, Any], http: Http) -> SfmcAdapter:
    return SfmcAdapter(config, http)

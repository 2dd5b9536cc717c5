"""Adobe Marketo Engage REST API: membership is a static list in the Lead Database.

* Token: ``GET /identity/oauth/token?grant_type=client_credentials&client_id=..&client_secret=..`` (about an
  hour), sent as ``Authorization: Bearer``. Cached on the adapter; fetched again on 601/602.
* Upsert: ``POST /rest/v1/leads.json`` ``{"action": "createOrUpdate", "lookupField": "email", "input": [...]}``
  (300 leads); ``result[]`` answers each input in order with ``id`` and ``status`` (created / updated /
  skipped with ``reasons``). Consent fields (``unsubscribed``, ``marketingSuspended``, ``emailInvalid``) are
  never sent: a destination's field mapping cannot name them.
* Add / remove: ``POST`` / ``DELETE /rest/v1/lists/{listId}/leads.json?id=..&id=..`` (300 lead ids); per
  lead ``added`` / ``removed`` or ``skipped`` with a reason (1004 lead not found: a stale id).
* List: ``GET /rest/v1/lists/{listId}/leads.json?fields=id&batchSize=300`` following ``nextPageToken``.
* Limits, per instance and shared by every API user: 100 calls per 20 s, 10 concurrent, 50,000 per day.
  Errors come in an HTTP 200 with ``success: false``: 606 (rate) waits out the 20 s window, 615
  (concurrency) a short pause, 607 (daily quota) until the quota resets; 601/602 (token), 604, 608, 611 are
  retried; 413 (body over 1 MB) rejects the batch, which the engine splits. There is no 429.

Lists are static lists made in Marketo. ``lists`` in the secret maps a destination's list name to its id;
an unmapped name is looked up by name.

Secret ``<prefix>marketo``: ``{"munchkin_id": "123-ABC-456", "client_id": "...", "client_secret": "...",
"lists": {"seg-vip": 1001}}`` (``base_url`` overrides ``https://<munchkin_id>.mktorest.com``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcome,
    Outcomes,
    Rate,
    Rejected,
    Retryable,
    Target,
    Throttled,
    ok,
    retry,
    stale,
    terminal,
)

BATCH = 300
RATE_WINDOW = 20.0
# Per-lead reasons that resending cannot fix (invalid or missing value, unknown field, several leads match,
# partition access denied, field not supported). Any other reason is retried.
_TERMINAL_REASONS = frozenset({"1001", "1002", "1003", "1006", "1007", "1008", "1011"})
_TOKEN_CODES = frozenset({"600", "601", "602"})
_RETRY_CODES = frozenset({"604", "608", "611", "713"})
_CONSENT_FIELDS = (
    "unsubscribed|unsubscribedReason|marketingSuspended|marketingSuspendedReason|emailInvalid|emailInvalidCause"
    "|blackListed|blackListedCause"
)

SPEC = ChannelSpec(
    name="marketo",
    title="Adobe Marketo Engage",
    representation="static list",
    auth="OAuth2 client credentials (identity endpoint), Bearer; Munchkin host",
    throttle_signal="HTTP 200, success:false, errors[].code 606 / 615 / 607",
    identity="email",
    needs_upsert=True,
    upsert_batch=BATCH,
    add_batch=BATCH,
    remove_batch=BATCH,
    rates={"default": (Rate(100, RATE_WINDOW),)},
    can_list=True,
    throttle_wait=RATE_WINDOW,
    field_pattern=rf"^(?!({_CONSENT_FIELDS})$)[A-Za-z][A-Za-z0-9_]{{0,79}}$",
    unverified=(
        "a JSON body {input: [{id}]} for list membership (lead ids are sent in the query string instead)",
        "list lookup by name (GET /rest/v1/lists.json?name=)",
        "membership listing (GET /rest/v1/lists/{listId}/leads.json, nextPageToken)",
        "daily quota (607) resetting at midnight US Central standard time",
        "which per-lead skip reasons are permanent (1001-1003, 1006-1008, 1011 are taken as such)",
    ),
)


def _codes(errors: Any) -> list[str]:
    return [str(e.get("code")) for e in errors or [] if isinstance(e, dict)]


def until_quota_reset(now: float | None = None) -> float:
    """Seconds until the daily quota resets, taken as midnight US Central standard time (UTC-6; unverified)."""
    central = (now if now is not None else time.time()) - 6 * 3600
    return 86_400 - central % 86_400


class MarketoAdapter:
    spec = SPEC

    def __init__(
        self,
        base: str,
        client_id: str,
        client_secret: str,
        http: Http,
        *,
        lists: Mapping[str, Any] | None = None,
    ) -> None:
        if not base or not client_id or not client_secret:
            raise NotConfigured("marketo needs munchkin_id (or base_url), client_id and client_secret")
        self.base = base.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.http = http
        self._lists = {str(name): str(list_id) for name, list_id in (lists or {}).items()}
        self._token: str | None = None
        self._expires = 0.0

    # ------------------------------------------------------------------------------------------ auth

    def _access_token(self) -> tuple[str, bool]:
        """The cached token (False) or a new one (True)."""
        if self._token and time.time() < self._expires:
            return self._token, False
        from segmentation.sync.http import check

        response = self.http.request(
            "GET",
            f"{self.base}/identity/oauth/token",
            query={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )
        if response.status in (400, 401):
            raise NotConfigured(f"marketo token: {response.status} client credentials refused")
        body = check(response, "marketo token").json() or {}
        if body.get("success") is False:  # the REST error envelope (rate, quota, outage) on the identity call
            self._raise(_codes(body.get("errors")), True, "marketo token")
        if not body.get("access_token"):
            raise Retryable("marketo token: no access_token in the answer")
        self._token = str(body["access_token"])
        # Renew a minute early: a token that expires between our check and Marketo's costs a retry.
        self._expires = time.time() + max(0.0, float(body.get("expires_in") or 3600) - 60)
        return self._token, True

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        from segmentation.sync.http import check

        token, fresh = self._access_token()
        response = self.http.request(
            method, f"{self.base}{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs
        )
        body = response.json()
        if response.status == 200 and isinstance(body, dict) and body.get("success") is False:
            self._raise(_codes(body.get("errors")), fresh, f"marketo {what}")
        check(response, f"marketo {what}")
        if not isinstance(body, dict):
            raise Retryable(f"marketo {what}: unreadable answer")
        return body

    def _raise(self, codes: list[str], fresh_token: bool, what: str) -> None:
        """Marketo's errors come in a 200: classify them as the engine needs."""
        found = set(codes)
        listed = ", ".join(codes) or "no code"
        if found & _TOKEN_CODES:
            self._token = None
            if fresh_token:
                raise NotConfigured(f"{what}: {listed} with a new access token (API user or role)")
            raise Retryable(f"{what}: {listed} (access token renewed)", 0.0)
        if "606" in found:
            raise Throttled(f"{what}: 606 rate limit", RATE_WINDOW)
        if "615" in found:
            raise Throttled(f"{what}: 615 concurrent access limit", 2.0)
        if "607" in found:
            raise Throttled(f"{what}: 607 daily quota reached", until_quota_reset())
        if found & _RETRY_CODES:
            raise Retryable(f"{what}: {listed}")
        if "603" in found:
            raise NotConfigured(f"{what}: 603 access denied (API role permissions)")
        raise Rejected(f"{what}: {listed}")

    # ------------------------------------------------------------------------------------------ lists

    def _list_id(self, name: str) -> str:
        if name not in self._lists:
            found = self._call("GET", "/rest/v1/lists.json", "find list", query={"name": name})
            match = [row for row in found.get("result") or [] if row.get("name") == name]
            if not match:
                raise NotConfigured(f"marketo has no static list named {name!r}: create it, or map it under lists")
            self._lists[name] = str(match[0]["id"])
        return self._lists[name]

    # ------------------------------------------------------------------------------------------ operations

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        body = {
            "action": "createOrUpdate",
            "lookupField": "email",
            "input": [{"email": c.email, **dict(c.fields)} for c in contacts],
        }
        answer = self._call("POST", "/rest/v1/leads.json", "upsert leads", json_body=body)
        out: Outcomes = {}
        # Results answer the inputs in order.
        for contact, result in zip(contacts, answer.get("result") or [], strict=False):
            status = str(result.get("status") or "")
            if status in ("created", "updated") and result.get("id") is not None:
                out[contact.customer_id] = ok(str(result["id"]))
            else:
                out[contact.customer_id] = _skipped(result)
        return out

    def _membership(self, method: str, target: Target, contacts: list[Contact], done: str) -> Outcomes:
        list_id = self._list_id(target.list_name)
        answer = self._call(
            method,
            f"/rest/v1/lists/{list_id}/leads.json",
            "add to list" if done == "added" else "remove from list",
            query=[("id", c.platform_id) for c in contacts],
        )
        results = {str(r.get("id")): r for r in answer.get("result") or [] if isinstance(r, dict)}
        out: Outcomes = {}
        for contact in contacts:
            result = results.get(str(contact.platform_id))
            if result is None:
                continue  # no answer for this lead: the engine retries it
            if result.get("status") == done:
                out[contact.customer_id] = ok()
                continue
            reasons = _codes(result.get("reasons"))
            if done == "removed" and ({"1004", "1015"} & set(reasons)):
                out[contact.customer_id] = ok()  # not a lead, or not in the list: nothing to remove
            elif done == "added" and "1004" in reasons:
                out[contact.customer_id] = stale("lead not found (1004)")
            else:
                out[contact.customer_id] = _skipped(result)
        return out

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._membership("POST", target, contacts, "added")

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._membership("DELETE", target, contacts, "removed")

    def list_members(self, target: Target) -> Iterator[str]:
        list_id = self._list_id(target.list_name)
        token: str | None = None
        while True:
            query = {"fields": "id", "batchSize": BATCH, **({"nextPageToken": token} if token else {})}
            page = self._call("GET", f"/rest/v1/lists/{list_id}/leads.json", "list members", query=query)
            for row in page.get("result") or []:
                yield str(row["id"])
            token = page.get("nextPageToken")
            if not page.get("moreResult") or not token:
                return


def _skipped(result: Mapping[str, Any]) -> Outcome:
    reasons = [r for r in result.get("reasons") or [] if isinstance(r, dict)]
    text = "; ".join(f"{r.get('code')} {r.get('message') or ''}".strip() for r in reasons)[:160] or "skipped"
    if any(str(r.get("code")) in _TERMINAL_REASONS for r in reasons):
        return terminal(text)
    return retry(text)


def create(config: Mapping[str, Any], http: Http) -> MarketoAdapter:
    munchkin = str(config.get("munchkin_id") or "")
    base = str(config.get("base_url") or (f"https://{munchkin}.mktorest.com" if munchkin else ""))
    return MarketoAdapter(
        base,
        str(config.get("client_id") or ""),
        str(config.get("client_secret") or ""),
        http,
        lists=config.get("lists") or {},
    )

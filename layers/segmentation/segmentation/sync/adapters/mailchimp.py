"""Mailchimp Marketing API v3: membership is a member tag, i.e. a static segment of the audience.

* Upsert: ``PUT /lists/{list}/members/{subscriber_hash}`` with ``status_if_new`` only, never ``status``, so an
  existing member's subscription (unsubscribed, cleaned) is never changed. The platform id is the subscriber
  hash, MD5 of the lower-cased address.
* Add / remove: ``POST /lists/{list}/segments/{segment}`` with ``members_to_add`` / ``members_to_remove``
  (500 each). A removal for an address that has changed since uses the single-member
  ``DELETE /lists/{list}/segments/{segment}/members/{hash}``.
* List: ``GET /lists/{list}/segments/{segment}/members`` (paged by ``count`` / ``offset``).
* Limits: 10 concurrent connections per user and no published request rate; the sync queue's message group
  gives one connection per channel, so no client-side rate is configured. 429 carries no Retry-After.

Secret ``<prefix>mailchimp``: ``{"api_key": "<key>-<dc>", "list_id": "<audience id>",
"status_if_new": "subscribed"}`` (``base_url`` overrides the data-centre host, e.g. for the local fake).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcomes,
    Target,
    ok,
    retry,
    stale,
)

SPEC = ChannelSpec(
    name="mailchimp",
    title="Mailchimp",
    representation="member tag (static segment of the audience)",
    auth="HTTP Basic, API key as password; data-centre host from the key suffix",
    throttle_signal="429 (too many connections), no Retry-After",
    identity="email",
    needs_upsert=True,
    upsert_batch=1,
    add_batch=500,
    remove_batch=500,
    can_list=True,
    field_pattern=r"^[A-Z0-9_]{1,10}$",  # merge tags
    unverified=(
        "403 under very high volume (treated as a credentials error, not as a throttle)",
        "response shape of the static-segment batch (members_added / members_removed / errors)",
        "error texts used to tell 'not in the audience' from other per-address errors",
        "exact title of the 400 for a member in a compliance state (treated as terminal for that member)",
    ),
)

_STATUS_IF_NEW = {"subscribed", "pending", "transactional"}


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # noqa: S324 - Mailchimp's id, not security


class MailchimpAdapter:
    spec = SPEC

    def __init__(
        self, api_key: str, list_id: str, http: Http, *, base_url: str | None = None, status_if_new: str = "subscribed"
    ) -> None:
        if not api_key or "-" not in api_key or not list_id:
            raise NotConfigured("mailchimp needs api_key (ending in -<dc>) and list_id")
        if status_if_new not in _STATUS_IF_NEW:
            raise NotConfigured(f"mailchimp status_if_new must be one of {sorted(_STATUS_IF_NEW)}")
        dc = api_key.rsplit("-", 1)[1]
        self.base = (base_url or f"https://{dc}.api.mailchimp.com/3.0").rstrip("/")
        self.list_id = list_id
        self.http = http
        self.status_if_new = status_if_new
        token = base64.b64encode(f"segmentation:{api_key}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self._segments: dict[str, int] = {}

    def _request(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        from segmentation.sync.http import check

        response = self.http.request(method, f"{self.base}{path}", headers=self.headers, **kwargs)
        return check(response, f"mailchimp {what}").json()

    def _segment_id(self, name: str) -> int:
        """The static segment behind the tag, created on first use (cached per container)."""
        if name not in self._segments:
            offset = 0
            while name not in self._segments:
                page = self._request(
                    "GET",
                    f"/lists/{self.list_id}/segments",
                    "list tags",
                    query={"type": "static", "count": 1000, "offset": offset},
                )
                for segment in page.get("segments", []):
                    self._segments.setdefault(segment["name"], int(segment["id"]))
                offset += 1000
                if offset >= int(page.get("total_items", 0)):
                    break
            if name not in self._segments:
                created = self._request(
                    "POST",
                    f"/lists/{self.list_id}/segments",
                    "create tag",
                    json_body={"name": name, "static_segment": []},
                )
                self._segments[name] = int(created["id"])
        return self._segments[name]

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        out: Outcomes = {}
        for contact in contacts:  # one per request: Mailchimp's upsert is per member
            email = contact.email or ""
            body: dict[str, Any] = {"email_address": email, "status_if_new": self.status_if_new}
            if contact.fields:
                body["merge_fields"] = dict(contact.fields)
            member = self._request(
                "PUT", f"/lists/{self.list_id}/members/{subscriber_hash(email)}", "upsert member", json_body=body
            )
            out[contact.customer_id] = ok(str(member.get("id") or subscriber_hash(email)))
        return out

    def _batch(self, target: Target, key: str, contacts: list[Contact]) -> Outcomes:
        segment = self._segment_id(target.list_name)
        by_email = {(c.email or "").strip().lower(): c for c in contacts}
        result = self._request(
            "POST",
            f"/lists/{self.list_id}/segments/{segment}",
            "update tag",
            json_body={key: [c.email for c in contacts]},
        )
        out: Outcomes = {c.customer_id: ok() for c in contacts}  # unmentioned: already in the wanted state
        for error in result.get("errors") or []:
            text = str(error.get("error") or "")
            for email in error.get("email_addresses") or []:
                contact = by_email.get(str(email).lower())
                if contact is None:
                    continue
                # Not in the audience: upsert again (a deleted or archived member). Anything else we cannot
                # read is retried a bounded number of times, then dead-lettered with the task.
                lowered = text.lower()
                gone = "not" in lowered and ("member" in lowered or "exist" in lowered or "audience" in lowered)
                out[contact.customer_id] = stale(text[:120]) if gone else retry(text[:120])
        return out

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._batch(target, "members_to_add", contacts)

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        current = [c for c in contacts if c.email and subscriber_hash(c.email) == c.platform_id]
        moved = [c for c in contacts if c not in current]
        out = self._batch(target, "members_to_remove", current) if current else {}
        segment = self._segment_id(target.list_name) if moved else 0
        for contact in moved:  # added under an address the customer no longer has: remove by hash
            from segmentation.sync.http import check

            response = self.http.request(
                "DELETE",
                f"{self.base}/lists/{self.list_id}/segments/{segment}/members/{contact.platform_id}",
                headers=self.headers,
            )
            if response.status != 404:  # not in the tag any more: the removal is done
                check(response, "mailchimp untag member")
            out[contact.customer_id] = ok()
        return out

    def list_members(self, target: Target) -> Iterator[str]:
        segment = self._segment_id(target.list_name)
        offset = 0
        while True:
            page = self._request(
                "GET",
                f"/lists/{self.list_id}/segments/{segment}/members",
                "list tag members",
                query={"count": 1000, "offset": offset},
            )
            members = page.get("members") or []
            for member in members:
                yield str(member.get("id") or subscriber_hash(member["email_address"]))
            offset += len(members)
            if not members or offset >= int(page.get("total_items", 0)):
                return


def create(config: Mapping[str, Any], http: Http) -> MailchimpAdapter:
    return MailchimpAdapter(
        str(config.get("api_key") or ""),
        str(config.get("list_id") or ""),
        http,
        base_url=config.get("base_url"),
        status_if_new=str(config.get("status_if_new") or "subscribed"),
    )

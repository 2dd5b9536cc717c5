"""Brevo (formerly Sendinblue) API v3: membership is a contact list (Brevo lists are static).

* Upsert: ``POST /contacts`` ``{"email", "attributes", "updateEnabled": true}`` (201 created, 204 updated).
  ``emailBlacklisted`` / ``smsBlacklisted`` are never sent, so a blocked contact stays blocked. Brevo keys
  contacts by address, and the list calls take addresses, so the platform id is the lower-cased address.
* Add / remove: ``POST /contacts/lists/{listId}/contacts/add`` / ``.../remove`` with ``{"emails": [...]}`` (150
  per request); ``contacts.success`` / ``contacts.failure`` answer per address. An address that fails to be
  added is taken as unknown to Brevo (a stale id: upserted again); one that fails to be removed was not in
  the list.
* Lists: ``lists`` in the secret maps list names to ids; otherwise the list is found by name
  (``GET /contacts/lists``) or, when ``folder_id`` is set, created in that folder (``POST /contacts/lists``).
* List: ``GET /contacts/lists/{listId}/contacts`` (``limit`` / ``offset``).
* Limits: about 36,000 requests an hour for ``/v3/contacts`` on the general tier, paced as 10 per second.
  429 carries ``x-sib-ratelimit-reset`` (seconds until the window resets), waited out.

Secret ``<prefix>brevo``: ``{"api_key": "xkeysib-...", "lists": {"seg-vip": 12}, "folder_id": 3}`` (``base_url``
overrides ``https://api.brevo.com/v3``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcomes,
    Rate,
    Rejected,
    Target,
    Throttled,
    all_ok,
    ok,
    stale,
)

BATCH = 150

SPEC = ChannelSpec(
    name="brevo",
    title="Brevo",
    representation="contact list",
    auth="api-key header",
    throttle_signal="429 + x-sib-ratelimit-reset (seconds)",
    identity="email",
    needs_upsert=True,
    upsert_batch=1,
    add_batch=BATCH,
    remove_batch=BATCH,
    rates={"default": (Rate(10, 1.0),)},
    can_list=True,
    field_pattern=r"^[A-Z][A-Z0-9_]{0,63}$",  # contact attribute names
    unverified=(
        "request rate of /v3/contacts per tier (about 36,000 per hour on the general tier, paced as 10/s)",
        "contacts.failure on add meaning an address Brevo does not know (a member already in the list is a success)",
        "the 400 for a removal whose addresses are all absent from the list (taken as done)",
        "list lookup and creation (GET / POST /contacts/lists, folderId) and member listing",
    ),
)


def _reset_wait(headers: Mapping[str, str]) -> float | None:
    value = headers.get("x-sib-ratelimit-reset")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class BrevoAdapter:
    spec = SPEC

    def __init__(
        self,
        api_key: str,
        http: Http,
        *,
        lists: Mapping[str, Any] | None = None,
        folder_id: int | None = None,
        base_url: str | None = None,
    ) -> None:
        if not api_key:
            raise NotConfigured("brevo needs api_key")
        self.base = (base_url or "https://api.brevo.com/v3").rstrip("/")
        self.http = http
        self.headers = {"api-key": api_key}
        self.folder_id = folder_id
        self._lists = {str(name): int(list_id) for name, list_id in (lists or {}).items()}

    def _send(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        from segmentation.sync.http import check

        response = self.http.request(method, f"{self.base}{path}", headers=self.headers, **kwargs)
        if response.status == 429:
            raise Throttled(f"brevo {what}: 429", _reset_wait(response.headers))
        return check(response, f"brevo {what}")

    def _list_id(self, name: str) -> int:
        if name not in self._lists:
            offset = 0
            while name not in self._lists:
                page = self._send("GET", "/contacts/lists", "find list", query={"limit": 50, "offset": offset}).json()
                for row in (page or {}).get("lists") or []:
                    self._lists.setdefault(str(row["name"]), int(row["id"]))
                offset += 50
                if offset >= int((page or {}).get("count") or 0):
                    break
        if name not in self._lists:
            if self.folder_id is None:
                raise NotConfigured(
                    f"brevo has no list named {name!r}: create it, map it under lists, or set folder_id"
                )
            created = self._send(
                "POST", "/contacts/lists", "create list", json_body={"name": name, "folderId": self.folder_id}
            ).json()
            self._lists[name] = int(created["id"])
        return self._lists[name]

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        out: Outcomes = {}
        for contact in contacts:
            email = (contact.email or "").strip().lower()
            body: dict[str, Any] = {"email": email, "updateEnabled": True}
            if contact.fields:
                body["attributes"] = dict(contact.fields)
            self._send("POST", "/contacts", "upsert contact", json_body=body)
            out[contact.customer_id] = ok(email)
        return out

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        list_id = self._list_id(target.list_name)
        emails = [str(c.platform_id) for c in contacts]
        answer = self._send(
            "POST", f"/contacts/lists/{list_id}/contacts/add", "add to list", json_body={"emails": emails}
        ).json()
        result = (answer or {}).get("contacts") or {}
        succeeded = {str(e).lower() for e in result.get("success") or []}
        failed = {str(e).lower() for e in result.get("failure") or []}
        out: Outcomes = {}
        for contact in contacts:
            if contact.platform_id in succeeded:
                out[contact.customer_id] = ok()
            elif contact.platform_id in failed:
                out[contact.customer_id] = stale("brevo does not know this address")
        return out  # addresses in neither list have no answer and are retried

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        list_id = self._list_id(target.list_name)
        emails = [str(c.platform_id) for c in contacts]
        try:
            self._send(
                "POST", f"/contacts/lists/{list_id}/contacts/remove", "remove from list", json_body={"emails": emails}
            )
        except Rejected as exc:
            # Brevo refuses a removal in which no address is in the list: there is nothing left to remove.
            if "already removed" not in str(exc).lower() and "does not exist" not in str(exc).lower():
                raise
        return all_ok(contacts)  # a failure means "not in the list", which is the wanted state

    def list_members(self, target: Target) -> Iterator[str]:
        list_id = self._list_id(target.list_name)
        offset = 0
        while True:
            page = (
                self._send(
                    "GET", f"/contacts/lists/{list_id}/contacts", "list members", query={"limit": 500, "offset": offset}
                ).json()
                or {}
            )
            rows = page.get("contacts") or []
            for row in rows:
                yield str(row["email"]).lower()
            offset += len(rows)
            if not rows or offset >= int(page.get("count") or 0):
                return


def create(config: Mapping[str, Any], http: Http) -> BrevoAdapter:
    folder = config.get("folder_id")
    return BrevoAdapter(
        str(config.get("api_key") or ""),
        http,
        lists=config.get("lists") or {},
        folder_id=int(folder) if folder is not None else None,
        base_url=config.get("base_url"),
    )

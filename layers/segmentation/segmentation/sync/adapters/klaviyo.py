"""Klaviyo (JSON:API, pinned revision): membership is a static list.

* Upsert: ``POST /api/profile-import`` (one profile per call; 201 created / 200 updated) gives the profile id.
  It never subscribes anyone: list membership carries no consent in Klaviyo and we never call subscribe.
* Add / remove: ``POST`` / ``DELETE /api/lists/{id}/relationships/profiles`` with up to 1,000 profile ids.
* List: ``GET /api/lists/{id}/relationships/profiles`` following ``links.next``.
* Limits: the list relationship endpoints are tier M (10/s burst, 150/min steady), profile import is tier L
  (75/s, 700/min); each has its own bucket. 429 carries Retry-After (honoured), else exponential backoff.

Secret ``<prefix>klaviyo``: ``{"api_key": "pk_..."}`` (``base_url`` overrides the host).
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
    all_ok,
    ok,
    stale,
)

REVISION = "2025-01-15"
# Profile attributes Klaviyo knows; any other mapped field goes into custom ``properties``.
_ATTRIBUTES = {"first_name", "last_name", "phone_number", "organization", "title", "locale", "external_id"}

SPEC = ChannelSpec(
    name="klaviyo",
    title="Klaviyo",
    representation="static list",
    auth="Authorization: Klaviyo-API-Key + pinned revision header",
    throttle_signal="429, Retry-After (unverified); RateLimit-* headers",
    identity="email",
    needs_upsert=True,
    upsert_batch=1,
    add_batch=1000,
    remove_batch=1000,
    rates={
        "lists": (Rate(10, 1.0), Rate(150, 60.0)),
        "profiles": (Rate(75, 1.0), Rate(700, 60.0)),
    },
    operation_buckets={"upsert": "profiles", "add": "lists", "remove": "lists", "list": "lists"},
    can_list=True,
    field_pattern=r"^[A-Za-z][A-Za-z0-9_ ]{0,63}$",
    unverified=(
        "Retry-After on 429 (honoured when present)",
        "list lookup by name (GET /api/lists?filter=equals(name,...)) and creation (POST /api/lists)",
        "list membership listing (GET /api/lists/{id}/relationships/profiles, links.next)",
        "an unknown profile id fails the whole membership request (the batch is split to find it)",
    ),
)


class KlaviyoAdapter:
    spec = SPEC

    def __init__(self, api_key: str, http: Http, *, base_url: str | None = None) -> None:
        if not api_key:
            raise NotConfigured("klaviyo needs api_key (a private key, pk_...)")
        self.base = (base_url or "https://a.klaviyo.com").rstrip("/")
        self.http = http
        self.headers = {
            "Authorization": f"Klaviyo-API-Key {api_key}",
            "revision": REVISION,
            "Content-Type": "application/vnd.api+json",
            "Accept": "application/vnd.api+json",
        }
        self._lists: dict[str, str] = {}

    def _call(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        from segmentation.sync.http import check

        target = url if url.startswith("http") else f"{self.base}{url}"
        return check(self.http.request(method, target, headers=self.headers, **kwargs), f"klaviyo {what}")

    def _list_id(self, name: str) -> str:
        if name not in self._lists:
            escaped = name.replace("\\", "\\\\").replace('"', '\\"')
            found = self._call("GET", "/api/lists", "find list", query={"filter": f'equals(name,"{escaped}")'}).json()
            if found.get("data"):
                self._lists[name] = str(found["data"][0]["id"])
            else:
                body = {"data": {"type": "list", "attributes": {"name": name}}}
                self._lists[name] = str(
                    self._call("POST", "/api/lists", "create list", json_body=body).json()["data"]["id"]
                )
        return self._lists[name]

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        out: Outcomes = {}
        for contact in contacts:
            attributes: dict[str, Any] = {"email": contact.email}
            properties: dict[str, Any] = {}
            for name, value in contact.fields.items():
                (attributes if name in _ATTRIBUTES else properties)[name] = value
            if properties:
                attributes["properties"] = properties
            body = {"data": {"type": "profile", "attributes": attributes}}
            profile = self._call("POST", "/api/profile-import", "upsert profile", json_body=body).json()
            out[contact.customer_id] = ok(str(profile["data"]["id"]))
        return out

    def _relationship(self, method: str, target: Target, contacts: list[Contact]) -> Outcomes:
        list_id = self._list_id(target.list_name)
        body = {"data": [{"type": "profile", "id": c.platform_id} for c in contacts]}
        try:
            self._call(method, f"/api/lists/{list_id}/relationships/profiles", "update list", json_body=body)
        except Rejected as exc:
            # All or nothing: a single profile refused as unknown is a stale cached id; larger batches are
            # split by the engine until the unknown one is alone.
            if len(contacts) == 1 and (" 404 " in f"{exc} " or "not found" in str(exc).lower()):
                return {contacts[0].customer_id: stale()}
            raise
        return all_ok(contacts)

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._relationship("POST", target, contacts)

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._relationship("DELETE", target, contacts)

    def list_members(self, target: Target) -> Iterator[str]:
        url: str | None = f"/api/lists/{self._list_id(target.list_name)}/relationships/profiles"
        while url:
            page = self._call("GET", url, "list members").json()
            for row in page.get("data") or []:
                yield str(row["id"])
            url = (page.get("links") or {}).get("next")


def create(config: Mapping[str, Any], http: Http) -> KlaviyoAdapter:
    return KlaviyoAdapter(str(config.get("api_key") or ""), http, base_url=config.get("base_url"))

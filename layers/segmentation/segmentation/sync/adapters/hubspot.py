"""HubSpot CRM v3: membership is a static (``MANUAL``) contact list.

* Upsert: ``POST /crm/v3/objects/contacts/batch/upsert`` keyed on ``email`` (100 inputs), giving record ids.
* Add / remove: ``PUT /crm/v3/lists/{listId}/memberships/add-and-remove`` with ``recordIdsToAdd`` or
  ``recordIdsToRemove``. Ids HubSpot does not know come back in ``recordIdsMissing``: the cached id is stale.
* List: ``GET /crm/v3/lists/{listId}/memberships`` (cursor paging).
* Limits: 100 requests per 10 s on Free/Starter (190 on Professional/Enterprise: override ``rates`` in the
  secret). A 429 waits for the next 10-second window unless the response says otherwise.

Secret ``<prefix>hubspot``: ``{"token": "<private app token>"}`` (``base_url`` overrides the host).
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
    Target,
    ok,
    retry,
    stale,
    terminal,
)

SPEC = ChannelSpec(
    name="hubspot",
    title="HubSpot",
    representation="static (MANUAL) contact list",
    auth="Bearer private-app token",
    throttle_signal="429 with X-HubSpot-RateLimit-* headers; Retry-After unverified",
    identity="email",
    needs_upsert=True,
    upsert_batch=100,
    # Not documented; chunked conservatively as the reference suggests.
    add_batch=1000,
    remove_batch=1000,
    rates={"default": (Rate(100, 10.0),)},
    can_list=True,
    throttle_wait=10.0,
    field_pattern=r"^[a-z][a-z0-9_]{0,99}$",  # internal property names
    unverified=(
        "maximum record ids per memberships call (1,000 used)",
        "batch upsert limit of 100 inputs",
        "Retry-After on 429 (honoured when present, else the next 10 s window)",
        "list lookup by name (GET /crm/v3/lists/object-type-id/0-1/name/{name}) and creation (POST /crm/v3/lists)",
        "memberships listing shape (results[].recordId, paging.next.after)",
        "207 multi-status with errors[] for batch upsert",
    ),
)


class HubSpotAdapter:
    spec = SPEC

    def __init__(self, token: str, http: Http, *, base_url: str | None = None) -> None:
        if not token:
            raise NotConfigured("hubspot needs token (a private app access token)")
        self.base = (base_url or "https://api.hubapi.com").rstrip("/")
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}
        self._lists: dict[str, str] = {}

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        from segmentation.sync.http import check

        return check(self.http.request(method, f"{self.base}{path}", headers=self.headers, **kwargs), f"hubspot {what}")

    def _list_id(self, name: str) -> str:
        if name not in self._lists:
            from segmentation.sync.http import check

            response = self.http.request(
                "GET", f"{self.base}/crm/v3/lists/object-type-id/0-1/name/{name}", headers=self.headers
            )
            if response.status == 404:
                created = self._call(
                    "POST",
                    "/crm/v3/lists",
                    "create list",
                    json_body={"name": name, "objectTypeId": "0-1", "processingType": "MANUAL"},
                ).json()
                self._lists[name] = str(created["list"]["listId"])
            else:
                found = check(response, "hubspot find list").json()
                if found["list"].get("processingType") not in ("MANUAL", "SNAPSHOT"):
                    raise NotConfigured(f"hubspot list {name!r} is not a static (MANUAL) list")
                self._lists[name] = str(found["list"]["listId"])
        return self._lists[name]

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        inputs = [
            {"id": c.email, "idProperty": "email", "properties": {"email": c.email, **dict(c.fields)}} for c in contacts
        ]
        body = self._call(
            "POST", "/crm/v3/objects/contacts/batch/upsert", "upsert contacts", json_body={"inputs": inputs}
        ).json()
        by_email = {(c.email or "").lower(): c.customer_id for c in contacts}
        out: Outcomes = {}
        for result in body.get("results") or []:
            cid = by_email.get(str((result.get("properties") or {}).get("email", "")).lower())
            if cid:
                out[cid] = ok(str(result["id"]))
        for error in body.get("errors") or []:
            # Validation errors name the inputs they refused; anything else is retried.
            ids = (error.get("context") or {}).get("ids") or []
            for email in ids:
                cid = by_email.get(str(email).lower())
                if cid and cid not in out:
                    message = str(error.get("message") or error.get("category") or "rejected")[:120]
                    out[cid] = terminal(message) if error.get("category") == "VALIDATION_ERROR" else retry(message)
        return out  # inputs with no result and no error are retried by the engine

    def _memberships(self, target: Target, key: str, contacts: list[Contact]) -> Outcomes:
        list_id = self._list_id(target.list_name)
        ids = [c.platform_id for c in contacts]
        body = (
            self._call(
                "PUT",
                f"/crm/v3/lists/{list_id}/memberships/add-and-remove",
                "update list",
                json_body={
                    "recordIdsToAdd": ids if key == "add" else [],
                    "recordIdsToRemove": ids if key == "remove" else [],
                },
            ).json()
            or {}
        )
        missing = {str(i) for i in body.get("recordIdsMissing") or []}
        # Ids neither added nor missing were members already (or not members, for a removal): done.
        return {c.customer_id: stale() if c.platform_id in missing else ok() for c in contacts}

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._memberships(target, "add", contacts)

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._memberships(target, "remove", contacts)

    def list_members(self, target: Target) -> Iterator[str]:
        list_id = self._list_id(target.list_name)
        after: str | None = None
        while True:
            query = {"limit": 250, **({"after": after} if after else {})}
            page = self._call("GET", f"/crm/v3/lists/{list_id}/memberships", "list members", query=query).json()
            for row in page.get("results") or []:
                yield str(row["recordId"])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return


def create(config: Mapping[str, Any], http: Http) -> HubSpotAdapter:
    return HubSpotAdapter(str(config.get("token") or ""), http, base_url=config.get("base_url"))

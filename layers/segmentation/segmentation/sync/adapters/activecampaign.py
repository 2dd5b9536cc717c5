"""ActiveCampaign API v3: membership is a tag on the contact.

Tags carry no consent; lists do (removing someone from a list sets status 2, unsubscribed), so lists are
never used and no list status is ever written.

* Upsert: ``POST /contact/sync`` ``{"contact": {"email", "firstName", ..., "fieldValues": [...]}}`` gives the
  contact id. Mapped fields are ``firstName`` / ``lastName`` / ``phone`` or a custom field's numeric id.
* Add: ``POST /contactTags`` ``{"contactTag": {"contact", "tag"}}``.
* Remove: the link id is looked up first (``GET /contacts/{id}/contactTags``), then
  ``DELETE /contactTags/{contactTagId}``; no link, or a 404, means the tag is already gone.
* Tag ids: ``GET /tags?search=<name>`` (exact name), else ``POST /tags`` (``tagType: contact``), once per container.
* List: ``GET /contacts?tagid=<id>`` (``limit`` / ``offset``).
* Limits: 5 requests per second per account, shared by every key and integration. One contact per call.

Secret ``<prefix>activecampaign``: ``{"api_url": "https://<account>.api-us1.com", "api_token": "..."}``; the
vendor warns against deriving the host from the account name, so store the exact URL from Settings >
Developer (``base_url`` overrides ``<api_url>/api/3``).
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
    stale,
)

_STANDARD_FIELDS = ("firstName", "lastName", "phone")

SPEC = ChannelSpec(
    name="activecampaign",
    title="ActiveCampaign",
    representation="contact tag (never a list: list removal means unsubscribed)",
    auth="Api-Token header; account-specific host",
    throttle_signal="429 above 5 req/s (headers unverified; Retry-After honoured when present)",
    identity="email",
    needs_upsert=True,
    upsert_batch=1,
    add_batch=1,
    remove_batch=1,
    rates={"default": (Rate(5, 1.0),)},
    can_list=True,
    throttle_wait=1.0,  # the limit is per second
    field_pattern=r"^(firstName|lastName|phone|[1-9][0-9]{0,8})$",
    unverified=(
        "rate-limit headers on 429",
        "answer to adding a tag the contact already has (any 2xx is taken as done)",
        "404 for a contact id that no longer exists (taken as a stale id)",
        "member listing by tag (GET /contacts?tagid=)",
    ),
)


class ActiveCampaignAdapter:
    spec = SPEC

    def __init__(self, base: str, token: str, http: Http) -> None:
        if not base or not token:
            raise NotConfigured("activecampaign needs api_url (from Settings > Developer) and api_token")
        self.base = base.rstrip("/")
        self.http = http
        self.headers = {"Api-Token": token}
        self._tags: dict[str, str] = {}

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.http.request(method, f"{self.base}{path}", headers=self.headers, **kwargs)

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        from segmentation.sync.http import check

        return check(self._request(method, path, **kwargs), f"activecampaign {what}").json() or {}

    def _tag_id(self, name: str) -> str:
        if name not in self._tags:
            found = self._call("GET", "/tags", "find tag", query={"search": name})
            for tag in found.get("tags") or []:
                if tag.get("tag") == name and tag.get("tagType", "contact") == "contact":
                    self._tags[name] = str(tag["id"])
                    break
            else:
                body = {"tag": {"tag": name, "tagType": "contact", "description": "Synced segment membership"}}
                self._tags[name] = str(self._call("POST", "/tags", "create tag", json_body=body)["tag"]["id"])
        return self._tags[name]

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        out: Outcomes = {}
        for contact in contacts:
            person: dict[str, Any] = {"email": contact.email}
            custom = []
            for name, value in contact.fields.items():
                if name in _STANDARD_FIELDS:
                    person[name] = value
                else:
                    custom.append({"field": name, "value": value})
            if custom:
                person["fieldValues"] = custom
            answer = self._call("POST", "/contact/sync", "sync contact", json_body={"contact": person})
            out[contact.customer_id] = ok(str(answer["contact"]["id"]))
        return out

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        from segmentation.sync.http import check

        tag = self._tag_id(target.list_name)
        out: Outcomes = {}
        for contact in contacts:
            body = {"contactTag": {"contact": contact.platform_id, "tag": tag}}
            response = self._request("POST", "/contactTags", json_body=body)
            if response.status == 404:
                out[contact.customer_id] = stale("contact not found")
                continue
            check(response, "activecampaign add tag")
            out[contact.customer_id] = ok()
        return out

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        from segmentation.sync.http import check

        tag = self._tag_id(target.list_name)
        out: Outcomes = {}
        for contact in contacts:
            response = self._request("GET", f"/contacts/{contact.platform_id}/contactTags")
            if response.status != 404:  # a contact deleted in ActiveCampaign holds no tag
                links = check(response, "activecampaign find tag link").json() or {}
                for link in links.get("contactTags") or []:
                    if str(link.get("tag")) == tag:
                        gone = self._request("DELETE", f"/contactTags/{link['id']}")
                        if gone.status != 404:
                            check(gone, "activecampaign remove tag")
            out[contact.customer_id] = ok()
        return out

    def list_members(self, target: Target) -> Iterator[str]:
        tag = self._tag_id(target.list_name)
        offset = 0
        while True:
            page = self._call("GET", "/contacts", "list members", query={"tagid": tag, "limit": 100, "offset": offset})
            rows = page.get("contacts") or []
            for row in rows:
                yield str(row["id"])
            offset += len(rows)
            if not rows or offset >= int((page.get("meta") or {}).get("total") or 0):
                return


def create(config: Mapping[str, Any], http: Http) -> ActiveCampaignAdapter:
    api_url = str(config.get("api_url") or "").rstrip("/")
    base = str(config.get("base_url") or (f"{api_url}/api/3" if api_url else ""))
    return ActiveCampaignAdapter(base, str(config.get("api_token") or ""), http)

"""Intercom: membership is a tag on the contact.

Tagging never touches ``unsubscribed_from_emails`` or subscription types, and no consent field is ever sent.

* Upsert (there is no single upsert call, unverified): ``POST /contacts/search`` on ``email``; a match is
  updated with ``PUT /contacts/{id}`` only when the destination maps fields; no match is created with
  ``POST /contacts`` ``{"role": "user", "email", "external_id"}``. Mapped fields are ``name`` / ``phone`` or a
  custom data attribute (anything else, sent under ``custom_attributes``).
* Tag id: ``POST /tags`` ``{"name"}`` creates the tag or returns the existing one; once per container.
* Add: ``POST /contacts/{id}/tags`` ``{"id": <tag id>}``. Remove: ``DELETE /contacts/{id}/tags/{tag_id}``;
  a 404 on removal means the contact (or its tag) is gone already.
* Limits: 10,000 calls per minute per app (25,000 per workspace), enforced in 10-second windows. One contact
  per call. A 429 (``rate_limit_exceeded``) carries ``X-RateLimit-Reset`` (Unix time), waited out.

Secret ``<prefix>intercom``: ``{"access_token": "...", "region": "us" | "eu" | "au", "intercom_version": "2.11"}``
(``base_url`` overrides the regional host, which must match the workspace's region).
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
    Outcomes,
    Rate,
    Target,
    Throttled,
    ok,
    stale,
)

HOSTS = {"us": "https://api.intercom.io", "eu": "https://api.eu.intercom.io", "au": "https://api.au.intercom.io"}
_STANDARD_FIELDS = ("name", "phone")

SPEC = ChannelSpec(
    name="intercom",
    title="Intercom",
    representation="contact tag",
    auth="Bearer access token + Intercom-Version header; US/EU/AU host",
    throttle_signal="429 rate_limit_exceeded with X-RateLimit-Reset (epoch seconds)",
    identity="email",
    needs_upsert=True,
    upsert_batch=1,
    add_batch=1,
    remove_batch=1,
    # 10,000 per minute per private app, spread over 10-second windows (1/6 of the minute each).
    rates={"default": (Rate(1666, 10.0),)},
    can_list=False,
    field_pattern=r"^[A-Za-z0-9_]{1,64}$",
    unverified=(
        "no single upsert call: contacts are searched by email, then created or updated",
        "bulk untag through POST /tags with untag per entry (not used: one contact per call)",
    ),
)


def reset_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds until ``X-RateLimit-Reset`` (Unix time on Intercom's clock)."""
    value = headers.get("X-RateLimit-Reset") or headers.get("x-ratelimit-reset")
    try:
        reset = float(value) if value else None
    except ValueError:
        return None
    if reset is None:
        return None
    return max(1.0, reset - (now if now is not None else time.time()))


class IntercomAdapter:
    spec = SPEC

    def __init__(self, base: str, token: str, version: str, http: Http) -> None:
        if not base or not token:
            raise NotConfigured("intercom needs access_token and a region of us, eu or au")
        self.base = base.rstrip("/")
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}", "Intercom-Version": version}
        self._tags: dict[str, str] = {}

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.base}{path}", headers=self.headers, **kwargs)
        if response.status == 429:
            # Intercom's own wait beats the Retry-After that ``check`` would look for (Intercom sends none).
            raise Throttled(f"intercom {method} {path.split('/')[1]}: 429", reset_wait(response.headers))
        return response

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        from segmentation.sync.http import check

        return check(self._request(method, path, **kwargs), f"intercom {what}").json() or {}

    def _tag_id(self, name: str) -> str:
        if name not in self._tags:
            # POST /tags with a name that exists returns that tag, so this both finds and creates.
            self._tags[name] = str(self._call("POST", "/tags", "tag", json_body={"name": name})["id"])
        return self._tags[name]

    @staticmethod
    def _attributes(contact: Contact) -> dict[str, Any]:
        body: dict[str, Any] = {}
        custom = {}
        for name, value in contact.fields.items():
            if name in _STANDARD_FIELDS:
                body[name] = value
            else:
                custom[name] = value
        if custom:
            body["custom_attributes"] = custom
        return body

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        out: Outcomes = {}
        for contact in contacts:
            query = {"query": {"field": "email", "operator": "=", "value": contact.email}}
            found = self._call("POST", "/contacts/search", "search contact", json_body=query).get("data") or []
            attributes = self._attributes(contact)
            if found:
                contact_id = str(found[0]["id"])
                if attributes:
                    self._call("PUT", f"/contacts/{contact_id}", "update contact", json_body=attributes)
            else:
                body = {"role": "user", "email": contact.email, "external_id": contact.customer_id, **attributes}
                contact_id = str(self._call("POST", "/contacts", "create contact", json_body=body)["id"])
            out[contact.customer_id] = ok(contact_id)
        return out

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        from segmentation.sync.http import check

        tag = self._tag_id(target.list_name)
        out: Outcomes = {}
        for contact in contacts:
            response = self._request("POST", f"/contacts/{contact.platform_id}/tags", json_body={"id": tag})
            if response.status == 404:
                out[contact.customer_id] = stale("contact not found")
                continue
            check(response, "intercom tag contact")
            out[contact.customer_id] = ok()
        return out

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        from segmentation.sync.http import check

        tag = self._tag_id(target.list_name)
        out: Outcomes = {}
        for contact in contacts:
            response = self._request("DELETE", f"/contacts/{contact.platform_id}/tags/{tag}")
            if response.status != 404:  # a deleted contact, or a tag already taken off, holds nothing to remove
                check(response, "intercom untag contact")
            out[contact.customer_id] = ok()
        return out

    def list_members(self, target: Target) -> Iterator[str]:
        raise NotImplementedError("intercom members are not listed (SPEC.can_list is False)")


def create(config: Mapping[str, Any], http: Http) -> IntercomAdapter:
    region = str(config.get("region") or "us").lower()
    base = str(config.get("base_url") or HOSTS.get(region, ""))
    version = str(config.get("intercom_version") or "2.11")
    return IntercomAdapter(base, str(config.get("access_token") or ""), version, http)

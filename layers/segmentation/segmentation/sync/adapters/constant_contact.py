"""Constant Contact API v3: membership is a contact list.

Consent (``email_address.permission_to_send``) is never written. A contact who unsubscribed at Constant
Contact is never re-added: whether the API would re-subscribe them is unverified, so the upsert stops there
(terminal) before any write.

* Upsert: ``GET /contacts?email=<address>&status=all`` (unverified filter) finds an existing contact; an
  unsubscribed one is terminal; an existing one is written only when fields are mapped. A new contact (or a
  mapped-field update) goes through ``POST /contacts/sign_up_form`` ``{"email_address", "list_memberships":
  [<list>], ...}``, the documented create-or-update, which needs a list: the target list itself.
* Add / remove: ``POST /activities/add_list_memberships`` / ``remove_list_memberships`` ``{"source":
  {"contact_ids": [...]}, "list_ids": [<list>]}``, up to 500 contacts. They are asynchronous activities: a
  201/202 means accepted, not applied; an activity that fails later is found by the drift reconciliation.
* List ids: ``GET /contact_lists`` (by name), else ``POST /contact_lists`` (unverified: both not in the
  list-membership guide), once per container. Members: ``GET /contacts?lists=<id>&status=all`` with the
  ``_links.next`` cursor (unverified filter).
* Limits: 4 requests per second (paced here) and 10,000 per day per API key (the day resets at 00:00 UTC;
  left to the 429). A 429 says which in ``error_key``: ``throttled`` (wait a second) or ``quota_exceeded``
  (wait for midnight UTC). No headers.
* Mapped fields: ``first_name``, ``last_name``, ``job_title``, ``company_name``, ``phone_number``.

Secret ``<prefix>constant_contact``: ``{"access_token": "..."}`` (OAuth2, scope ``contact_data``); a refused
token is a configuration error (``base_url`` overrides ``https://api.cc.email/v3``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
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
    all_ok,
    ok,
    terminal,
)

BASE = "https://api.cc.email/v3"
MAX_CONTACTS = 500

SPEC = ChannelSpec(
    name="constant_contact",
    title="Constant Contact",
    representation="contact list (asynchronous membership activities)",
    auth="OAuth2 Bearer (scope contact_data)",
    throttle_signal="429 error_key throttled (per second) or quota_exceeded (daily, until 00:00 UTC)",
    identity="email",
    needs_upsert=True,
    upsert_batch=1,
    add_batch=MAX_CONTACTS,
    remove_batch=MAX_CONTACTS,
    # The daily 10,000 is left to the quota_exceeded answer: a day-long window would keep (and persist) a
    # timestamp per request, and the day resets at midnight UTC rather than rolling.
    rates={"default": (Rate(4, 1.0),)},
    can_list=True,
    throttle_wait=1.0,
    field_pattern=r"^(first_name|last_name|job_title|company_name|phone_number)$",
    unverified=(
        "re-subscription by the API (treated as forbidden: contacts unsubscribed there are terminal)",
        "contact lookup GET /contacts?email=&status=all and member listing GET /contacts?lists=",
        "finding and creating lists through GET/POST /contact_lists",
        "membership activities are not polled: accepted counts as done, drift reconciliation catches failures",
    ),
)


def quota_reset_wait(now: float | None = None) -> float:
    """Seconds to the next 00:00 UTC, when the daily quota resets."""
    current = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    midnight = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (midnight - current).total_seconds())


def _error_key(body: Any) -> str:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("error_key") or "")
    if isinstance(body, dict):
        return str(body.get("error_key") or "")
    return ""


class ConstantContactAdapter:
    spec = SPEC

    def __init__(self, base: str, token: str, http: Http) -> None:
        if not token:
            raise NotConfigured("constant_contact needs access_token")
        self.base = base.rstrip("/")
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}
        self._lists: dict[str, str] = {}

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = path if path.startswith("http") else f"{self.base}{path}"
        response = self.http.request(method, url, headers=self.headers, **kwargs)
        if response.status == 429:
            if _error_key(response.json()) == "quota_exceeded":
                raise Throttled("constant_contact: daily quota exceeded", quota_reset_wait())
            raise Throttled("constant_contact: 429 throttled", 1.0)
        return response

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        from segmentation.sync.http import check

        return check(self._request(method, path, **kwargs), f"constant_contact {what}").json() or {}

    def _list_id(self, name: str) -> str:
        if name not in self._lists:
            page = self._call("GET", "/contact_lists", "find list", query={"limit": 1000, "status": "active"})
            found = next((x for x in page.get("lists") or [] if x.get("name") == name), None)
            if found is None:
                body = {"name": name, "favorite": False, "description": "Synced segment membership"}
                found = self._call("POST", "/contact_lists", "create list", json_body=body)
            self._lists[name] = str(found["list_id"])
        return self._lists[name]

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        list_id = self._list_id(target.list_name)
        out: Outcomes = {}
        for contact in contacts:
            query = {"email": contact.email, "status": "all"}
            found = (self._call("GET", "/contacts", "find contact", query=query).get("contacts")) or []
            if found:
                existing = found[0]
                permission = (existing.get("email_address") or {}).get("permission_to_send")
                if permission == "unsubscribed":
                    out[contact.customer_id] = terminal("unsubscribed at Constant Contact: never re-added")
                    continue
                if not contact.fields:
                    out[contact.customer_id] = ok(str(existing["contact_id"]))
                    continue
            body = {"email_address": contact.email, **contact.fields, "list_memberships": [list_id]}
            answer = self._call("POST", "/contacts/sign_up_form", "sign-up form", json_body=body)
            out[contact.customer_id] = ok(str(answer["contact_id"]))
        return out

    def _activity(self, kind: str, target: Target, contacts: list[Contact]) -> Outcomes:
        body = {
            "source": {"contact_ids": [c.platform_id for c in contacts]},
            "list_ids": [self._list_id(target.list_name)],
        }
        self._call("POST", f"/activities/{kind}_list_memberships", f"{kind} list memberships", json_body=body)
        return all_ok(contacts)

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._activity("add", target, contacts)

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._activity("remove", target, contacts)

    def list_members(self, target: Target) -> Iterator[str]:
        query: Mapping[str, Any] | None = {"lists": self._list_id(target.list_name), "status": "all", "limit": 500}
        path = "/contacts"
        while path:
            page = self._call("GET", path, "list members", query=query)
            for row in page.get("contacts") or []:
                yield str(row["contact_id"])
            following = ((page.get("_links") or {}).get("next") or {}).get("href")
            # The next link is relative to the host and already carries the query (with its cursor).
            path, query = (f"{self.base.rsplit('/v3', 1)[0]}{following}", None) if following else ("", None)


def create(config: Mapping[str, Any], http: Http) -> ConstantContactAdapter:
    return ConstantContactAdapter(str(config.get("base_url") or BASE), str(config.get("access_token") or ""), http)

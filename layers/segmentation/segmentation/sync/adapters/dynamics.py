"""Microsoft Dynamics 365 Customer Insights - Journeys (Dataverse Web API): membership is a static marketing
list (the ``list`` table, member type Contact).

* Token: Microsoft Entra ID client credentials, ``POST {login}/{tenant}/oauth2/v2.0/token`` with scope
  ``{org_url}/.default`` (an application user must exist in the environment). Cached; renewed on 401.
* Upsert (one contact per call): with an alternate key on ``emailaddress1`` (``alternate_key: true`` in the
  secret), ``PATCH /contacts(emailaddress1='...')``; otherwise ``GET /contacts?$filter=emailaddress1 eq '...'``
  (email is not unique in Dataverse: the oldest match is used), then ``PATCH /contacts(<id>)`` with
  ``If-Match: *`` (never creating a contact under a stale id) or ``POST /contacts``. The id comes from the
  ``OData-EntityId`` header. ``donot*`` flags and consent records are never written: a destination's field
  mapping cannot name them.
* Add: ``POST /AddListMembersList`` with the list and up to 100 members (all or nothing: a contact that no
  longer exists fails the call, and the engine halves the batch until that one is alone, then upserts again).
* Remove: ``DELETE /lists(<listid>)/listcontact_association(<contactid>)/$ref``; a 404 means not a member.
* Lists: ``lists`` in the secret maps list names to ids; otherwise the static list is found by ``listname``.
  Lists are never created here (owner, member type and purpose belong to the marketing team).
* List: ``GET /lists(<listid>)/listcontact_association?$select=contactid`` following ``@odata.nextLink``.
* Limits: Dataverse service protection, 6,000 requests per user per 5-minute sliding window (unverified),
  paced here as 20 per second, the same sustained rate. 429 carries ``Retry-After`` (honoured).

Secret ``<prefix>dynamics``: ``{"tenant_id": "...", "client_id": "...", "client_secret": "...",
"org_url": "https://<org>.crm4.dynamics.com", "alternate_key": false, "lists": {"seg-vip": "<guid>"}}``
(``base_url`` overrides ``<org_url>/api/data/v9.2``; ``login_url`` overrides the Entra host).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcomes,
    Rate,
    Rejected,
    Retryable,
    Target,
    all_ok,
    ok,
    stale,
)

_ENTITY_ID = re.compile(r"\(([0-9a-fA-F-]{36})\)\s*$")
_ODATA = {"OData-MaxVersion": "4.0", "OData-Version": "4.0"}

SPEC = ChannelSpec(
    name="dynamics",
    title="Microsoft Dynamics 365 Customer Insights - Journeys",
    representation="static marketing list (list table, member type Contact)",
    auth="Entra ID OAuth2 client credentials, Bearer; org URL",
    throttle_signal="429 + Retry-After (seconds)",
    identity="email",
    needs_upsert=True,
    upsert_batch=1,
    add_batch=100,
    remove_batch=1,
    rates={"default": (Rate(20, 1.0),)},
    can_list=True,
    field_pattern=r"^(?!donot)(?!msdynmkt_)(?!(emailaddress1|contactid|statecode|statuscode)$)[a-z][a-z0-9_]{0,99}$",
    unverified=(
        "members per AddListMembersList call (100 used)",
        "removal by the listcontact_association relationship ($ref delete); RemoveMemberList's Web API binding",
        "whether real-time journeys can target marketing lists",
        "Dataverse limit numbers (6,000 requests / 5 min / user, paced as 20/s)",
        "member listing through listcontact_association",
    ),
)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class DynamicsAdapter:
    spec = SPEC

    def __init__(self, config: Mapping[str, Any], http: Http) -> None:
        self.tenant = str(config.get("tenant_id") or "")
        self.client_id = str(config.get("client_id") or "")
        self.client_secret = str(config.get("client_secret") or "")
        self.org = str(config.get("org_url") or "").rstrip("/")
        if not (self.tenant and self.client_id and self.client_secret and self.org):
            raise NotConfigured("dynamics needs tenant_id, client_id, client_secret and org_url")
        self.base = str(config.get("base_url") or f"{self.org}/api/data/v9.2").rstrip("/")
        self.login = str(config.get("login_url") or "https://login.microsoftonline.com").rstrip("/")
        self.alternate_key = bool(config.get("alternate_key", False))
        self.http = http
        self._lists = {str(k): str(v) for k, v in (config.get("lists") or {}).items()}
        self._token: str | None = None
        self._expires = 0.0

    # ------------------------------------------------------------------------------------------ auth

    def _access_token(self) -> tuple[str, bool]:
        if self._token and time.time() < self._expires:
            return self._token, False
        from segmentation.sync.http import check

        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": f"{self.org}/.default",
            }
        ).encode()
        response = self.http.request(
            "POST",
            f"{self.login}/{self.tenant}/oauth2/v2.0/token",
            raw_body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if response.status in (400, 401):
            raise NotConfigured(f"dynamics token: {response.status} client credentials refused")
        answer = check(response, "dynamics token").json() or {}
        if not answer.get("access_token"):
            raise Retryable("dynamics token: no access_token in the answer")
        self._token = str(answer["access_token"])
        self._expires = time.time() + max(0.0, float(answer.get("expires_in") or 3599) - 60)
        return self._token, True

    def _request(self, method: str, path: str, headers: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
        token, fresh = self._access_token()
        response = self.http.request(
            method,
            f"{self.base}{path}",
            headers={"Authorization": f"Bearer {token}", **_ODATA, **(headers or {})},
            **kwargs,
        )
        if response.status == 401:
            self._token = None
            if fresh:
                raise NotConfigured("dynamics: 401 with a new token (application user missing in the environment?)")
            raise Retryable("dynamics: 401 (token renewed)", 0.0)
        return response

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        from segmentation.sync.http import check

        return check(self._request(method, path, **kwargs), f"dynamics {what}")

    # ------------------------------------------------------------------------------------------ lists

    def _list_id(self, name: str) -> str:
        if name not in self._lists:
            query = {"$select": "listid,type,createdfromcode", "$filter": f"listname eq {_literal(name)}"}
            found = self._call("GET", "/lists", "find list", query=query).json() or {}
            rows = found.get("value") or []
            if not rows:
                raise NotConfigured(f"dynamics has no marketing list named {name!r}: create it, or map it under lists")
            row = rows[0]
            if row.get("type") is not False or row.get("createdfromcode") != 2:
                raise NotConfigured(f"dynamics list {name!r} must be a static list of contacts")
            self._lists[name] = str(row["listid"])
        return self._lists[name]

    # ------------------------------------------------------------------------------------------ operations

    def _entity_id(self, response: Any) -> str:
        match = _ENTITY_ID.search(response.header("OData-EntityId") or "")
        if match is None:
            raise Retryable("dynamics: no OData-EntityId in the answer")
        return match.group(1).lower()

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        out: Outcomes = {}
        for contact in contacts:
            email = (contact.email or "").strip()
            values = {**dict(contact.fields), "emailaddress1": email}
            if self.alternate_key:
                response = self._call(
                    "PATCH", f"/contacts(emailaddress1={quote(_literal(email))})", "upsert contact", json_body=values
                )
                out[contact.customer_id] = ok(self._entity_id(response))
                continue
            query = {
                "$select": "contactid",
                "$filter": f"emailaddress1 eq {_literal(email)}",
                "$orderby": "createdon asc",
                "$top": "1",
            }
            found = (self._call("GET", "/contacts", "find contact", query=query).json() or {}).get("value") or []
            if found:
                contact_id = str(found[0]["contactid"]).lower()
                if contact.fields:
                    self._call(
                        "PATCH",
                        f"/contacts({contact_id})",
                        "update contact",
                        json_body=dict(contact.fields),
                        headers={"If-Match": "*"},  # update only: a stale id must not create a contact
                    )
                out[contact.customer_id] = ok(contact_id)
            else:
                response = self._call("POST", "/contacts", "create contact", json_body=values)
                out[contact.customer_id] = ok(self._entity_id(response))
        return out

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        list_id = self._list_id(target.list_name)
        body = {
            "List": {"@odata.type": "Microsoft.Dynamics.CRM.list", "listid": list_id},
            "Members": [
                {"@odata.type": "Microsoft.Dynamics.CRM.contact", "contactid": c.platform_id} for c in contacts
            ],
        }
        try:
            self._call("POST", "/AddListMembersList", "add list members", json_body=body)
        except Rejected as exc:
            # All or nothing; a contact deleted in Dynamics fails the call. Alone, it is a stale cached id.
            if len(contacts) == 1 and "does not exist" in str(exc).lower():
                return {contacts[0].customer_id: stale()}
            raise
        return all_ok(contacts)

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        from segmentation.sync.http import check

        list_id = self._list_id(target.list_name)
        for contact in contacts:
            response = self._request("DELETE", f"/lists({list_id})/listcontact_association({contact.platform_id})/$ref")
            if response.status != 404:  # not a member (or no such contact): nothing to remove
                check(response, "dynamics remove list member")
        return all_ok(contacts)

    def list_members(self, target: Target) -> Iterator[str]:
        list_id = self._list_id(target.list_name)
        url: str | None = f"{self.base}/lists({list_id})/listcontact_association?$select=contactid"
        while url:
            page = self._call("GET", url.removeprefix(self.base), "list members").json() or {}
            for row in page.get("value") or []:
                yield str(row["contactid"]).lower()
            url = page.get("@odata.nextLink")


def create(config: Mapping[str, Any], http: Http) -> DynamicsAdapter:
    return DynamicsAdapter(config, http)
